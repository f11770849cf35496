package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

func TestSubmitFiles(t *testing.T) {
	runAt := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	full := berth.JobSpec{
		Name: "2026-05-01", Image: "busybox", Command: []string{"sh", "-c", "echo hi"},
		Env: map[string]string{"MODE": "fast", "N": "3"}, CPU: 0.25, MemoryMB: 128,
		Timeout: berth.Duration(90 * time.Second),
		Retries: berth.RetryPolicy{Attempts: 3, Backoff: berth.Duration(5 * time.Second), OnExitCodes: []int{2}},
		RunAt:   &runAt, Labels: map[string]string{"team": "data"},
	}
	tests := []struct {
		name, file string
		want       berth.JobSpec
	}{{
		name: "json",
		file: `{"name":"2026-05-01","image":"busybox","command":["sh","-c","echo hi"],"env":{"MODE":"fast","N":"3"},
			"cpu":0.25,"memory_mb":128,"timeout":"90s","retries":{"attempts":3,"backoff":"5s","on_exit_codes":[2]},
			"run_at":"2026-05-01T02:00:00Z","labels":{"team":"data"}}`,
		want: full,
	}, {
		name: "yaml",
		file: `# a job
name: 2026-05-01          # stays a string
image: busybox
command: [sh, -c, echo hi]
env:
  MODE: fast
  N: "3"
cpu: 0.25
memory_mb: 128
timeout: 90s
retries:
  attempts: 3
  backoff: 5s
  on_exit_codes: [2]
run_at: 2026-05-01T02:00:00Z
labels: {team: data}
`,
		want: full,
	}, {
		name: "yaml in flow style",
		file: "{image: busybox, name: a}",
		want: berth.JobSpec{Image: "busybox", Name: "a"},
	}, {
		name: "yaml with an alias",
		file: "image: &img busybox\nname: *img\n",
		want: berth.JobSpec{Image: "busybox", Name: "busybox"},
	}, {
		name: "yaml scalars bound for strings keep their text",
		file: "image: busybox\ncommand: [true, 1.10, 0x1F, ~]\nenv: {DEBUG: yes, N: 007}\nlabels: {version: 1.0}\n",
		want: berth.JobSpec{Image: "busybox", Command: []string{"true", "1.10", "0x1F", ""},
			Env: map[string]string{"DEBUG": "yes", "N": "007"}, Labels: map[string]string{"version": "1.0"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			path := filepath.Join(t.TempDir(), "job")
			if err := os.WriteFile(path, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			r := f.cli(t, "submit", "-f", path).mustSucceed(t)
			if r.stdout != "job_1\n" {
				t.Errorf("stdout = %q, want the job id", r.stdout)
			}
			if diff := cmp.Diff([]berth.JobSpec{tt.want}, f.submitted()); diff != "" {
				t.Errorf("submitted spec mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSubmitStdinJSONOutput(t *testing.T) {
	f := newFakeAPI(t)
	in := f.against()
	in.stdin = "image: busybox\ncommand: [true]\n"
	r := in.run(t.Context(), "submit", "-f", "-", "-o", "json").mustSucceed(t)
	var job berth.Job
	if err := json.Unmarshal([]byte(r.stdout), &job); err != nil {
		t.Fatalf("stdout is not a job: %v\n%s", err, r.stdout)
	}
	if job.ID != "job_1" || job.Image != "busybox" || job.State != berth.Queued {
		t.Errorf("job = %+v, want job_1 of busybox, queued", job)
	}
}

func TestSubmitRejects(t *testing.T) {
	tests := []struct {
		name, file, err string
	}{
		{"unknown json field", `{"image":"busybox","cpus":2}`, "cpus: unknown field"},
		{"unknown nested yaml field", "image: busybox\nretries:\n  attempt: 2\n", "retries.attempt: unknown field"},
		{"unknown object field", `{"image":"busybox","command":["a"],"x":{"y":1}}`, "x: unknown field"},
		{"key given twice", `{"image":"busybox","image":"alpine"}`, "image: is given twice in the same object"},
		{"bad duration names the field", "image: busybox\ntimeout: 10q\n", `timeout: "10q" is not a duration`},
		{"bad nested duration", "image: busybox\nretries: {backoff: soon}\n", `retries.backoff: "soon" is not a duration`},
		{"bad time names the field", "image: busybox\nrun_at: tomorrow\n", `run_at: "tomorrow" is not an RFC 3339 time`},
		{"wrong type names the field", `{"image":"busybox","memory_mb":"lots"}`, "memory_mb: want a whole number, not a string"},
		{"wrong type in a map", `{"image":"busybox","env":{"DEBUG":true}}`, "env.DEBUG: want a string, not a boolean"},
		{"fraction for a whole number", `{"image":"busybox","priority":1.5}`, "priority: want a whole number, not 1.5"},
		{"object for a list", "image: busybox\ncommand: {a: b}\n", "command: want a list of strings, not an object"},
		{"string for a number in yaml", "image: busybox\ncpu: \"1\"\n", "cpu: want a number, not a string"},
		{"duplicate yaml key", "image: a\nimage: b\n", `line 2: key "image" appears twice`},
		{"two yaml documents", "image: a\n---\nimage: b\n", "more than one YAML document"},
		{"two json values", `{"image":"a"} {"image":"b"}`, "more than one JSON value"},
		{"json syntax", "{\n\"image\": \"a\"\n\"cpu\": 1}", `malformed JSON at line 3: invalid character '"' after object key:value pair`},
		{"truncated json", `{"image": "a"`, "malformed JSON: it ends early"},
		{"yaml syntax", "image: [a\n", "malformed YAML: line 1"},
		{"not an object", "- a\n- b\n", "want an object of fields, not a list"},
		{"empty", "  \n", "stdin: the document is empty"},
		{"invalid spec is refused by the server", "image: busybox\ncpu: -1\n", "cpu: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t)
			in := f.against()
			in.stdin = tt.file
			r := in.run(t.Context(), "submit", "-f", "-")
			if r.code != 1 || !strings.Contains(r.stderr, tt.err) {
				t.Errorf("exit %d, stderr %q; want exit 1 and %q", r.code, r.stderr, tt.err)
			}
			wantCalls := 0 // a file the CLI can tell is wrong does not reach the server
			if strings.Contains(tt.name, "refused by the server") {
				wantCalls = 1
			}
			if calls := f.callLog(); len(calls) != wantCalls {
				t.Errorf("calls = %q, want %d", calls, wantCalls)
			}
		})
	}
}

func TestSubmitUsage(t *testing.T) {
	f := newFakeAPI(t)
	for _, args := range [][]string{{"submit"}, {"submit", "-f", "x", "extra"}} {
		if r := f.cli(t, args...); r.code != 2 || !strings.Contains(r.stderr, "want -f FILE") {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 and usage", args, r.code, r.stderr)
		}
	}
	if r := f.cli(t, "submit", "-f", filepath.Join(t.TempDir(), "missing.yaml")); r.code != 1 || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("missing file: exit %d, stderr %q", r.code, r.stderr)
	}
}
