package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

func TestSizes(t *testing.T) {
	cpus := map[float64]string{0: "0 vCPU", 0.5: "0.5 vCPU", 1000: "1000 vCPU", 1e6: "1000000 vCPU", 0.1 + 0.2: "0.3 vCPU", 2.125: "2.13 vCPU"}
	for v, want := range cpus {
		if got := cpu(v); got != want {
			t.Errorf("cpu(%v) = %q, want %q", v, got, want)
		}
	}
	mems := map[int64]string{0: "0 MiB", 256: "256 MiB", 1023: "1023 MiB", 1024: "1 GiB", 1536: "1.5 GiB",
		9728 << 10: "9.5 TiB", 16 << 20: "16 TiB", 1 << 30: "1 PiB", 3 << 30 / 2: "1.5 PiB"}
	for v, want := range mems {
		if got := mem(v); got != want {
			t.Errorf("mem(%d) = %q, want %q", v, got, want)
		}
	}
}

// TestTablesEscape: what users name (jobs, labels, nodes, pools) cannot
// write control characters to the terminal through a table; ordinary
// text, non-ASCII letters and backslashes included, is left as it is.
func TestTablesEscape(t *testing.T) {
	tests := map[string]string{
		"plain":              "plain",
		"café ☕ a\\b":        "café ☕ a\\b",
		"two\nlines":         `two\nlines`,
		"\x1b[31mred\x1b[0m": `\x1b[31mred\x1b[0m`,
		"tab\there":          `tab\there`,
		"bad \xff byte":      `bad \xff byte`,
		"next\u0085line":     `next\u0085line`,
	}
	for in, want := range tests {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	f := newFakeAPI(t)
	f.addJob(berth.Job{ID: "job_1", JobSpec: berth.JobSpec{Name: "evil\x1b]0;pwned\a", Image: "busybox"}, State: berth.Queued,
		Reason: "waiting\x1b[2J", CreatedAt: t0})
	r := f.cli(t, "jobs").mustSucceed(t)
	want := "ID      NAME                 IMAGE     STATE    AGE   REASON\n" +
		`job_1   evil\x1b]0;pwned\a   busybox   queued   1h    waiting\x1b[2J` + "\n"
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("berth jobs (-want +got):\n%s", diff)
	}
	r = f.cli(t, "status", "job_1").mustSucceed(t)
	if strings.ContainsAny(r.stdout, "\x1b\a") || !strings.Contains(r.stdout, `Name:      evil\x1b]0;pwned\a`) {
		t.Errorf("berth status writes control characters:\n%q", r.stdout)
	}
}
