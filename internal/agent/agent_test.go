package agent

import (
	"context"

	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// fakeServer is an in-memory control plane for one node. Knobs: the node's
// state, its assignments (set, close), and a check run at every Register
// that asks to be ready. It logs the reports it takes.
type fakeServer struct {
	// mu guards the fields below it.
	mu       sync.Mutex
	state    berth.NodeState
	list     []berth.Assignment
	closed   map[string]bool // attempts closed without the agent
	version  uint64
	changed  chan struct{} // closed at each change
	started  map[string]int
	finished map[string][]berth.Outcome
	notices  []nodeapi.Notice
	readies  int
	onReady  func() // called (without mu) when the agent asks to be ready
	beats    []nodeapi.Status
}

func newFakeServer(state berth.NodeState) *fakeServer {
	return &fakeServer{state: state, closed: map[string]bool{}, version: 1, changed: make(chan struct{}),
		started: map[string]int{}, finished: map[string][]berth.Outcome{}}
}

func (s *fakeServer) bumpLocked() {
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
}

// assign adds an attempt of a job scripted by env.
func (s *fakeServer) assign(attemptID string, env ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := map[string]string{}
	for i := 0; i+1 < len(env); i += 2 {
		e[env[i]] = env[i+1]
	}
	s.list = append(s.list, berth.Assignment{
		Attempt: berth.Attempt{ID: attemptID, Node: "node_a"},
		Job:     berth.Job{ID: "job_" + attemptID, JobSpec: berth.JobSpec{Image: "busybox", Env: e}, State: berth.Starting},
	})
	s.bumpLocked()
}

// lose declares the node lost: its attempts are closed.
func (s *fakeServer) lose() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.list {
		s.closed[a.Attempt.ID] = true
	}
	s.list = nil
	s.state = berth.NodeLost
	s.bumpLocked()
}

func (s *fakeServer) Register(ctx context.Context, nodeID string, st nodeapi.Status) (berth.Node, error) {
	if st.Ready {
		s.mu.Lock()
		on := s.onReady
		s.mu.Unlock()
		if on != nil {
			on()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beats = append(s.beats, st)
	if st.Ready {
		s.readies++
		if s.state == berth.NodeLost || s.state == berth.NodeJoining {
			s.state = berth.NodeReady
		}
	}
	return berth.Node{ID: nodeID, State: s.state, CPU: st.CPU, MemoryMB: st.MemoryMB, Healthy: st.Healthy}, nil
}

func (s *fakeServer) Assignments(ctx context.Context, nodeID string, since uint64, wait time.Duration) ([]berth.Assignment, uint64, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		s.mu.Lock()
		if s.version > since || since == 0 {
			defer s.mu.Unlock()
			return slices.Clone(s.list), s.version, nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-t.C:
			s.mu.Lock()
			defer s.mu.Unlock()
			return slices.Clone(s.list), s.version, nil
		case <-ctx.Done():
			return nil, since, ctx.Err()
		}
	}
}

func (s *fakeServer) Started(ctx context.Context, attemptID, containerID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed[attemptID] {
		return berth.ErrStale
	}
	s.started[attemptID]++
	for i := range s.list {
		if s.list[i].Attempt.ID == attemptID && s.list[i].Attempt.StartedAt == nil {
			now := time.Now()
			s.list[i].Attempt.StartedAt = &now
		}
	}
	return nil
}

func (s *fakeServer) Finished(ctx context.Context, attemptID string, out berth.Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed[attemptID] {
		return berth.ErrStale
	}
	s.finished[attemptID] = append(s.finished[attemptID], out)
	s.closed[attemptID] = true
	s.list = slices.DeleteFunc(s.list, func(a berth.Assignment) bool { return a.Attempt.ID == attemptID })
	s.bumpLocked()
	return nil
}

func (s *fakeServer) Notice(ctx context.Context, nodeID string, n nodeapi.Notice) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notices = append(s.notices, n)
	return nil
}

type discardSink struct{}

func (discardSink) Writer(jobID, attemptID string) (io.WriteCloser, error) {
	return nopCloser{io.Discard}, nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startAgent runs an agent of node_a until the returned stop is called.
func startAgent(srv Server, runner provider.Runner) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	a := New(Config{NodeID: "node_a", StopGrace: 10 * time.Second, HealthInterval: time.Second}, srv, runner, discardSink{}, quiet())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// running lists the attempts whose containers of node_a run.
func running(t *testing.T, r *fake.Runner) []string {
	t.Helper()
	cs, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		if c.Node == "node_a" && c.State == provider.Running {
			out = append(out, c.AttemptID)
		}
	}
	return out
}

// containersOf lists the attempts of a node's containers, in any state.
func containersOf(t *testing.T, r *fake.Runner, node string) []string {
	t.Helper()
	cs, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		if c.Node == node {
			out = append(out, c.AttemptID)
		}
	}
	return out
}

