package cron

import (
	"strings"
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNext(t *testing.T) {
	paris := mustLoad(t, "Europe/Paris")
	ny := mustLoad(t, "America/New_York")
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		expr  string
		loc   *time.Location
		after string
		want  string
	}{
		{"*/5 * * * *", nil, "2026-01-01T00:02:00Z", "2026-01-01T00:05:00Z"},
		{"*/5 * * * *", nil, "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z"},
		{"0 2 * * *", paris, "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"}, // 02:00 CEST = 00:00Z
		{"0 2 * * *", paris, "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"}, // 02:00 CET = 01:00Z
		{"@daily", ny, "2026-01-01T00:00:00Z", "2026-01-01T05:00:00Z"},
		{"@hourly", nil, "2026-01-01T00:30:00Z", "2026-01-01T01:00:00Z"},
		// Day of month OR day of week: the 15th, or any Monday.
		{"0 0 15 * 1", nil, "2026-06-09T00:00:00Z", "2026-06-15T00:00:00Z"},
		{"0 0 15 * 1", nil, "2026-06-01T12:00:00Z", "2026-06-08T00:00:00Z"},
		{"0 9 * * mon-fri", nil, "2026-11-21T00:00:00Z", "2026-11-23T09:00:00Z"}, // from a Saturday
	}
	for _, tt := range tests {
		x, err := Parse(tt.expr, tt.loc)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", tt.expr, err)
		}
		if got := x.Next(at(tt.after)); !got.Equal(at(tt.want)) {
			t.Errorf("Parse(%q, %v).Next(%s) = %s, want %s", tt.expr, tt.loc, tt.after, got.Format(time.RFC3339), tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, expr := range []string{
		"", "   ", "* * * *", "61 * * * *", "* 24 * * *", "* * 32 * *", "* * * 13 *",
		"* * * * 8", "@often", "@every 5m", "TZ=UTC * * * * *", "0 0 30 2 *", "a b c d e",
	} {
		if _, err := Parse(expr, nil); err == nil {
			t.Errorf("Parse(%q) = nil error, want an error", expr)
		} else if strings.Contains(err.Error(), "panic") {
			t.Errorf("Parse(%q) error %v mentions a panic", expr, err)
		}
	}
}

// FuzzParse checks that no input makes Parse panic, and that what parses
// runs in the future and in order.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"*/5 * * * *", "0 2 * * *", "@daily", "0 0 15 * 1", "1-5/2 */3 1,15 jan-jun mon", "0 0 31 2 *", "* * * * * *", "@every 1s"} {
		f.Add(s)
	}
	start := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		x, err := Parse(expr, paris)
		if err != nil {
			return
		}
		n1 := x.Next(start)
		if !n1.After(start) {
			t.Fatalf("Parse(%q).Next(%s) = %s, not after", expr, start, n1)
		}
		if n2 := x.Next(n1); !n2.IsZero() && !n2.After(n1) {
			t.Fatalf("Parse(%q).Next(%s) = %s, not after", expr, n1, n2)
		}
	})
}
