package main

import (
	"slices"
	"strings"
	"testing"

	berth "github.com/berth-run/berth"
)

func TestReorder(t *testing.T) {
	withValue := map[string]bool{"deadline": true, "o": true, "name": true}
	tests := []struct {
		args    []string
		maxArgs int
		want    []string
	}{
		{[]string{"ID", "--deadline", "5m"}, -1, []string{"--deadline", "5m", "--", "ID"}},
		{[]string{"ID", "-f"}, -1, []string{"-f", "--", "ID"}},
		{[]string{"a", "-o=json", "b"}, -1, []string{"-o=json", "--", "a", "b"}},
		{[]string{"a", "--", "-f", "b"}, -1, []string{"--", "a", "-f", "b"}},
		{[]string{"-", "-f"}, -1, []string{"-f", "--", "-"}},
		{[]string{"-f"}, -1, []string{"-f"}},
		{[]string{"ID", "-o"}, -1, []string{"-o"}}, // -o lacks its value: the flag package says so
		// IMAGE [-- CMD...]: flags until the command starts.
		{[]string{"busybox", "--name", "x", "-d"}, 1, []string{"--name", "x", "-d", "--", "busybox"}},
		{[]string{"busybox", "-d", "echo", "-n", "hi"}, 1, []string{"-d", "--", "busybox", "echo", "-n", "hi"}},
		{[]string{"busybox", "-d", "--", "-x"}, 1, []string{"-d", "--", "busybox", "--", "-x"}},
		{[]string{"-d", "--", "busybox", "--", "--"}, 1, []string{"-d", "--", "busybox", "--", "--"}},
	}
	for _, tt := range tests {
		if got := reorder(tt.args, withValue, tt.maxArgs); !slices.Equal(got, tt.want) {
			t.Errorf("reorder(%q, %d) = %q, want %q", tt.args, tt.maxArgs, got, tt.want)
		}
	}
}

// TestFlagsAfterArguments: every command takes its flags after its
// arguments too; berth run and schedules create take them after IMAGE,
// until the container's command starts.
func TestFlagsAfterArguments(t *testing.T) {
	f := newFakeAPI(t)
	f.next = ending{logs: "hi\n", state: berth.Succeeded, exitCode: intp(0)}
	f.cli(t, "run", "busybox", "-d", "--name", "late", "--memory", "1g", "--", "echo", "-n", "hi").mustSucceed(t)
	f.cli(t, "run", "busybox", "--label", "a=b", "-d", "sh", "-c", "echo -d").mustSucceed(t)
	got := f.submitted()
	if got[0].Name != "late" || got[0].MemoryMB != 1024 || !slices.Equal(got[0].Command, []string{"echo", "-n", "hi"}) {
		t.Errorf("run IMAGE FLAGS -- CMD: submitted %+v", got[0])
	}
	if got[1].Labels["a"] != "b" || !slices.Equal(got[1].Command, []string{"sh", "-c", "echo -d"}) {
		t.Errorf("run IMAGE FLAGS CMD: submitted %+v", got[1])
	}
	if r := f.cli(t, "logs", "job_1", "-f").mustSucceed(t); r.stdout != "hi\n" {
		t.Errorf("logs ID -f: stdout %q", r.stdout)
	}
	if r := f.cli(t, "status", "job_1", "-o", "json").mustSucceed(t); !strings.HasPrefix(r.stdout, "{") {
		t.Errorf("status ID -o json: stdout %q, want JSON", r.stdout)
	}
	f.cli(t, "schedules", "create", "busybox", "--cron", "@daily", "--", "echo", "-n").mustSucceed(t)
	if s := f.schedules[0]; s.Cron != "@daily" || !slices.Equal(s.Job.Command, []string{"echo", "-n"}) {
		t.Errorf("schedules create IMAGE --cron: created %+v", s)
	}
	if r := f.cli(t, "cancel", "--", "-weird"); r.code != 1 || !strings.Contains(r.stderr, "-weird") {
		t.Errorf("cancel -- -weird: exit %d, stderr %q; want the id taken as an id", r.code, r.stderr)
	}
}

// TestMistypedFlags: a flag that does not exist gets one line naming the
// closest one, and exit code 2; a bad value names its flag.
func TestMistypedFlags(t *testing.T) {
	f := newFakeAPI(t)
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"run", "--retires", "2", "busybox"}, "berth run: unknown flag --retires; did you mean --retries?\n"},
		{[]string{"run", "busybox", "--detatch"}, "berth run: unknown flag --detatch; did you mean --detach?\n"},
		{[]string{"logs", "job_1", "--folow"}, "berth logs: unknown flag --folow; did you mean --follow?\n"},
		{[]string{"jobs", "--stat", "running"}, "berth jobs: unknown flag --stat; did you mean --state?\n"},
		{[]string{"jobs", "-State", "running"}, "berth jobs: unknown flag --State; did you mean --state?\n"},
		{[]string{"run", "--mem", "1g", "busybox"}, "berth run: unknown flag --mem; did you mean --memory?\n"},
		{[]string{"run", "--memory-mb", "512", "busybox"}, "berth run: unknown flag --memory-mb; did you mean --memory?\n"},
		{[]string{"run", "--colour", "busybox"}, "berth run: unknown flag --colour; see berth run -h\n"},
		{[]string{"run", "-x", "busybox"}, "berth run: unknown flag -x; see berth run -h\n"},
		{[]string{"run", "--cpu", "lots", "busybox"}, "berth run: --cpu \"lots\": want a number\n"},
		{[]string{"run", "--timeout", "10", "busybox"}, "berth run: --timeout \"10\": want a duration such as 90s or 10m\n"},
		{[]string{"run", "--memory", "2x", "busybox"}, "berth run: --memory \"2x\": \"2x\" is not a memory size such as 512m or 2g\n"},
		{[]string{"run", "-d=maybe", "busybox"}, "berth run: -d \"maybe\": want true or false\n"},
		{[]string{"jobs", "-o"}, "berth jobs: flag -o needs a value; see berth jobs -h\n"},
		{[]string{"sim", "--senario", "x.yaml"}, "berth sim: unknown flag --senario; did you mean --scenario?\n"},
	}
	for _, tt := range tests {
		if r := f.cli(t, tt.args...); r.code != 2 || r.stderr != tt.stderr || r.stdout != "" {
			t.Errorf("berth %q: exit %d, stderr %q; want exit 2 and %q", tt.args, r.code, r.stderr, tt.stderr)
		}
	}
	if calls := f.callLog(); len(calls) != 0 {
		t.Errorf("calls = %q, want none", calls)
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512", 512, true},
		{"512m", 512, true},
		{"512M", 512, true},
		{"512mb", 512, true},
		{"2g", 2048, true},
		{"2GiB", 2048, true},
		{"1.5g", 1536, true},
		{"1t", 1 << 20, true},
		{"1048576k", 1024, true},
		{"1536k", 2, true}, // rounded up to whole MiB
		{"0", 0, true},
		{"", 0, false},
		{"g", 0, false},
		{"2x", 0, false},
		{"-1g", 0, false},
		{"1e3", 0, false},
		{"99999t", 0, false},
	}
	for _, tt := range tests {
		got, err := parseMemory(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("parseMemory(%q) = %d, %v; want %d (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
