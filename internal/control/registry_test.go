package control

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// fleet is a store, a registry and a reaper without agents: the tests
// speak for the agents.
type fleet struct {
	store    *store.Store
	notifier *Notifier
	reg      *Registry
	reaper   *Reaper
	kicks    int
}

func newFleet(t *testing.T, ttl time.Duration) *fleet {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fleet{store: st, notifier: NewNotifier()}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.reg = NewRegistry(st, f.notifier, func() { f.kicks++ }, log)
	f.reaper = NewReaper(LeaseConfig{TTL: ttl}, f.reg, log)
	return f
}

// join admits a ready node.
func (f *fleet) join(t *testing.T, name string) string {
	t.Helper()
	n, _, err := f.reg.Join(context.Background(), "default", nodeapi.Status{Name: name, CPU: 4, MemoryMB: 4096, Healthy: true})
	if err != nil {
		t.Fatal(err)
	}
	f.heartbeat(t, n.ID, true)
	return n.ID
}

func (f *fleet) heartbeat(t *testing.T, id string, ready bool) store.NodeInfo {
	t.Helper()
	n, err := f.reg.Heartbeat(context.Background(), id, nodeapi.Status{CPU: 4, MemoryMB: 4096, Healthy: true, Ready: ready})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// run places a new job on node and reports it started; it returns the job
// and its attempt.
func (f *fleet) run(t *testing.T, node string) (string, string) {
	t.Helper()
	ctx := context.Background()
	j, _, err := f.store.CreateJob(ctx, berth.JobSpec{Image: "busybox", Retries: berth.RetryPolicy{Attempts: 2}}.WithDefaults(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := f.store.Place(ctx, []store.Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: node}}, time.Now())
	if err != nil || len(ps) != 1 {
		t.Fatalf("place: %v, %v", ps, err)
	}
	if _, err := f.store.AttemptStarted(ctx, ps[0].AttemptID, "c1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return j.ID, ps[0].AttemptID
}

func (f *fleet) job(t *testing.T, id string) berth.Job {
	t.Helper()
	j, err := f.store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func (f *fleet) node(t *testing.T, id string) store.NodeInfo {
	t.Helper()
	n, err := f.store.NodeInfo(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLeases: of two nodes, the one that keeps heartbeating stays ready;
// the silent one is lost once its lease lapses (not before), and its job is
// re-queued without spending a retry. Heartbeating again does not make it
// ready: only its agent's asking, once it has cleaned up, does.
func TestLeases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, 10*time.Second)
		ctx := context.Background()
		alive, silent := f.join(t, "alive"), f.join(t, "silent")
		job, att := f.run(t, silent)
		for range 9 {
			time.Sleep(time.Second)
			f.heartbeat(t, alive, false)
			if err := f.reaper.Round(ctx, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.node(t, silent); n.State != berth.NodeReady {
			t.Fatalf("after 9s of a 10s lease the silent node is %s", n.State)
		}
		for range 2 {
			time.Sleep(time.Second)
			f.heartbeat(t, alive, false)
			f.reaper.Round(ctx, time.Now())
		}
		if n := f.node(t, silent); n.State != berth.NodeLost {
			t.Errorf("after 11s silent the node is %s, want lost", n.State)
		}
		if n := f.node(t, alive); n.State != berth.NodeReady {
			t.Errorf("the heartbeating node is %s, want ready", n.State)
		}
		j := f.job(t, job)
		if j.State != berth.Queued || j.Requeued != 1 || j.Retried != 0 || j.Reason != "node lost, re-queued" {
			t.Errorf("job: %s, requeued %d, retried %d, %q; want queued, 1, 0, node lost, re-queued", j.State, j.Requeued, j.Retried, j.Reason)
		}
		if a := j.Attempts[0]; a.ID != att || a.Active() || a.Reason != "node lost" {
			t.Errorf("attempt: %+v, want closed with reason node lost", a)
		}
		if _, err := f.store.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Stopped}, time.Now()); err == nil {
			t.Errorf("a late report of the lost attempt was taken")
		}
		if n := f.heartbeat(t, silent, false); n.State != berth.NodeLost {
			t.Errorf("after a plain heartbeat the lost node is %s, want still lost", n.State)
		}
		if n := f.heartbeat(t, silent, true); n.State != berth.NodeReady {
			t.Errorf("after asking to be ready the node is %s", n.State)
		}
	})
}

// TestLeaseGraceAfterRestart: a server that starts long after its nodes
// last heartbeated gives them a full TTL to come back.
func TestLeaseGraceAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, 10*time.Second)
		id := f.join(t, "n")
		if err := f.reg.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour) // the server is down
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		f.reg = NewRegistry(f.store, f.notifier, func() {}, log)
		f.reaper = NewReaper(LeaseConfig{TTL: 10 * time.Second}, f.reg, log)
		time.Sleep(5 * time.Second)
		f.reaper.Round(context.Background(), time.Now())
		if n := f.node(t, id); n.State != berth.NodeReady {
			t.Errorf("5s after the restart the node is %s, want ready", n.State)
		}
		time.Sleep(6 * time.Second)
		f.reaper.Round(context.Background(), time.Now())
		if n := f.node(t, id); n.State != berth.NodeLost {
			t.Errorf("11s after the restart, silent, the node is %s, want lost", n.State)
		}
	})
}

