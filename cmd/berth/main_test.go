package main

import (
	"runtime/debug"
	"strings"
	"testing"

	berth "github.com/berth-run/berth"
)

// TestBareBerth: berth alone lists the commands on stderr and exits 2;
// berth help lists them on stdout.
func TestBareBerth(t *testing.T) {
	in := invocation{}
	r := in.run(t.Context())
	if r.code != 2 || r.stdout != "" || !strings.Contains(r.stderr, "  run ") {
		t.Errorf("berth: exit %d, stdout %q, stderr %q; want 2 and the commands on stderr", r.code, r.stdout, r.stderr)
	}
	if h := in.run(t.Context(), "help"); h.code != 0 || h.stdout != r.stderr {
		t.Errorf("berth help: exit %d, stdout %q; want 0 and the same list", h.code, h.stdout)
	}
}

// TestNoDoubledPrefix: a failing command says "berth CMD:" once.
func TestNoDoubledPrefix(t *testing.T) {
	f := newFakeAPI(t)
	f.next = ending{state: berth.Failed, exitCode: intp(3), reason: "exit code 3"}
	for _, args := range [][]string{
		{"run", "--cpu", "-1", "busybox"}, {"run", "busybox"}, {"run"}, {"logs", "job_9"}, {"status", "job_9"},
		{"cancel", "job_9"}, {"jobs", "x"}, {"schedules", "create", "--cron", "@daily"},
		{"schedules", "delete", "sch_9"}, {"node", "node_9"}, {"node", "drain", "node_9"}, {"submit", "-f", "/nonexistent"},
		{"cost", "--by", "x"}, {"sim"}, {"sim", "deadline"}, {"sim", "--scenario", "/nonexistent"}, {"version", "x"},
	} {
		r := f.cli(t, args...)
		for line := range strings.Lines(r.stderr) {
			if strings.Count(line, "berth "+args[0]+":") > 1 {
				t.Errorf("berth %q: stderr line %q repeats its prefix", args, line)
			}
		}
		if r.code == 0 {
			t.Errorf("berth %q: exit 0, want a failure", args)
		}
	}
	// A subcommand's failure names the subcommand.
	if r := f.cli(t, "schedules", "create", "-f", "/nonexistent"); !strings.HasPrefix(r.stderr, "berth schedules create: open /nonexistent") {
		t.Errorf("berth schedules create -f /nonexistent: stderr %q, want it to name the subcommand", r.stderr)
	}
}

func TestVersion(t *testing.T) {
	in := invocation{}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if r := in.run(t.Context(), args...); r.code != 0 || !strings.HasPrefix(r.stdout, "berth version ") {
			t.Errorf("berth %q: exit %d, stdout %q; want the version", args, r.code, r.stdout)
		}
	}
	info := func(version string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/berth-run/berth", Version: version}}
			for i := 0; i < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	none := func() (*debug.BuildInfo, bool) { return nil, false }
	tests := []struct {
		set  string
		read func() (*debug.BuildInfo, bool)
		want string
	}{
		{"v1.2.0", info("v1.1.0"), "v1.2.0"},
		{"", info("v1.1.0"), "v1.1.0"},
		{"", info("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "false"), "0123456789ab"},
		{"", info("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "true"), "0123456789ab-dirty"},
		{"", info("(devel)"), "dev"},
		{"", none, "dev"},
	}
	for _, tt := range tests {
		if got := buildVersion(tt.set, tt.read); got != tt.want {
			t.Errorf("buildVersion(%q, ...) = %q, want %q", tt.set, got, tt.want)
		}
	}
}
