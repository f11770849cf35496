package shim

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestArgv(t *testing.T) {
	tests := []struct {
		name                     string
		entrypoint, cmd, command []string
		want                     []string
	}{
		{"cmd only", nil, []string{"sh", "-c", "x"}, nil, []string{"sh", "-c", "x"}},
		{"command overrides cmd", nil, []string{"sh"}, []string{"echo", "hi"}, []string{"echo", "hi"}},
		{"entrypoint only", []string{"/app"}, nil, nil, []string{"/app"}},
		{"entrypoint and cmd", []string{"/app", "-v"}, []string{"serve"}, nil, []string{"/app", "-v", "serve"}},
		{"entrypoint and command", []string{"/app"}, []string{"serve"}, []string{"migrate"}, []string{"/app", "migrate"}},
	}
	for _, tt := range tests {
		got, err := Argv(tt.entrypoint, tt.cmd, tt.command)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%s: Argv(%q, %q, %q) = %q, %v; want %q", tt.name, tt.entrypoint, tt.cmd, tt.command, got, err, tt.want)
		}
	}
	if _, err := Argv(nil, nil, nil); err == nil || !strings.Contains(err.Error(), "no command") {
		t.Errorf("Argv(nothing) = %v, want no command specified", err)
	}
}

func TestEnviron(t *testing.T) {
	base := []string{"PATH=/bin", "HOME=/root", "HOSTNAME=abc"}
	got := Environ(base, map[string]string{"HOME": "/tmp", "B": "2", "A": "1"})
	want := []string{"PATH=/bin", "HOME=/tmp", "HOSTNAME=abc", "A=1", "B=2"}
	if !slices.Equal(got, want) {
		t.Errorf("Environ() = %q, want %q", got, want)
	}
}

func TestLookPath(t *testing.T) {
	files := map[string]bool{"/usr/bin/app": true, "/bin/sh": true}
	executable := func(p string) error {
		if files[p] {
			return nil
		}
		return errors.New("no such file")
	}
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	tests := []struct {
		file, want string
		ok         bool
	}{
		{"app", "/usr/bin/app", true},
		{"sh", "/bin/sh", true},
		{"/bin/sh", "/bin/sh", true},
		{"missing", "", false},
		{"/bin/missing", "", false},
	}
	for _, tt := range tests {
		got, err := lookPath(tt.file, env, executable)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("lookPath(%q) = %q, %v; want %q, ok %v", tt.file, got, err, tt.want, tt.ok)
		}
	}
}

func TestSpecCheck(t *testing.T) {
	s := Spec{ImageID: "sha256:a", CPU: 1, MemoryMB: 128, PIDs: 100}
	ok := Claim{JobID: "j", AttemptID: "a", ImageID: "sha256:a", CPU: 1, MemoryMB: 128, PIDs: 100}
	if why := s.check(ok); why != "" {
		t.Errorf("check(fitting claim) = %q", why)
	}
	for _, bad := range []func(*Claim){
		func(c *Claim) { c.ImageID = "sha256:b" },
		func(c *Claim) { c.CPU = 2 },
		func(c *Claim) { c.MemoryMB = 64 },
		func(c *Claim) { c.PIDs = 0 },
		func(c *Claim) { c.AttemptID = "" },
	} {
		c := ok
		bad(&c)
		if s.check(c) == "" {
			t.Errorf("check(%+v) took a claim that does not fit %+v", c, s)
		}
	}
}
