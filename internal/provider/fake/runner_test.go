package fake

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/providertest"
	"github.com/google/go-cmp/cmp"
)

var capacity = provider.Capacity{CPU: 4, MemoryMB: 8192}

// env is the program that sets the given FAKE_ variables.
func env(kv ...string) providertest.Program {
	p := providertest.Program{Env: make(map[string]string)}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Env[kv[i]] = kv[i+1]
	}
	return p
}

func TestRunner(t *testing.T) {
	// The fake is the engine: after a restart, berth finds the same one.
	r := New(capacity)
	providertest.RunRunnerTests(t, providertest.Harness{
		NewRunner:    func(*testing.T) provider.Runner { return r },
		Image:        "berth-test/any:1",
		MissingImage: "missing/image:1",
		Exit: func(code int) providertest.Program {
			return env("FAKE_EXIT_CODE", strconv.Itoa(code))
		},
		Sleep: func(d time.Duration) providertest.Program {
			return env("FAKE_RUN_FOR", d.String())
		},
		Print: func(lines []providertest.Line, gap time.Duration) providertest.Program {
			var b strings.Builder
			for _, l := range lines {
				b.WriteString(l.Text + "\n")
			}
			return env("FAKE_OUTPUT", b.String(), "FAKE_RUN_FOR", (gap * time.Duration(len(lines))).String())
		},
		TrapTerm: func() providertest.Program {
			return env("FAKE_OUTPUT", "ready\n", "FAKE_RUN_FOR", "1h")
		},
		IgnoreTerm: func() providertest.Program {
			return env("FAKE_OUTPUT", "ready\n", "FAKE_RUN_FOR", "1h", "FAKE_IGNORE_SIGTERM", "1")
		},
		ExceedMemory: func(int64) providertest.Program {
			return env("FAKE_OOM", "1")
		},
		MissingCommand: func() providertest.Program {
			return env("FAKE_START_ERROR", `exec: "berth-no-such-command": executable file not found`)
		},
	})
}

// container is a container scripted by kv.
func container(attempt string, kv ...string) provider.Container {
	return provider.Container{
		JobID: "job_" + attempt, AttemptID: attempt, Node: "node_1",
		Image: "img:1", Env: env(kv...).Env,
	}
}

// startOne creates and starts c, failing the test on error.
func startOne(t *testing.T, r *Runner, c provider.Container) string {
	t.Helper()
	id, err := r.Create(t.Context(), c)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if err := r.Start(t.Context(), id); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	return id
}

func TestScriptedRunInVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(capacity)
		begin := time.Now()
		id := startOne(t, r, container("att_1", "FAKE_RUN_FOR", "1h", "FAKE_EXIT_CODE", "3", "FAKE_OUTPUT", "hi\n"))
		var logs strings.Builder
		if err := r.Logs(t.Context(), id, &logs); err != nil {
			t.Fatalf("Logs() = %v", err)
		}
		if took := time.Since(begin); took != time.Hour {
			t.Errorf("Logs() followed for %v, want 1h", took)
		}
		st, err := r.Wait(t.Context(), id)
		if err != nil {
			t.Fatalf("Wait() = %v", err)
		}
		want := provider.Status{
			ID: id, JobID: "job_att_1", AttemptID: "att_1", Node: "node_1", State: provider.Exited, ExitCode: 3,
			StartedAt: begin, FinishedAt: begin.Add(time.Hour),
		}
		if diff := cmp.Diff(want, st); diff != "" {
			t.Errorf("Wait() mismatch (-want +got):\n%s", diff)
		}
		if logs.String() != "hi\n" {
			t.Errorf("Logs() = %q, want %q", logs.String(), "hi\n")
		}
	})
}

func TestStop(t *testing.T) {
	tests := []struct {
		name       string
		ignoreTerm string
		wantTook   time.Duration
		wantCode   int
	}{
		{"heeds SIGTERM", "0", 0, 143},
		{"ignores SIGTERM", "1", 30 * time.Second, 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := New(capacity)
				id := startOne(t, r, container("att_1", "FAKE_RUN_FOR", "1h", "FAKE_IGNORE_SIGTERM", tt.ignoreTerm))
				begin := time.Now()
				if err := r.Stop(t.Context(), id, 30*time.Second); err != nil {
					t.Fatalf("Stop() = %v", err)
				}
				if took := time.Since(begin); took != tt.wantTook {
					t.Errorf("Stop() took %v, want %v", took, tt.wantTook)
				}
				st, err := r.Inspect(t.Context(), id)
				if err != nil || st.State != provider.Exited || st.ExitCode != tt.wantCode {
					t.Errorf("Inspect() after Stop = %+v, %v; want exited with %d", st, err, tt.wantCode)
				}
			})
		})
	}
}

func TestOOMAfterRunFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(capacity)
		begin := time.Now()
		id := startOne(t, r, container("att_1", "FAKE_RUN_FOR", "5m", "FAKE_OOM", "1"))
		st, err := r.Wait(t.Context(), id)
		if err != nil {
			t.Fatalf("Wait() = %v", err)
		}
		if !st.OOMKilled || st.ExitCode != 137 || st.FinishedAt.Sub(begin) != 5*time.Minute {
			t.Errorf("Wait() = %+v, want OOM killed with 137 after 5m", st)
		}
	})
}

func TestStartDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(capacity)
		r.SetStartDelay(2 * time.Second)
		begin := time.Now()
		id := startOne(t, r, container("att_1", "FAKE_RUN_FOR", "1s"))
		if took := time.Since(begin); took != 2*time.Second {
			t.Errorf("Start() took %v, want 2s", took)
		}
		st, err := r.Wait(t.Context(), id)
		if err != nil || st.StartedAt.Sub(begin) != 2*time.Second {
			t.Errorf("Wait() = %+v, %v; want started 2s after Start was called", st, err)
		}
	})
}

func TestUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(capacity)
		ctx := t.Context()
		id := startOne(t, r, container("att_1", "FAKE_RUN_FOR", "1m", "FAKE_EXIT_CODE", "4"))
		r.SetUnavailable(true)
		calls := map[Method]func() error{
			Info:    func() error { _, err := r.Info(ctx); return err },
			Create:  func() error { _, err := r.Create(ctx, container("att_2")); return err },
			Start:   func() error { return r.Start(ctx, id) },
			Wait:    func() error { _, err := r.Wait(ctx, id); return err },
			Stop:    func() error { return r.Stop(ctx, id, 0) },
			Inspect: func() error { _, err := r.Inspect(ctx, id); return err },
			List:    func() error { _, err := r.List(ctx); return err },
			Logs:    func() error { return r.Logs(ctx, id, &strings.Builder{}) },
			Remove:  func() error { return r.Remove(ctx, id) },
		}
		for m, call := range calls {
			if err := call(); !errors.Is(err, provider.ErrUnavailable) {
				t.Errorf("%s() while unavailable = %v, want ErrUnavailable", m, err)
			}
		}
		// The container ran on meanwhile.
		time.Sleep(2 * time.Minute)
		r.SetUnavailable(false)
		st, err := r.Wait(ctx, id)
		if err != nil || st.ExitCode != 4 {
			t.Errorf("Wait() once available = %+v, %v; want exit code 4", st, err)
		}
	})
}

func TestFailNextAndCalls(t *testing.T) {
	r := New(capacity)
	ctx := t.Context()
	boom1, boom2 := errors.New("boom 1"), errors.New("boom 2")
	r.FailNext(Create, boom1)
	r.FailNext(Create, boom2)
	c := container("att_1")
	var errs []error
	for range 3 {
		_, err := r.Create(ctx, c)
		errs = append(errs, err)
	}
	if !errors.Is(errs[0], boom1) || !errors.Is(errs[1], boom2) || errs[2] != nil {
		t.Errorf("Create() errors = %v, want boom 1, boom 2, nil", errs)
	}
	if _, err := r.Inspect(ctx, "nope"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("Inspect(nope) = %v, want ErrNotFound", err)
	}
	want := []Call{
		{Method: Create, ID: "att_1", Err: boom1},
		{Method: Create, ID: "att_1", Err: boom2},
		{Method: Create, ID: "att_1"},
		{Method: Inspect, ID: "nope"},
	}
	if diff := cmp.Diff(want, r.Calls(), cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("Calls() mismatch (-want +got):\n%s", diff)
	}
}

func TestBadScriptIsStartError(t *testing.T) {
	tests := []struct{ key, value string }{
		{"FAKE_RUN_FOR", "soon"},
		{"FAKE_RUN_FOR", "-1s"},
		{"FAKE_EXIT_CODE", "x"},
		{"FAKE_EXIT_CODE", "256"},
	}
	for _, tt := range tests {
		r := New(capacity)
		_, err := r.Create(context.Background(), container("att_1", tt.key, tt.value))
		var serr *provider.StartError
		if !errors.As(err, &serr) || !strings.Contains(serr.Reason, tt.key) {
			t.Errorf("Create() with %s=%q = %v, want a *StartError naming %s", tt.key, tt.value, err, tt.key)
		}
	}
}

func TestStartExitedRunsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := New(capacity)
		id := startOne(t, r, container("att_1", "FAKE_RUN_FOR", "1s", "FAKE_OUTPUT", "x\n"))
		if _, err := r.Wait(t.Context(), id); err != nil {
			t.Fatalf("Wait() = %v", err)
		}
		if err := r.Start(t.Context(), id); err != nil {
			t.Fatalf("second Start() = %v", err)
		}
		st, _ := r.Inspect(t.Context(), id)
		if st.State != provider.Running {
			t.Errorf("Inspect() after second Start = %v, want running", st.State)
		}
		var logs strings.Builder
		if err := r.Logs(t.Context(), id, &logs); err != nil || logs.String() != "x\nx\n" {
			t.Errorf("Logs() = %q, %v; want both runs' output", logs.String(), err)
		}
	})
}
