package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/docker"
	"github.com/berth-run/berth/internal/shim"
	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/client"
)

func TestWarmWanted(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	small := provider.Shape{CPU: 0.5, MemoryMB: 256, PIDs: 100}
	big := provider.Shape{CPU: 4, MemoryMB: 8192, PIDs: 100}
	a, b, c := warmKey{"a", small}, warmKey{"b", small}, warmKey{"c", big}
	uses := func(keys ...warmKey) []warmUse {
		var out []warmUse
		for i, k := range keys {
			out = append(out, warmUse{k, now.Add(time.Duration(i) * time.Second)})
		}
		return out
	}
	room := provider.Shape{CPU: 8, MemoryMB: 16384}
	tests := []struct {
		name string
		uses []warmUse
		max  int
		room provider.Shape
		want map[warmKey]int
	}{
		{"nothing run", nil, 4, room, map[warmKey]int{}},
		{"one use, one container", uses(a), 4, room, map[warmKey]int{a: 1}},
		{"never more than the uses", uses(a, a, b), 4, room, map[warmKey]int{a: 2, b: 1}},
		{"most used first", uses(b, a, a, c, c, c), 2, room, map[warmKey]int{c: 1, a: 1}},
		{"then the most recent", uses(a, b), 1, room, map[warmKey]int{b: 1}},
		{"one each before a second", uses(a, a, a, b), 2, room, map[warmKey]int{a: 1, b: 1}},
		{"max 0", uses(a), 0, room, map[warmKey]int{}},
		{"only what fits", uses(c, c, a), 4, provider.Shape{CPU: 4.5, MemoryMB: 9000}, map[warmKey]int{c: 1, a: 1}},
		{"none fits", uses(c), 4, provider.Shape{CPU: 1, MemoryMB: 1024}, map[warmKey]int{}},
	}
	for _, tt := range tests {
		if got := warmWanted(tt.uses, tt.max, tt.room); !cmp.Equal(got, tt.want) {
			t.Errorf("%s: warmWanted() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// memSink keeps each attempt's output.
type memSink struct {
	mu   sync.Mutex
	logs map[string]*bytes.Buffer
}

type syncWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (s *memSink) Writer(jobID, attemptID string) (io.WriteCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs == nil {
		s.logs = map[string]*bytes.Buffer{}
	}
	b := &bytes.Buffer{}
	s.logs[attemptID] = b
	return nopCloser{syncWriter{&s.mu, b}}, nil
}

func (s *memSink) output(attemptID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.logs[attemptID]; b != nil {
		return b.String()
	}
	return ""
}

// warmNode is an agent of node_a with warm containers on the real engine.
type warmNode struct {
	t      *testing.T
	srv    *fakeServer
	runner *docker.Runner
	logs   *memSink
	agent  *Agent
	image  string
	stop   func()
}

func newWarmNode(t *testing.T, max int) *warmNode {
	t.Helper()
	runner, err := docker.NewWarm(dockertest.Client(t), dockertest.Shim(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	n := &warmNode{t: t, srv: newFakeServer(berth.NodeReady), runner: runner, logs: &memSink{}, image: dockertest.Image(t)}
	n.start(max)
	t.Cleanup(func() {
		n.stop()
		removeNode(runner, "node_a")
	})
	return n
}

func (n *warmNode) start(max int) {
	ctx, cancel := context.WithCancel(context.Background())
	n.agent = New(Config{NodeID: "node_a", StopGrace: time.Second, HealthInterval: time.Second,
		Warm: WarmConfig{Runner: n.runner, Max: max, TTL: time.Minute, Interval: 200 * time.Millisecond}},
		n.srv, n.runner, n.logs, quiet())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.agent.Run(ctx)
	}()
	n.stop = func() { cancel(); <-done }
}

// removeNode removes every container of node, warm or not.
func removeNode(r *docker.Runner, node string) {
	ctx := context.Background()
	cs, _ := r.List(ctx)
	for _, c := range cs {
		if c.Node == node {
			_ = r.Remove(ctx, c.ID)
		}
	}
	ws, _ := r.ListWarm(ctx)
	for _, w := range ws {
		if w.Node == node {
			_ = r.Remove(ctx, w.ID)
		}
	}
}

// job assigns an attempt of a job of the test image running script.
func (n *warmNode) job(attempt, script string, timeout time.Duration, env map[string]string) {
	n.srv.mu.Lock()
	defer n.srv.mu.Unlock()
	n.srv.list = append(n.srv.list, berth.Assignment{
		Attempt: berth.Attempt{ID: attempt, Node: "node_a"},
		Job: berth.Job{ID: "job_" + attempt, State: berth.Starting, JobSpec: berth.JobSpec{
			Image: n.image, Command: []string{"sh", "-c", script}, Env: env, CPU: 0.5, MemoryMB: 64,
			Timeout: berth.Duration(timeout),
		}},
	})
	n.srv.bumpLocked()
}

// stopJob asks for the attempt to stop, as a cancel does.
func (n *warmNode) stopJob(attempt string) {
	n.srv.mu.Lock()
	defer n.srv.mu.Unlock()
	for i := range n.srv.list {
		if n.srv.list[i].Attempt.ID == attempt {
			n.srv.list[i].Stop = true
		}
	}
	n.srv.bumpLocked()
}

// outcome waits for the attempt's outcome.
func (n *warmNode) outcome(attempt string) berth.Outcome {
	n.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		n.srv.mu.Lock()
		outs := n.srv.finished[attempt]
		n.srv.mu.Unlock()
		if len(outs) > 0 {
			return outs[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.t.Fatalf("attempt %s did not finish within a minute", attempt)
	return berth.Outcome{}
}

// waitIdle waits until the pool holds an idle warm container.
func (n *warmNode) waitIdle() {
	n.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if n.agent.WarmStats().Idle[n.image] > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.t.Fatalf("no warm container of %s within a minute", n.image)
}

// TestWarmClaimEndToEnd: a node keeps the image it ran warm, and the next
// jobs run in warm containers as they would cold: exit code, env, logs,
// timeout and a stop that comes while the claim is made.
func TestWarmClaimEndToEnd(t *testing.T) {
	n := newWarmNode(t, 2)
	n.job("att_cold", "echo cold", 0, nil)
	if out := n.outcome("att_cold"); out.Kind != berth.Exited || *out.ExitCode != 0 {
		t.Fatalf("cold job: %+v", out)
	}
	if st := n.agent.WarmStats(); st.Misses != 1 || st.Hits != 0 {
		t.Errorf("after a first job: %+v, want 1 miss", st)
	}

	n.waitIdle()
	n.job("att_exit", `echo "pid $$ secret=$SECRET job=$BERTH_JOB_ID"; exit 3`, 0, map[string]string{"SECRET": "s3"})
	out := n.outcome("att_exit")
	if out.Kind != berth.Exited || out.ExitCode == nil || *out.ExitCode != 3 {
		t.Errorf("warm job exiting 3: %+v", out)
	}
	if got, want := n.logs.output("att_exit"), "pid 1 secret=s3 job=job_att_exit\n"; got != want {
		t.Errorf("warm job's output = %q, want %q", got, want)
	}
	if st := n.agent.WarmStats(); st.Hits != 1 {
		t.Errorf("after a warm job: %+v, want 1 hit", st)
	}

	n.waitIdle()
	n.job("att_timeout", "sleep 30", time.Second, nil)
	if out := n.outcome("att_timeout"); out.Kind != berth.TimedOut {
		t.Errorf("warm job over its timeout: %+v, want %s", out, berth.TimedOut)
	}

	// The engine flags an OOM kill of a process other than PID 1 the
	// same way cold or warm; the shell outlives dd.
	n.waitIdle()
	n.job("att_oom", "sleep 1; dd if=/dev/zero of=/dev/null count=1 bs=256M; code=$?; sleep 1; exit $code", 0, nil)
	if out := n.outcome("att_oom"); out.Kind != berth.OOMKilled && (out.ExitCode == nil || *out.ExitCode != 137) {
		t.Errorf("warm job over its memory: %+v, want %s or exit 137", out, berth.OOMKilled)
	}

	n.waitIdle()
	n.job("att_stop", "trap 'exit 143' TERM; sleep 30 & wait", 0, nil)
	n.stopJob("att_stop") // while the agent claims its container
	if out := n.outcome("att_stop"); out.Kind != berth.Stopped {
		t.Errorf("warm job stopped at once: %+v, want %s", out, berth.Stopped)
	}
	if st := n.agent.WarmStats(); st.Hits < 2 {
		t.Errorf("stats %+v: want at least 2 hits", st)
	}
	n.srv.mu.Lock()
	for a, c := range n.srv.started {
		if c != 1 {
			t.Errorf("attempt %s reported started %d times", a, c)
		}
	}
	n.srv.mu.Unlock()

	// A stopped agent leaves no shim waiting.
	n.stop()
	ws, err := n.runner.ListWarm(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Node == "node_a" && w.State == provider.WarmIdle {
			t.Errorf("idle warm container %s left after the agent stopped", w.ID)
		}
	}
}

// TestWarmContainerGone: a job whose warm container was removed behind
// the agent's back runs all the same: cold, when the agent's claim finds
// the container gone, or in a replacement.
func TestWarmContainerGone(t *testing.T) {
	n := newWarmNode(t, 1)
	n.job("att_first", "true", 0, nil)
	n.outcome("att_first")
	n.waitIdle()
	ws, err := n.runner.ListWarm(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ws {
		if w.Node == "node_a" {
			if err := n.runner.Remove(t.Context(), w.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	n.job("att_after", "echo cold after all", 0, nil)
	out := n.outcome("att_after")
	if out.Kind != berth.Exited || out.ExitCode == nil || *out.ExitCode != 0 {
		t.Errorf("job whose warm container is gone: %+v, want exit 0", out)
	}
	if got := n.logs.output("att_after"); got != "cold after all\n" {
		t.Errorf("output = %q", got)
	}
}

// TestWarmRestartAdoptsClaimed: an agent that restarts while a job runs
// in a claimed warm container adopts it, as it adopts a cold one.
func TestWarmRestartAdoptsClaimed(t *testing.T) {
	n := newWarmNode(t, 1)
	n.job("att_first", "true", 0, nil)
	n.outcome("att_first")
	n.waitIdle()
	n.job("att_long", "sleep 2; echo done; exit 4", 0, nil)
	deadline := time.Now().Add(30 * time.Second)
	for n.agent.WarmStats().Hits == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	n.stop()
	n.start(1)
	out := n.outcome("att_long")
	if out.Kind != berth.Exited || out.ExitCode == nil || *out.ExitCode != 4 {
		t.Errorf("adopted warm job: %+v, want exit 4", out)
	}
	if got := n.logs.output("att_long"); got != "done\n" {
		t.Errorf("adopted warm job's output = %q, want %q", got, "done\n")
	}
}

// TestWarmUndecidedClaimRunsOnce: an agent that stopped between recording
// a claim and its shim's taking it leaves the claim undecided; the next
// agent abandons it before it lists its containers, and the attempt runs
// once, elsewhere.
func TestWarmUndecidedClaimRunsOnce(t *testing.T) {
	n := newWarmNode(t, 0)
	n.stop()
	ctx := t.Context()
	w, err := n.runner.CreateWarm(ctx, "node_a", n.image, provider.Shape{CPU: 0.5, MemoryMB: 64})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := json.Marshal(shim.Record{JobID: "job_att_once", AttemptID: "att_once", At: time.Now()})
	if err := os.WriteFile(filepath.Join(w.Dir, shim.ClaimName), rec, 0o600); err != nil {
		t.Fatal(err)
	}
	n.job("att_once", "echo once", 0, nil)
	n.start(1)
	if out := n.outcome("att_once"); out.Kind != berth.Exited || *out.ExitCode != 0 {
		t.Errorf("attempt after an undecided claim: %+v", out)
	}
	if got := shim.Fate(w.Dir); got != shim.Abandoned {
		t.Errorf("fate of the undecided claim = %q, want %q", got, shim.Abandoned)
	}
	if got := n.logs.output("att_once"); got != "once\n" {
		t.Errorf("output = %q, want %q", got, "once\n")
	}
}

// TestWarmReplaced: a warm container older than the TTL is replaced, and
// so is one whose image's tag moved to another image.
func TestWarmReplaced(t *testing.T) {
	runner, err := docker.NewWarm(dockertest.Client(t), dockertest.Shim(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeNode(runner, "node_ttl") })
	ctx := t.Context()
	image := dockertest.ImageWith(t, "berth-test/warm-ttl:latest", `CMD ["true"]`)
	p := newWarmPool(WarmConfig{Runner: runner, TTL: 3 * time.Second}, "node_ttl", quiet(),
		func() provider.Shape { return provider.Shape{CPU: 64, MemoryMB: 1 << 20} })
	job := berth.Job{JobSpec: berth.JobSpec{Image: image, CPU: 0.5, MemoryMB: 64}}
	idle := func() []string {
		t.Helper()
		p.mu.Lock()
		p.uses = []warmUse{{keyOf(job), time.Now()}} // one use, always recent
		p.mu.Unlock()
		if err := p.reconcile(ctx); err != nil {
			t.Fatalf("reconcile() = %v", err)
		}
		var ids []string
		ws, err := runner.ListWarm(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range ws {
			if w.Node == "node_ttl" {
				ids = append(ids, w.ID)
			}
		}
		return ids
	}
	first := idle()
	if len(first) != 1 {
		t.Fatalf("warm containers after a use: %v, want 1", first)
	}
	if again := idle(); !slices.Equal(again, first) {
		t.Errorf("warm containers within the TTL: %v, want %v kept", again, first)
	}
	time.Sleep(4 * time.Second)
	second := idle()
	if len(second) != 1 || second[0] == first[0] {
		t.Errorf("warm containers after the TTL: %v, want one other than %v", second, first)
	}
	// The tag moves to a new image.
	if _, err := dockertest.Client(t).ImageRemove(ctx, image, client.ImageRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	dockertest.ImageWith(t, image, `CMD ["false"]`, "LABEL v=2")
	third := idle()
	if len(third) != 1 || third[0] == second[0] {
		t.Errorf("warm containers after the image changed: %v, want one other than %v", third, second)
	}
}