// TestLostNodeCleansUpBeforeWork: a node the server declared lost while
// its agent ran a container gets back to work only after the agent killed
// that container (no grace: its job has moved on), and then runs new work.
func TestLostNodeCleansUpBeforeWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(berth.NodeJoining)
		runner := fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096})
		var atReady [][]string
		srv.onReady = func() { atReady = append(atReady, containersOf(t, runner, "node_a")) }
		stop := startAgent(srv, runner)
		defer stop()
		// Work comes once the node has joined, as a server places it.
		synctest.Wait()
		srv.mu.Lock()
		joined := srv.state == berth.NodeReady
		srv.mu.Unlock()
		if !joined {
			t.Fatal("the agent did not join")
		}
		srv.assign("att_1", "FAKE_RUN_FOR", "1h", "FAKE_IGNORE_SIGTERM", "1")
		time.Sleep(time.Second)
		if got := running(t, runner); !slices.Equal(got, []string{"att_1"}) {
			t.Fatalf("before the loss running %v, want [att_1]", got)
		}
		srv.lose()
		time.Sleep(time.Second) // less than the stop grace: the container is killed, not stopped
		if got := running(t, runner); len(got) != 0 {
			t.Errorf("a second after the loss running %v, want nothing", got)
		}
		cs, _ := runner.List(context.Background())
		if len(cs) != 0 {
			t.Errorf("containers left after the loss: %v", cs)
		}
		for range 10 { // the next heartbeat tells the agent it is lost
			srv.mu.Lock()
			ready := srv.state == berth.NodeReady
			srv.mu.Unlock()
			if ready {
				break
			}
			time.Sleep(time.Second)
		}
		srv.assign("att_2", "FAKE_RUN_FOR", "1h")
		time.Sleep(time.Second)
		if got := running(t, runner); !slices.Equal(got, []string{"att_2"}) {
			t.Errorf("after rejoining running %v, want [att_2]", got)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if want := [][]string{nil, nil}; !slices.EqualFunc(atReady, want, slices.Equal) {
			t.Errorf("containers each time the agent asked to be ready: %v, want none both times (join, rejoin)", atReady)
		}
		if len(srv.finished["att_1"]) != 0 {
			t.Errorf("the closed attempt was reported finished: %v", srv.finished["att_1"])
		}
	})
}

// TestUnlistedAndLeftoverContainers: an execution whose attempt the server
// stops listing is killed, and a container of this node that no attempt
// owns is removed, while other nodes' containers on the shared engine are
// left alone.
func TestUnlistedAndLeftoverContainers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(berth.NodeReady)
		runner := fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096})
		for _, c := range []provider.Container{
			{JobID: "job_old", AttemptID: "att_old", Node: "node_a", Image: "busybox", Env: map[string]string{"FAKE_RUN_FOR": "1h"}},
			{JobID: "job_b", AttemptID: "att_b", Node: "node_b", Image: "busybox", Env: map[string]string{"FAKE_RUN_FOR": "1h"}},
		} {
			id, err := runner.Create(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if err := runner.Start(context.Background(), id); err != nil {
				t.Fatal(err)
			}
		}
		srv.assign("att_1", "FAKE_RUN_FOR", "1h")
		srv.assign("att_2", "FAKE_RUN_FOR", "1h")
		stop := startAgent(srv, runner)
		defer stop()
		time.Sleep(time.Second)
		if got := running(t, runner); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"att_1", "att_2"}) {
			t.Fatalf("running %v, want att_1 and att_2 (att_old removed)", got)
		}
		srv.mu.Lock()
		srv.closed["att_1"] = true
		srv.list = srv.list[1:]
		srv.bumpLocked()
		srv.mu.Unlock()
		time.Sleep(time.Second)
		if got := running(t, runner); !slices.Equal(got, []string{"att_2"}) {
			t.Errorf("after att_1 was closed running %v, want [att_2]", got)
		}
		cs, _ := runner.List(context.Background())
		var b bool
		for _, c := range cs {
			b = b || c.AttemptID == "att_b"
		}
		if !b {
			t.Errorf("another node's container was removed")
		}
	})
}

// TestRestartAdopts: an agent that restarts while its container runs
// adopts it: the container is created once, and reported finished once.
func TestRestartAdopts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(berth.NodeReady)
		runner := fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096})
		srv.assign("att_1", "FAKE_RUN_FOR", "10m")
		stop := startAgent(srv, runner)
		time.Sleep(time.Minute)
		stop()
		if got := running(t, runner); !slices.Equal(got, []string{"att_1"}) {
			t.Fatalf("after the agent stopped running %v, want [att_1] left running", got)
		}
		time.Sleep(time.Minute)
		stop = startAgent(srv, runner)
		defer stop()
		time.Sleep(10 * time.Minute)
		creates := 0
		for _, c := range runner.Calls() {
			if c.Method == fake.Create {
				creates++
			}
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if creates != 1 || len(srv.finished["att_1"]) != 1 {
			t.Fatalf("creates %d, finished reports %v; want one each", creates, srv.finished["att_1"])
		}
		if out := srv.finished["att_1"][0]; out.Kind != berth.Exited || out.ExitCode == nil || *out.ExitCode != 0 {
			t.Errorf("outcome %+v, want exited 0", out)
		}
	})
}

