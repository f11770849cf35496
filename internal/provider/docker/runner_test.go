package docker

import (
	"context"
	"errors"
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
	return providertest.Shell(providertest.Harness{
		NewRunner:         func(t *testing.T) provider.Runner { return New(dockertest.Client(t)) },
		Image:             dockertest.Image(t),
		MissingImage:      "berth-test/missing:never",
		OOMMayGoUnflagged: true,
	})
}

func TestRunner(t *testing.T) {
	providertest.RunRunnerTests(t, harness(t))
}

// TestCreateConfig checks what the engine was told: limits without swap,
// a PID limit, no new privileges, environment, command, the job's labels
// under their prefix beside berth's own, and no automatic removal.
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
		PIDs:      64,
		Labels:    map[string]string{"team": "data", "traefik.enable": "true"},
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
		PidsLimit                    *int64
		SecurityOpt                  []string
		AutoRemove                   bool
		Cmd                          []string
		Env                          []string
		Labels                       map[string]string
		Name                         string
	}
	pids := int64(64)
	want := config{
		NanoCPUs: 1_500_000_000, Memory: 96 << 20, MemorySwap: 96 << 20,
		PidsLimit:   &pids,
		SecurityOpt: []string{"no-new-privileges"},
		Cmd:         c.Command,
		Env:         []string{"A=1", "B=2"},
		Labels: map[string]string{
			"berth.label.team": "data", "berth.label.traefik.enable": "true",
			provider.LabelJob: c.JobID, provider.LabelAttempt: c.AttemptID, provider.LabelNode: "node_1",
		},
		Name: "/berth-" + c.AttemptID,
	}
	have := config{
		NanoCPUs: got.HostConfig.NanoCPUs, Memory: got.HostConfig.Memory, MemorySwap: got.HostConfig.MemorySwap,
		PidsLimit:   got.HostConfig.PidsLimit,
		SecurityOpt: got.HostConfig.SecurityOpt,
		AutoRemove:  got.HostConfig.AutoRemove,
		Cmd:         got.Config.Cmd,
		// The image adds PATH.
		Env:    slices.DeleteFunc(slices.Clone(got.Config.Env), func(e string) bool { return strings.HasPrefix(e, "PATH=") }),
		Labels: got.Config.Labels,
		Name:   got.Name,
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("container config mismatch (-want +got):\n%s", diff)
	}
}

// TestDefaultPIDs checks that a container whose job gives no PID limit
// gets berth's default, never none.
func TestDefaultPIDs(t *testing.T) {
	api := dockertest.Client(t)
	r := New(api)
	ctx := t.Context()
	now := time.Now()
	c := provider.Container{JobID: berth.NewID("job", now), AttemptID: berth.NewID("att", now), Node: "node_1",
		Image: dockertest.Image(t), Command: []string{"true"}, CPU: 0.5, MemoryMB: 64}
	id, err := r.Create(ctx, c)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	t.Cleanup(func() { _ = r.Remove(context.Background(), id) })
	res, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("ContainerInspect(%s) = %v", id, err)
	}
	if got := res.Container.HostConfig.PidsLimit; got == nil || *got != berth.DefaultPIDs {
		t.Errorf("PidsLimit of a job without pids = %v, want %d", got, berth.DefaultPIDs)
	}
}

// TestJobLabelsCannotPassForBerths: a job whose labels are named as
// berth's own does not change what List reports of its container, nor
// hide it.
func TestJobLabelsCannotPassForBerths(t *testing.T) {
	api := dockertest.Client(t)
	r := New(api)
	ctx := t.Context()
	now := time.Now()
	c := provider.Container{JobID: berth.NewID("job", now), AttemptID: berth.NewID("att", now), Node: "node_1",
		Image: dockertest.Image(t), Command: []string{"true"}, CPU: 0.5, MemoryMB: 64,
		Labels: map[string]string{provider.LabelJob: "job_other", provider.LabelAttempt: "att_other", provider.LabelNode: "node_other"}}
	id, err := r.Create(ctx, c)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	t.Cleanup(func() { _ = r.Remove(context.Background(), id) })
	list, err := r.List(ctx)
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	var found bool
	for _, st := range list {
		if st.AttemptID == "att_other" {
			t.Errorf("List() has a container of attempt att_other, which only a job label names")
		}
		if st.ID == id {
			found = true
			if st.JobID != c.JobID || st.AttemptID != c.AttemptID || st.Node != c.Node {
				t.Errorf("List() entry = job %s, attempt %s, node %s; want %s, %s, %s",
					st.JobID, st.AttemptID, st.Node, c.JobID, c.AttemptID, c.Node)
			}
		}
	}
	if !found {
		t.Errorf("List() lacks the container %s", shortID(id))
	}
}

// TestPIDLimitHolds runs a job that starts more processes than its PID
// limit allows: the fork past the limit fails inside the container, and
// the job with it.
func TestPIDLimitHolds(t *testing.T) {
	api := dockertest.Client(t)
	r := New(api)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	// The shell is one process and each sleep another: with 8, the
	// eighth sleep cannot start. Only builtins run in the loop.
	script := `i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done; echo started all`
	for _, tt := range []struct {
		pids int64
		fail bool
	}{{8, true}, {64, false}} {
		now := time.Now()
		c := provider.Container{JobID: berth.NewID("job", now), AttemptID: berth.NewID("att", now), Node: "node_1",
			Image: dockertest.Image(t), Command: []string{"sh", "-c", script}, CPU: 0.5, MemoryMB: 64, PIDs: tt.pids}
		id, err := r.Create(ctx, c)
		if err != nil {
			t.Fatalf("Create() = %v", err)
		}
		t.Cleanup(func() { _ = r.Remove(context.Background(), id) })
		if err := r.Start(ctx, id); err != nil {
			t.Fatalf("Start() = %v", err)
		}
		st, err := r.Wait(ctx, id)
		if err != nil {
			t.Fatalf("Wait() = %v", err)
		}
		var out strings.Builder
		if err := r.Logs(ctx, id, &out); err != nil {
			t.Fatalf("Logs() = %v", err)
		}
		forkFailed := strings.Contains(out.String(), "can't fork")
		if tt.fail && (st.ExitCode == 0 || !forkFailed || strings.Contains(out.String(), "started all")) {
			t.Errorf("20 processes with pids %d: exit %d, output %q; want a failed fork and a failure", tt.pids, st.ExitCode, out.String())
		}
		if !tt.fail && (st.ExitCode != 0 || forkFailed) {
			t.Errorf("20 processes with pids %d: exit %d, output %q; want them all started", tt.pids, st.ExitCode, out.String())
		}
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
