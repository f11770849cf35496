package providertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
	"github.com/google/go-cmp/cmp"
)

// The cases of RunRunnerTests, one function each.

func testInfo(t *testing.T, s *suite) {
	got, err := s.r.Info(testCtx(t))
	if err != nil {
		t.Fatalf("Info() = %v", err)
	}
	if got.CPU <= 0 || got.MemoryMB <= 0 {
		t.Errorf("Info() = %+v, want positive CPU and memory", got)
	}
}

func testExitCodes(t *testing.T, s *suite) {
	for _, code := range []int{0, 1, 3, 42} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			c := s.container(s.h.Exit(code))
			id, got := s.run(t, testCtx(t), c)
			if diff := cmp.Diff(want(id, c, provider.Exited, code), got, ignoreTimes); diff != "" {
				t.Errorf("Wait() mismatch (-want +got):\n%s", diff)
			}
			checkTimes(t, got)
		})
	}
}

func testCreateIdempotent(t *testing.T, s *suite) {
	ctx := testCtx(t)
	c := s.container(s.h.Exit(0))
	id := s.create(t, ctx, s.r, c)
	for i, r := range []provider.Runner{s.r, s.h.NewRunner(t)} {
		again, err := r.Create(ctx, c)
		if err != nil || again != id {
			t.Errorf("Create #%d of attempt %s = %q, %v; want %q, nil", i+2, c.AttemptID, again, err, id)
		}
	}
	got, err := s.r.Inspect(ctx, id)
	if err != nil {
		t.Fatalf("Inspect(%s) = %v", id, err)
	}
	if diff := cmp.Diff(want(id, c, provider.Created, 0), got, ignoreTimes); diff != "" {
		t.Errorf("Inspect() mismatch (-want +got):\n%s", diff)
	}
	list, err := s.r.List(ctx)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	n := 0
	for _, st := range list {
		if st.AttemptID == c.AttemptID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("List() has %d containers of attempt %s, want 1", n, c.AttemptID)
	}

	other := s.container(s.h.Exit(0))
	if id2 := s.create(t, ctx, s.r, other); id2 == id {
		t.Errorf("Create of another attempt = %q, the first attempt's container", id2)
	}
}

func testListLabels(t *testing.T, s *suite) {
	ctx := testCtx(t)
	created := s.container(s.h.Exit(0))
	createdID := s.create(t, ctx, s.r, created)
	exited := s.container(s.h.Exit(3))
	exitedID, _ := s.run(t, ctx, exited)
	running := s.container(s.h.Sleep(time.Minute))
	runningID := s.start(t, ctx, running)

	list, err := s.r.List(ctx)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	for _, w := range []provider.Status{
		want(createdID, created, provider.Created, 0),
		want(exitedID, exited, provider.Exited, 3),
		want(runningID, running, provider.Running, 0),
	} {
		got, ok := find(list, w.AttemptID)
		if !ok {
			t.Errorf("List() lacks attempt %s", w.AttemptID)
			continue
		}
		if diff := cmp.Diff(w, got, ignoreTimes); diff != "" {
			t.Errorf("List() entry of %s mismatch (-want +got):\n%s", w.AttemptID, diff)
		}
	}
}

func testStartRunning(t *testing.T, s *suite) {
	ctx := testCtx(t)
	id := s.start(t, ctx, s.container(s.h.Sleep(time.Minute)))
	if err := s.r.Start(ctx, id); err != nil {
		t.Errorf("Start of a running container = %v, want nil", err)
	}
	st, err := s.r.Inspect(ctx, id)
	if err != nil || st.State != provider.Running {
		t.Errorf("Inspect() = %v, %v; want running", st.State, err)
	}
}

