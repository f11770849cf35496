package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

// twoAttempts is the output of a job that ran twice: stdout and stderr
// interleaved, and a byte that is not UTF-8.
func twoAttempts() []client.LogEntry {
	return []client.LogEntry{
		{Time: t0, Attempt: "att_1", Stream: "stdout", Text: "try 1\n"},
		{Time: t0.Add(time.Second), Attempt: "att_1", Stream: "stderr", Text: "lost the node\n"},
		{Time: t0.Add(time.Minute), Attempt: "att_2", Stream: "stdout", Text: "try 2\n"},
		{Time: t0.Add(time.Minute), Attempt: "att_2", Stream: "stdout", Text: "\ufffd\n", Data: []byte("\xff\n")},
		{Time: t0.Add(time.Minute + time.Second), Attempt: "att_2", Stream: "stderr", Text: "done\n"},
	}
}

// TestLogsAttemptsAndStreams: berth logs writes the job's stdout to
// stdout and its stderr to stderr, byte for byte, each attempt's output
// under a header when there are several; -o json writes the entries.
func TestLogsAttemptsAndStreams(t *testing.T) {
	f := newFakeAPI(t)
	f.next = ending{output: twoAttempts(), state: berth.Succeeded, exitCode: intp(0)}
	f.cli(t, "run", "-d", "busybox").mustSucceed(t)
	f.mu.Lock()
	f.jobs[0].Attempts = []berth.Attempt{{ID: "att_1", Node: "node_1"}, {ID: "att_2", Node: "node_2"}}
	f.mu.Unlock()

	r := f.cli(t, "logs", "job_1").mustSucceed(t)
	wantOut := "==> attempt att_1 on node node_1 <==\ntry 1\n\n==> attempt att_2 on node node_2 <==\ntry 2\n\xff\n"
	if r.stdout != wantOut || r.stderr != "lost the node\ndone\n" {
		t.Errorf("berth logs: stdout %q, stderr %q; want %q and %q", r.stdout, r.stderr, wantOut, "lost the node\ndone\n")
	}

	r = f.cli(t, "logs", "job_1", "-o", "json").mustSucceed(t)
	want := `{"time":"2026-03-01T12:00:00Z","attempt":"att_1","stream":"stdout","text":"try 1\n"}
{"time":"2026-03-01T12:00:01Z","attempt":"att_1","stream":"stderr","text":"lost the node\n"}
{"time":"2026-03-01T12:01:00Z","attempt":"att_2","stream":"stdout","text":"try 2\n"}
{"time":"2026-03-01T12:01:00Z","attempt":"att_2","stream":"stdout","text":"` + "\ufffd" + `\n","data":"/wo="}
{"time":"2026-03-01T12:01:01Z","attempt":"att_2","stream":"stderr","text":"done\n"}
`
	if r.stdout != want || r.stderr != "" {
		t.Errorf("berth logs -o json: stdout %q, stderr %q; want %q and none", r.stdout, r.stderr, want)
	}

	// One attempt: no header.
	f.mu.Lock()
	f.jobs[0].Attempts = f.jobs[0].Attempts[:1]
	f.endings["job_1"].output = twoAttempts()[:2]
	f.mu.Unlock()
	if r := f.cli(t, "logs", "-f", "job_1").mustSucceed(t); r.stdout != "try 1\n" || r.stderr != "lost the node\n" {
		t.Errorf("berth logs -f of one attempt: stdout %q, stderr %q; want its output alone", r.stdout, r.stderr)
	}
}

// TestRunSeparatesStreams: berth run writes the job's stdout to its stdout
// and its stderr to its stderr, as docker run does, byte for byte.
func TestRunSeparatesStreams(t *testing.T) {
	f := newFakeAPI(t)
	f.next = ending{output: twoAttempts(), state: berth.Succeeded, exitCode: intp(0)}
	r := f.cli(t, "run", "busybox").mustSucceed(t)
	if want := "try 1\ntry 2\n\xff\n"; r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}
	if want := "lost the node\ndone\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
}

// TestRunTellsWhyItWaits: a job that waits to start has its reason told on
// stderr once it has waited 2 s, then each time the reason changes.
func TestRunTellsWhyItWaits(t *testing.T) {
	f := newFakeAPI(t)
	f.next = ending{
		waits: []string{"waiting for capacity: A", "waiting for capacity: A", "waiting for capacity: A",
			"waiting for capacity: B\nsecond line", "waiting for capacity: B\nsecond line"},
		logs: "hello\n", state: berth.Succeeded, exitCode: intp(0),
	}
	// Each reading of the clock is a second later: the first is the
	// submission, the first poll is at 1 s.
	var mu sync.Mutex
	clock := now
	in := f.against()
	in.clock = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	r := in.run(t.Context(), "run", "busybox").mustSucceed(t)
	want := "berth run: job job_1 queued: waiting for capacity: A\n" +
		"berth run: job job_1 queued: waiting for capacity: B\\nsecond line\n"
	if r.stdout != "hello\n" || r.stderr != want {
		t.Errorf("stdout %q, stderr %q; want hello and\n%s", r.stdout, r.stderr, want)
	}
	if strings.Count(r.stderr, "A\n") != 1 {
		t.Errorf("the first reason was told %d times, want once", strings.Count(r.stderr, "A\n"))
	}
}