// TestStopKeepsGrace: an attempt the server wants stopped (a drain, a Spot
// notice, a cancel) gets its grace; one it no longer lists does not.
func TestStopKeepsGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(berth.NodeReady)
		runner := fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096})
		srv.assign("att_1", "FAKE_RUN_FOR", "1h", "FAKE_IGNORE_SIGTERM", "1")
		stop := startAgent(srv, runner)
		defer stop()
		time.Sleep(time.Second)
		srv.mu.Lock()
		srv.list[0].Stop = true
		srv.bumpLocked()
		srv.mu.Unlock()
		time.Sleep(5 * time.Second)
		if got := running(t, runner); !slices.Equal(got, []string{"att_1"}) {
			t.Fatalf("5s into a 10s grace running %v, want att_1 still", got)
		}
		time.Sleep(6 * time.Second)
		if got := running(t, runner); len(got) != 0 {
			t.Fatalf("after the grace running %v, want nothing", got)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if f := srv.finished["att_1"]; len(f) != 1 || f[0].Kind != berth.Stopped {
			t.Errorf("finished reports %v, want one stopped", f)
		}
	})
}

// spotNotice is a NoticeSource that gives a Spot interruption from armed
// on, for a reclaim at reclaim.
type spotNotice struct{ armed, reclaim time.Time }

func (n spotNotice) Notices(context.Context) ([]nodeapi.Notice, error) {
	if time.Now().Before(n.armed) {
		return nil, nil
	}
	at := n.reclaim
	return []nodeapi.Notice{{Kind: nodeapi.SpotInterruption, Action: "terminate", Time: &at}}, nil
}

// TestInterruptionGrace: once the host's Spot notice has come, a stopped
// container gets the interruption grace instead of the stop grace, cut
// short to end 5 s before the reclaim.
func TestInterruptionGrace(t *testing.T) {
	for _, tt := range []struct {
		name        string
		reclaimIn   time.Duration // from the notice
		killedAfter time.Duration // from the stop
	}{
		{"the whole grace fits before the reclaim", 2 * time.Minute, 90 * time.Second},
		// The stop comes 2 s after the notice: 40 − 2 − 5.
		{"a late notice: killed 5s before the reclaim", 40 * time.Second, 33 * time.Second},
	} {
		synctest.Test(t, func(t *testing.T) {
			srv := newFakeServer(berth.NodeReady)
			runner := fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096})
			srv.assign("att_1", "FAKE_RUN_FOR", "1h", "FAKE_IGNORE_SIGTERM", "1")
			notice := time.Now().Add(time.Second)
			ctx, cancel := context.WithCancel(context.Background())
			a := New(Config{NodeID: "node_a", StopGrace: 10 * time.Second, InterruptionGrace: 90 * time.Second, HealthInterval: time.Second,
				Notices: spotNotice{armed: notice, reclaim: notice.Add(tt.reclaimIn)}, NoticeInterval: time.Second}, srv, runner, discardSink{}, quiet())
			done := make(chan struct{})
			go func() { defer close(done); a.Run(ctx) }()
			defer func() { cancel(); <-done }()
			time.Sleep(3 * time.Second) // the notice is seen; the server drains the node
			srv.mu.Lock()
			srv.list[0].Stop = true
			srv.bumpLocked()
			srv.mu.Unlock()
			stopped := time.Now()
			time.Sleep(tt.killedAfter - 2*time.Second)
			if got := running(t, runner); !slices.Equal(got, []string{"att_1"}) {
				t.Fatalf("%s: %v after the stop running %v, want att_1 still", tt.name, time.Since(stopped), got)
			}
			time.Sleep(4 * time.Second)
			if got := running(t, runner); len(got) != 0 {
				t.Fatalf("%s: %v after the stop running %v, want it killed", tt.name, time.Since(stopped), got)
			}
		})
	}
}

// TestStopDuringSlowStart: a stop that comes while the engine is still
// starting the container (a serverless engine places the task and pulls
// its image) ends the start at once: the attempt is reported stopped and
// its container removed, without waiting for the start to finish.
func TestStopDuringSlowStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(berth.NodeReady)
		runner := fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096})
		runner.SetStartDelay(time.Hour)
		srv.assign("att_1", "FAKE_RUN_FOR", "1h")
		stop := startAgent(srv, runner)
		defer stop()
		time.Sleep(time.Second)
		srv.mu.Lock()
		srv.list[0].Stop = true
		srv.bumpLocked()
		srv.mu.Unlock()
		time.Sleep(5 * time.Second)
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if f := srv.finished["att_1"]; len(f) != 1 || f[0].Kind != berth.Stopped {
			t.Errorf("finished reports %v five seconds after a stop during an hour-long start, want one stopped", f)
		}
	})
}