// TestQuietHeartbeats: heartbeats that change nothing write nothing (the
// node's version stays) and wake nobody; their times reach the store at
// the flush.
func TestQuietHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, 10*time.Second)
		id := f.join(t, "n")
		before := f.node(t, id)
		kicks := f.kicks
		for range 5 {
			time.Sleep(time.Second)
			f.heartbeat(t, id, false)
		}
		after := f.node(t, id)
		if after.Version != before.Version || f.kicks != kicks {
			t.Errorf("5 unchanged heartbeats: version %d -> %d, %d kicks; want no write, no kick", before.Version, after.Version, f.kicks-kicks)
		}
		if err := f.reg.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := f.node(t, id); !n.LastSeen.Equal(time.Now()) {
			t.Errorf("last_seen after the flush = %s, want %s", n.LastSeen, time.Now())
		}
		n, err := f.reg.Heartbeat(context.Background(), id, nodeapi.Status{CPU: 8, MemoryMB: 4096, Healthy: true})
		if err != nil || n.CPU != 8 || f.kicks != kicks+1 {
			t.Errorf("a heartbeat with new capacity: %v cpu %v, %d kicks; want 8 and one kick", err, n.CPU, f.kicks-kicks)
		}
	})
}

// TestSpotNotice: a Spot interruption drains the node and stops its job's
// attempt; the job is re-queued, without spending a retry, once the agent
// reports the attempt ended, never before (a job has one live attempt at
// most), and the attempt keeps the reason. A rebalance recommendation only
// stops placements.
func TestSpotNotice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, 10*time.Second)
		ctx := context.Background()
		spot, rebal := f.join(t, "i-0abc"), f.join(t, "i-0def")
		job, att := f.run(t, spot)
		other, _ := f.run(t, rebal)
		if _, err := f.reg.Notice(ctx, rebal, nodeapi.Notice{Kind: nodeapi.Rebalance}); err != nil {
			t.Fatal(err)
		}
		if n := f.node(t, rebal); n.State != berth.NodeDraining || n.DrainDeadline != nil || n.Notice != nodeapi.Rebalance {
			t.Errorf("after a rebalance notice: %s, deadline %v, notice %q", n.State, n.DrainDeadline, n.Notice)
		}
		if j := f.job(t, other); j.State != berth.Running {
			t.Errorf("the job on the rebalancing node is %s, want running on", j.State)
		}
		if _, err := f.reg.Notice(ctx, spot, nodeapi.Notice{Kind: nodeapi.SpotInterruption, Action: "terminate"}); err != nil {
			t.Fatal(err)
		}
		if n := f.node(t, spot); n.State != berth.NodeDraining || n.Notice != nodeapi.SpotInterruption {
			t.Errorf("after a spot notice: %s, notice %q", n.State, n.Notice)
		}
		j := f.job(t, job)
		if j.State != berth.Running || j.Requeued != 0 || j.Reason != "spot reclaimed on i-0abc; stopping its container, then re-queued" {
			t.Errorf("job while its container stops: %s, requeued %d, %q; want running until it has stopped", j.State, j.Requeued, j.Reason)
		}
		as, err := f.store.Assignments(ctx, spot)
		if err != nil || len(as) != 1 || !as[0].Stop {
			t.Fatalf("assignments of the reclaimed node: %+v, %v; want its attempt, to stop", as, err)
		}
		f.reaper.Round(ctx, time.Now()) // nothing more to do
		if j := f.job(t, job); j.State != berth.Running {
			t.Errorf("after a reaper round the job is %s, want running until its container has stopped", j.State)
		}
		if _, err := f.store.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Stopped, ExitCode: new(143)}, time.Now()); err != nil {
			t.Fatal(err)
		}
		j = f.job(t, job)
		if a := j.Attempts[0]; a.Active() || a.Reason != "spot reclaimed on i-0abc" || j.State != berth.Queued ||
			j.Requeued != 1 || j.Retried != 0 || j.Reason != "spot reclaimed on i-0abc, re-queued" {
			t.Errorf("after the agent stopped it: attempt %+v, job %s, requeued %d, retried %d, %q", a, j.State, j.Requeued, j.Retried, j.Reason)
		}
	})
}

