package providertest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// RunRunnerTests runs the conformance suite against the runners h makes.
// The tests run in parallel and remove the containers they create.
func RunRunnerTests(t *testing.T, h Harness) {
	t.Helper()
	s := &suite{h: h, r: h.NewRunner(t)}
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"Info", testInfo},
		{"ExitCodes", testExitCodes},
		{"CreateIsIdempotentPerAttempt", testCreateIdempotent},
		{"ListShowsLabels", testListLabels},
		{"StartRunningIsNoError", testStartRunning},
		{"WaitBeforeStart", testWaitBeforeStart},
		{"WaitEndsWithContext", testWaitContext},
		{"StopGraceful", testStopGraceful},
		{"StopKillsAfterGrace", testStopKill},
		{"StopNotRunning", testStopNotRunning},
		{"InspectUnknown", testInspectUnknown},
		{"Remove", testRemove},
		{"LogsInterleavedAndFollowed", testLogs},
		{"OOMKilled", testOOM},
		{"MissingImage", testMissingImage},
		{"MissingCommand", testMissingCommand},
		{"ListAfterRestart", testRestart},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, s)
		})
	}
}

type suite struct {
	h Harness
	r provider.Runner
}

// ignoreTimes leaves StartedAt and FinishedAt to checkTimes.
var ignoreTimes = cmpopts.IgnoreFields(provider.Status{}, "StartedAt", "FinishedAt")

// container returns a new attempt's container that runs p.
func (s *suite) container(p Program) provider.Container {
	now := time.Now()
	c := provider.Container{
		JobID:     berth.NewID("job", now),
		AttemptID: berth.NewID("att", now),
		Node:      "node_conformance",
		Image:     s.h.Image,
		Env:       map[string]string{"BERTH_CONFORMANCE": "1"},
		CPU:       0.5,
		MemoryMB:  64,
		Labels:    map[string]string{"berth.test": "conformance"},
	}
	return p.apply(c)
}

// ctx is the context of one test: it ends with the test, or after two
// minutes, whichever is first.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// create creates c and removes its container when the test ends.
func (s *suite) create(t *testing.T, ctx context.Context, r provider.Runner, c provider.Container) string {
	t.Helper()
	id, err := r.Create(ctx, c)
	if err != nil {
		t.Fatalf("Create(%s) = %v", c.AttemptID, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.Remove(ctx, id); err != nil && !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("cleanup: Remove(%s) = %v", id, err)
		}
	})
	return id
}

// start creates and starts c.
func (s *suite) start(t *testing.T, ctx context.Context, c provider.Container) string {
	t.Helper()
	id := s.create(t, ctx, s.r, c)
	if err := s.r.Start(ctx, id); err != nil {
		t.Fatalf("Start(%s) = %v", id, err)
	}
	return id
}

// run creates, starts and waits for c.
func (s *suite) run(t *testing.T, ctx context.Context, c provider.Container) (string, provider.Status) {
	t.Helper()
	id := s.start(t, ctx, c)
	st, err := s.r.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%s) = %v", id, err)
	}
	return id, st
}

// want is the status of c's container id as it should be.
func want(id string, c provider.Container, state provider.RunState, code int) provider.Status {
	return provider.Status{
		ID: id, JobID: c.JobID, AttemptID: c.AttemptID, Node: c.Node,
		State: state, ExitCode: code,
	}
}

// checkTimes checks that an exited container's times are set and ordered.
func checkTimes(t *testing.T, st provider.Status) {
	t.Helper()
	if st.StartedAt.IsZero() || st.FinishedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
		t.Errorf("%s: StartedAt %v, FinishedAt %v; want both set, in order", st.ID, st.StartedAt, st.FinishedAt)
	}
}

// waitOutput follows id's logs until they contain text.
func (s *suite) waitOutput(t *testing.T, ctx context.Context, id, text string) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var buf syncBuffer
	done := make(chan error, 1)
	go func() { done <- s.r.Logs(ctx, id, &buf) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(buf.String(), text) {
		select {
		case err := <-done:
			if !strings.Contains(buf.String(), text) {
				t.Fatalf("Logs(%s) ended (%v) with %q, before %q", id, err, buf.String(), text)
			}
		case <-ctx.Done():
			t.Fatalf("Logs(%s): %q not seen in %q: %v", id, text, buf.String(), ctx.Err())
		case <-tick.C:
		}
	}
}

// find returns the status in list of attempt.
func find(list []provider.Status, attempt string) (provider.Status, bool) {
	for _, st := range list {
		if st.AttemptID == attempt {
			return st, true
		}
	}
	return provider.Status{}, false
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	// mu guards buf.
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
