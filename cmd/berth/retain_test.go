package main

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/control"
)

func TestRetainFlag(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"720h", 720 * time.Hour, ""},
		{"1m", time.Minute, ""},
		{"90m", 90 * time.Minute, ""},
		{"forever", control.Forever, ""},
		{"0", 0, "shorter than a minute"},
		{"0s", 0, "shorter than a minute"},
		{"59s", 0, "shorter than a minute"},
		{"-1h", 0, "shorter than a minute"},
		{"30d", 0, "not a duration"},
		{"never", 0, "not a duration"},
	} {
		d := control.DefaultRetain
		err := retainFlag{&d}.Set(tt.in)
		switch {
		case tt.err == "" && (err != nil || d != tt.want):
			t.Errorf("--retain %s = %v, %v; want %v", tt.in, d, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || d != control.DefaultRetain):
			t.Errorf("--retain %s = %v, %v; want an error saying %q, and the default kept", tt.in, d, err, tt.err)
		}
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{control.DefaultRetain, "720h"}, {control.Forever, "forever"}, {90 * time.Minute, "1h30m"}} {
		if got := (retainFlag{&tt.d}).String(); got != tt.want {
			t.Errorf("retainFlag(%v).String() = %q, want %q", tt.d, got, tt.want)
		}
	}
}