// TestDrainDeadline: a drained node's running job finishes unless the
// drain has a deadline; then, at the deadline, it is stopped and
// re-queued. Undrain makes the node ready again.
func TestDrainDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, time.Hour)
		ctx := context.Background()
		id := f.join(t, "n")
		job, att := f.run(t, id)
		deadline := time.Now().Add(time.Minute)
		if _, err := f.reg.Drain(ctx, id, &deadline, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(59 * time.Second)
		f.reaper.Round(ctx, time.Now())
		if j := f.job(t, job); j.State != berth.Running {
			t.Errorf("before the deadline the job is %s", j.State)
		}
		time.Sleep(time.Second)
		f.reaper.Round(ctx, time.Now())
		if j := f.job(t, job); j.State != berth.Running || j.Reason != "drained from n; stopping its container, then re-queued" {
			t.Errorf("at the deadline the job is %s, %q; want its container stopping", j.State, j.Reason)
		}
		if _, err := f.store.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Stopped, ExitCode: new(143)}, time.Now()); err != nil {
			t.Fatal(err)
		}
		if j := f.job(t, job); j.State != berth.Queued || j.Reason != "drained from n, re-queued" {
			t.Errorf("once its container stopped the job is %s, %q", j.State, j.Reason)
		}
		if n, err := f.reg.Undrain(ctx, id); err != nil || n.State != berth.NodeReady || n.DrainDeadline != nil {
			t.Errorf("undrain: %+v, %v", n, err)
		}
		lost := f.join(t, "gone")
		f.store.LoseNode(ctx, lost, "node lost", time.Now())
		if _, err := f.reg.Drain(ctx, lost, nil, ""); err == nil {
			t.Errorf("draining a lost node succeeded")
		}
	})
}

// TestNotifierAfterRestart: an agent that long-polled a server before it
// restarted holds a version the new server is past: it is answered at
// once, and woken by the next change.
func TestNotifierAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old := NewNotifier()
		for range 1000 {
			old.Notify("n")
		}
		v := old.Wait(context.Background(), "n", 0, time.Second)
		time.Sleep(time.Second) // the server restarts
		fresh := NewNotifier()
		start := time.Now()
		v2 := fresh.Wait(context.Background(), "n", v, time.Minute)
		if time.Since(start) != 0 || v2 <= v {
			t.Fatalf("Wait(since %d) on the new notifier took %s and gave %d, want at once and later", v, time.Since(start), v2)
		}
		go func() {
			time.Sleep(time.Second)
			fresh.Notify("n")
		}()
		start = time.Now()
		if v3 := fresh.Wait(context.Background(), "n", v2, time.Minute); v3 <= v2 || time.Since(start) != time.Second {
			t.Errorf("Wait woke after %s at %d, want after the notify at 1s", time.Since(start), v3)
		}
	})
}