func testWaitBeforeStart(t *testing.T, s *suite) {
	ctx := testCtx(t)
	c := s.container(s.h.Exit(7))
	id := s.create(t, ctx, s.r, c)
	type result struct {
		st  provider.Status
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := s.r.Wait(ctx, id)
		done <- result{st, err}
	}()
	select {
	case res := <-done:
		t.Fatalf("Wait() of a created container returned %+v, %v before Start", res.st, res.err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := s.r.Start(ctx, id); err != nil {
		t.Fatalf("Start(%s) = %v", id, err)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("Wait(%s) = %v", id, res.err)
	}
	if diff := cmp.Diff(want(id, c, provider.Exited, 7), res.st, ignoreTimes); diff != "" {
		t.Errorf("Wait() mismatch (-want +got):\n%s", diff)
	}
}

func testWaitContext(t *testing.T, s *suite) {
	ctx := testCtx(t)
	id := s.start(t, ctx, s.container(s.h.Sleep(time.Minute)))
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err := s.r.Wait(wctx, id)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait() past its deadline = %v, want context.DeadlineExceeded", err)
	}
}

func testStopGraceful(t *testing.T, s *suite) {
	ctx := testCtx(t)
	c := s.container(s.h.TrapTerm())
	id := s.start(t, ctx, c)
	s.waitOutput(t, ctx, id, "ready")
	begin := time.Now()
	if err := s.r.Stop(ctx, id, 30*time.Second); err != nil {
		t.Fatalf("Stop(%s) = %v", id, err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Errorf("Stop of a container that exits on SIGTERM took %v", took)
	}
	got, err := s.r.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%s) = %v", id, err)
	}
	if diff := cmp.Diff(want(id, c, provider.Exited, 143), got, ignoreTimes); diff != "" {
		t.Errorf("Wait() after SIGTERM mismatch (-want +got):\n%s", diff)
	}
}

func testStopKill(t *testing.T, s *suite) {
	ctx := testCtx(t)
	c := s.container(s.h.IgnoreTerm())
	id := s.start(t, ctx, c)
	s.waitOutput(t, ctx, id, "ready")
	const grace = time.Second
	begin := time.Now()
	if err := s.r.Stop(ctx, id, grace); err != nil {
		t.Fatalf("Stop(%s) = %v", id, err)
	}
	if took := time.Since(begin); took < grace*9/10 {
		t.Errorf("Stop of a container that ignores SIGTERM took %v, want the grace of %v", took, grace)
	}
	got, err := s.r.Wait(ctx, id)
	if err != nil {
		t.Fatalf("Wait(%s) = %v", id, err)
	}
	if diff := cmp.Diff(want(id, c, provider.Exited, 137), got, ignoreTimes); diff != "" {
		t.Errorf("Wait() after SIGKILL mismatch (-want +got):\n%s", diff)
	}
}

func testStopNotRunning(t *testing.T, s *suite) {
	ctx := testCtx(t)
	exitedID, _ := s.run(t, ctx, s.container(s.h.Exit(0)))
	createdID := s.create(t, ctx, s.r, s.container(s.h.Exit(0)))
	for _, id := range []string{exitedID, createdID} {
		if err := s.r.Stop(ctx, id, time.Second); err != nil {
			t.Errorf("Stop(%s) of a container not running = %v, want nil", id, err)
		}
	}
}

func testInspectUnknown(t *testing.T, s *suite) {
	ctx := testCtx(t)
	id := "berth-unknown-" + berth.NewID("c", time.Now())
	if _, err := s.r.Inspect(ctx, id); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Inspect(%s) = %v, want ErrNotFound", id, err)
	}
	if err := s.r.Remove(ctx, id); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Remove(%s) = %v, want ErrNotFound", id, err)
	}
}

func testRemove(t *testing.T, s *suite) {
	ctx := testCtx(t)
	running := s.container(s.h.Sleep(time.Minute))
	created := s.container(s.h.Exit(0))
	ids := []string{s.start(t, ctx, running), s.create(t, ctx, s.r, created)}
	for _, id := range ids {
		if err := s.r.Remove(ctx, id); err != nil {
			t.Errorf("Remove(%s) = %v", id, err)
		}
		if _, err := s.r.Inspect(ctx, id); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("Inspect(%s) after Remove = %v, want ErrNotFound", id, err)
		}
		if err := s.r.Remove(ctx, id); !errors.Is(err, provider.ErrNotFound) {
			t.Errorf("second Remove(%s) = %v, want ErrNotFound", id, err)
		}
	}
	list, err := s.r.List(ctx)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	for _, c := range []provider.Container{running, created} {
		if st, ok := find(list, c.AttemptID); ok {
			t.Errorf("List() after Remove has %+v", st)
		}
	}
}

