package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/providertest"
	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/client"
)

// harness runs the conformance programs as shell commands in berth's
// busybox test image.
func harness(t *testing.T) providertest.Harness {
	sh := func(script string) providertest.Program {
		return providertest.Program{Command: []string{"sh", "-c", script}}
	}
	return providertest.Harness{
		NewRunner:    func(t *testing.T) provider.Runner { return New(dockertest.Client(t)) },
		Image:        dockertest.Image(t),
		MissingImage: "berth-test/missing:never",
		Exit: func(code int) providertest.Program {
			return sh(fmt.Sprintf("exit %d", code))
		},
		Sleep: func(d time.Duration) providertest.Program {
			return providertest.Program{Command: []string{"sleep", fmt.Sprint(d.Seconds())}}
		},
		Print: func(lines []providertest.Line, gap time.Duration) providertest.Program {
			var b strings.Builder
			for i, l := range lines {
				if i > 0 {
					fmt.Fprintf(&b, "sleep %g; ", gap.Seconds())
				}
				redirect := ""
				if l.Stderr {
					redirect = " >&2"
				}
				fmt.Fprintf(&b, "echo '%s'%s; ", l.Text, redirect)
			}
			return sh(b.String())
		},
		// PID 1 gets no signal it has no handler for: the trap is the
		// handler, and wait returns as soon as it has run.
		TrapTerm: func() providertest.Program {
			return sh("trap 'exit 143' TERM; echo ready; sleep 3600 & wait")
		},
		IgnoreTerm: func() providertest.Program {
			return sh("trap '' TERM; echo ready; sleep 3600")
		},
		// The engine notices an OOM kill through a watch it sets once the
		// container has started, and may lose one that races the exit of
		// PID 1 (Docker 20.10, cgroup v1). So the shell waits before dd
		// allocates, and outlives it: dd is the one killed.
		ExceedMemory: func(limitMB int64) providertest.Program {
			return sh(fmt.Sprintf("sleep 1; dd if=/dev/zero of=/dev/null count=1 bs=%dM; code=$?; sleep 1; exit $code", 4*limitMB))
		},
		MissingCommand: func() providertest.Program {
			return providertest.Program{Command: []string{"/bin/berth-no-such-command"}}
		},
		OOMMayGoUnflagged: true,
	}
}

func TestRunner(t *testing.T) {
	providertest.RunRunnerTests(t, harness(t))
}

// TestCreateConfig checks what the engine was told: limits without swap,
// environment, command, labels, and no automatic removal.
func TestCreateConfig(t *testing.T) {
	api := dockertest.Client(t)
	r := New(api)
	ctx := t.Context()
	now := time.Now()
	c := provider.Container{
		JobID:     berth.NewID("job", now),
		AttemptID: berth.NewID("att", now),
		Node:      "node_1",
		Image:     dockertest.Image(t),
		Command:   []string{"sh", "-c", "exit 0"},
		Env:       map[string]string{"B": "2", "A": "1"},
		CPU:       1.5,
		MemoryMB:  96,
		Labels:    map[string]string{"team": "data"},
	}
	id, err := r.Create(ctx, c)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	t.Cleanup(func() { _ = r.Remove(context.Background(), id) })
	res, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("ContainerInspect(%s) = %v", id, err)
	}
	got := res.Container
	type config struct {
		NanoCPUs, Memory, MemorySwap int64
		AutoRemove                   bool
		Cmd                          []string
		Env                          []string
		Labels                       map[string]string
		Name                         string
	}
	want := config{
		NanoCPUs: 1_500_000_000, Memory: 96 << 20, MemorySwap: 96 << 20,
		Cmd: c.Command,
		Env: []string{"A=1", "B=2"},
		Labels: map[string]string{
			"team": "data", provider.LabelJob: c.JobID, provider.LabelAttempt: c.AttemptID, provider.LabelNode: "node_1",
		},
		Name: "/berth-" + c.AttemptID,
	}
	have := config{
		NanoCPUs: got.HostConfig.NanoCPUs, Memory: got.HostConfig.Memory, MemorySwap: got.HostConfig.MemorySwap,
		AutoRemove: got.HostConfig.AutoRemove,
		Cmd:        got.Config.Cmd,
		// The image adds PATH.
		Env:    slices.DeleteFunc(slices.Clone(got.Config.Env), func(e string) bool { return strings.HasPrefix(e, "PATH=") }),
		Labels: got.Config.Labels,
		Name:   got.Name,
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("container config mismatch (-want +got):\n%s", diff)
	}
}

// TestAPIVersion checks that the client speaks a version the engine
// accepts; this engine may be as old as API 1.41.
func TestAPIVersion(t *testing.T) {
	api := dockertest.Client(t)
	if _, err := New(api).Info(t.Context()); err != nil {
		t.Fatalf("Info() = %v", err)
	}
	v, err := api.ServerVersion(t.Context(), client.ServerVersionOptions{})
	if err != nil {
		t.Fatalf("ServerVersion() = %v", err)
	}
	if got, engine := api.ClientVersion(), v.APIVersion; got != min(engine, client.MaxAPIVersion) {
		t.Errorf("client speaks API %s to an engine of API %s", got, engine)
	}
}

// TestUnavailable checks that an engine that cannot be reached is
// ErrUnavailable, for every method.
func TestUnavailable(t *testing.T) {
	api, err := Dial("unix://" + t.TempDir() + "/docker.sock")
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	defer api.Close()
	r := New(api)
	ctx := t.Context()
	c := provider.Container{JobID: "job_1", AttemptID: "att_1", Image: "busybox"}
	calls := map[string]func() error{
		"Info":    func() error { _, err := r.Info(ctx); return err },
		"Create":  func() error { _, err := r.Create(ctx, c); return err },
		"Start":   func() error { return r.Start(ctx, "c1") },
		"Wait":    func() error { _, err := r.Wait(ctx, "c1"); return err },
		"Stop":    func() error { return r.Stop(ctx, "c1", time.Second) },
		"Inspect": func() error { _, err := r.Inspect(ctx, "c1"); return err },
		"List":    func() error { _, err := r.List(ctx); return err },
		"Logs":    func() error { return r.Logs(ctx, "c1", nil) },
		"Remove":  func() error { return r.Remove(ctx, "c1") },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, provider.ErrUnavailable) {
			t.Errorf("%s() on a missing engine = %v, want ErrUnavailable", name, err)
		}
	}
}