func testLogs(t *testing.T, s *suite) {
	ctx := testCtx(t)
	lines := []Line{{false, "one"}, {true, "two"}, {false, "three"}, {true, "four"}}
	id := s.start(t, ctx, s.container(s.h.Print(lines, 300*time.Millisecond)))
	const want = "one\ntwo\nthree\nfour\n"

	// Followed from the start: the later lines are written after Logs
	// began.
	var followed bytes.Buffer
	if err := s.r.Logs(ctx, id, &followed); err != nil {
		t.Fatalf("Logs(%s) = %v", id, err)
	}
	if got := followed.String(); got != want {
		t.Errorf("Logs() while running = %q, want %q", got, want)
	}

	if _, err := s.r.Wait(ctx, id); err != nil {
		t.Fatalf("Wait(%s) = %v", id, err)
	}
	var after bytes.Buffer
	if err := s.r.Logs(ctx, id, &after); err != nil {
		t.Fatalf("Logs(%s) after exit = %v", id, err)
	}
	if got := after.String(); got != want {
		t.Errorf("Logs() after exit = %q, want %q", got, want)
	}
}

func testOOM(t *testing.T, s *suite) {
	ctx := testCtx(t)
	c := s.container(s.h.ExceedMemory(16))
	c.MemoryMB = 16
	_, got := s.run(t, ctx, c)
	if !got.OOMKilled && s.h.OOMMayGoUnflagged && got.ExitCode == 137 {
		t.Logf("the engine did not flag the kill as out of memory; exit code 137 (%+v)", got)
		return
	}
	if !got.OOMKilled || got.ExitCode == 0 || got.State != provider.Exited {
		t.Errorf("Wait() of a container past its memory = %+v, want exited, OOM killed, non-zero exit code", got)
	}
}

func testMissingImage(t *testing.T, s *suite) {
	ctx := testCtx(t)
	c := s.container(s.h.Exit(0))
	c.Image = s.h.MissingImage
	begin := time.Now()
	id, err := s.r.Create(ctx, c)
	if s.h.PullsAtStart && err == nil {
		err = s.r.Start(ctx, id)
		if rerr := s.r.Remove(ctx, id); rerr != nil {
			t.Errorf("Remove(%s) after a refused Start = %v", id, rerr)
		}
	}
	took := time.Since(begin)
	var serr *provider.StartError
	if !errors.As(err, &serr) {
		if err == nil {
			_ = s.r.Remove(ctx, id)
		}
		t.Fatalf("Create() of missing image %q = %q, %v; want a *StartError", c.Image, id, err)
	}
	if !strings.Contains(serr.Reason, c.Image) || !strings.Contains(serr.Reason, "not found") {
		t.Errorf("StartError %q does not say image %q is not found", serr.Reason, c.Image)
	}
	if took > 30*time.Second {
		t.Errorf("Create() of a missing image took %v", took)
	}
	list, err := s.r.List(ctx)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	if st, ok := find(list, c.AttemptID); ok {
		t.Errorf("List() after a refused Create has %+v", st)
	}
}

func testMissingCommand(t *testing.T, s *suite) {
	ctx := testCtx(t)
	id := s.create(t, ctx, s.r, s.container(s.h.MissingCommand()))
	err := s.r.Start(ctx, id)
	if serr := (*provider.StartError)(nil); !errors.As(err, &serr) {
		t.Errorf("Start() of a missing command = %v, want a *StartError", err)
	}
}

func testRestart(t *testing.T, s *suite) {
	ctx := testCtx(t)
	running := s.container(s.h.Sleep(time.Minute))
	runningID := s.start(t, ctx, running)
	exited := s.container(s.h.Exit(5))
	exitedID, _ := s.run(t, ctx, exited)

	r := s.h.NewRunner(t) // berth restarted: nothing in memory
	list, err := r.List(ctx)
	if err != nil {
		t.Fatalf("List() after restart = %v", err)
	}
	for _, w := range []provider.Status{
		want(runningID, running, provider.Running, 0),
		want(exitedID, exited, provider.Exited, 5),
	} {
		got, ok := find(list, w.AttemptID)
		if !ok {
			t.Errorf("List() after restart lacks attempt %s", w.AttemptID)
			continue
		}
		if diff := cmp.Diff(w, got, ignoreTimes); diff != "" {
			t.Errorf("List() after restart, %s mismatch (-want +got):\n%s", w.AttemptID, diff)
		}
	}
	if id, err := r.Create(ctx, running); err != nil || id != runningID {
		t.Errorf("Create() after restart = %q, %v; want the existing %q", id, err, runningID)
	}
	if err := r.Stop(ctx, runningID, 0); err != nil {
		t.Fatalf("Stop(%s) after restart = %v", runningID, err)
	}
	got, err := r.Wait(ctx, runningID)
	if err != nil {
		t.Fatalf("Wait(%s) after restart = %v", runningID, err)
	}
	if got.State != provider.Exited {
		t.Errorf("Wait() after Stop = %+v, want exited", got)
	}
}
