package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestCreateJob(t *testing.T) { forEachStore(t, testCreateJob) }

func testCreateJob(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	later := t0.Add(90 * time.Minute).In(paris)
	tests := []struct {
		name       string
		spec       berth.JobSpec
		wantState  berth.State
		wantNB     *time.Time
		wantCPU    float64
		wantMemory int64
	}{
		{"defaults", berth.JobSpec{Image: "busybox"}, berth.Queued, nil, berth.DefaultCPU, berth.DefaultMemoryMB},
		{"run_at in the past", berth.JobSpec{Image: "busybox", RunAt: new(t0.Add(-time.Hour))}, berth.Queued, nil, berth.DefaultCPU, berth.DefaultMemoryMB},
		{"run_at now", berth.JobSpec{Image: "busybox", RunAt: new(t0)}, berth.Queued, nil, berth.DefaultCPU, berth.DefaultMemoryMB},
		{"run_at later", berth.JobSpec{Image: "busybox", RunAt: &later, CPU: 2, MemoryMB: 4096}, berth.Scheduled, new(later.UTC()), 2, 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openStore(t)
			j := mustCreate(t, s, tt.spec, t0)
			if j.State != tt.wantState || j.Reason == "" {
				t.Errorf("state %s (reason %q), want %s with a reason", j.State, j.Reason, tt.wantState)
			}
			if !cmp.Equal(j.NotBefore, tt.wantNB) {
				t.Errorf("NotBefore = %v, want %v", j.NotBefore, tt.wantNB)
			}
			if j.NotBefore != nil && j.NotBefore.Location() != time.UTC {
				t.Errorf("NotBefore is in %v, want UTC", j.NotBefore.Location())
			}
			if j.CPU != tt.wantCPU || j.MemoryMB != tt.wantMemory {
				t.Errorf("resources %g/%d, want %g/%d", j.CPU, j.MemoryMB, tt.wantCPU, tt.wantMemory)
			}
			if j.Version != 1 || !j.CreatedAt.Equal(t0) || j.CreatedAt.Location() != time.UTC || j.Attempts == nil {
				t.Errorf("version %d, created %v, attempts %v; want 1, %v UTC, []", j.Version, j.CreatedAt, j.Attempts, t0)
			}
			got := mustJob(t, s, j.ID)
			if diff := cmp.Diff(j, got); diff != "" {
				t.Errorf("Job after CreateJob (-created +read):\n%s", diff)
			}
		})
	}
}

func TestCreateJobRefusesInvalidSpec(t *testing.T) { forEachStore(t, testCreateJobRefusesInvalidSpec) }

func testCreateJobRefusesInvalidSpec(t *testing.T) {
	s, _ := openStore(t)
	_, _, err := s.CreateJob(context.Background(), berth.JobSpec{Image: ""}, t0)
	var fe *berth.FieldError
	if !errors.As(err, &fe) || fe.Field != "image" {
		t.Errorf("CreateJob without an image = %v, want a FieldError on image", err)
	}
}

func TestCreateJobIdempotencyKey(t *testing.T) { forEachStore(t, testCreateJobIdempotencyKey) }

func testCreateJobIdempotencyKey(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	first := mustCreate(t, s, berth.JobSpec{Image: "busybox", IdempotencyKey: "abc"}, t0)
	again, created, err := s.CreateJob(ctx, berth.JobSpec{Image: "other", IdempotencyKey: "abc"}, t0.Add(time.Minute))
	if err != nil || created {
		t.Fatalf("CreateJob with a used key = %v, created %v; want the old job", err, created)
	}
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("job of a used key (-first +again):\n%s", diff)
	}
	other := mustCreate(t, s, berth.JobSpec{Image: "busybox", IdempotencyKey: "xyz"}, t0)
	if other.ID == first.ID {
		t.Errorf("another key returned the same job")
	}
	jobs, _, err := s.ListJobs(ctx, JobFilter{})
	if err != nil || len(jobs) != 2 {
		t.Errorf("ListJobs = %d jobs (%v), want 2", len(jobs), err)
	}
}

// TestCreateJobIdempotencyRace sends many calls with the same keys at once:
// each key yields exactly one job, and every call gets that job.
func TestCreateJobIdempotencyRace(t *testing.T) { forEachStore(t, testCreateJobIdempotencyRace) }

func testCreateJobIdempotencyRace(t *testing.T) {
	s, _ := openStore(t)
	const keys, callers = 5, 40
	type result struct {
		key     string
		id      string
		created bool
	}
	results := make(chan result, keys*callers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range keys * callers {
		key := string(rune('a' + i%keys))
		wg.Go(func() {
			<-start
			j, created, err := s.CreateJob(context.Background(), berth.JobSpec{Image: "busybox", IdempotencyKey: key}, t0)
			if err != nil {
				t.Errorf("CreateJob(%s) = %v", key, err)
				return
			}
			results <- result{key, j.ID, created}
		})
	}
	close(start)
	wg.Wait()
	close(results)
	ids := map[string]string{}
	createdN := map[string]int{}
	for r := range results {
		if id, ok := ids[r.key]; ok && id != r.id {
			t.Errorf("key %s gave jobs %s and %s", r.key, id, r.id)
		}
		ids[r.key] = r.id
		if r.created {
			createdN[r.key]++
		}
	}
	for k := range ids {
		if createdN[k] != 1 {
			t.Errorf("key %s: %d calls created a job, want 1", k, createdN[k])
		}
	}
	var n int
	s.r.QueryRow(`SELECT COUNT(*) FROM jobs`).Scan(&n)
	if n != keys {
		t.Errorf("%d jobs stored, want %d", n, keys)
	}
}

// TestCommitGroupDeduplicatesKeys commits one group in which two calls share
// a key: the second gets the first's job, created=false.
func TestCommitGroupDeduplicatesKeys(t *testing.T) { forEachStore(t, testCommitGroupDeduplicatesKeys) }

func testCommitGroupDeduplicatesKeys(t *testing.T) {
	s, _ := openStore(t)
	var group []*createReq
	for _, key := range []string{"k", "", "k", "other"} {
		j, b, err := newJob(berth.JobSpec{Image: "busybox", IdempotencyKey: key}, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, &createReq{job: j, spec: b, done: make(chan createRes, 1)})
	}
	s.commitGroup(group)
	var res []createRes
	for _, r := range group {
		res = append(res, <-r.done)
	}
	for i, want := range []bool{true, true, false, true} {
		if res[i].err != nil || res[i].created != want {
			t.Errorf("call %d: created %v, %v; want created %v", i, res[i].created, res[i].err, want)
		}
	}
	if res[2].job.ID != res[0].job.ID {
		t.Errorf("second call with key k got %s, want %s", res[2].job.ID, res[0].job.ID)
	}
}

// TestCommitGroupIsolatesFailures commits a group holding a call that
// cannot be inserted: only that call fails.
func TestCommitGroupIsolatesFailures(t *testing.T) { forEachStore(t, testCommitGroupIsolatesFailures) }

func testCommitGroupIsolatesFailures(t *testing.T) {
	s, _ := openStore(t)
	var group []*createReq
	for range 3 {
		j, b, err := newJob(berth.JobSpec{Image: "busybox"}, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		group = append(group, &createReq{job: j, spec: b, done: make(chan createRes, 1)})
	}
	group[1].job.ID = group[0].job.ID // a duplicate primary key
	s.commitGroup(group)
	for i, wantErr := range []bool{false, true, false} {
		r := <-group[i].done
		if (r.err != nil) != wantErr {
			t.Errorf("call %d: error %v, want error %v", i, r.err, wantErr)
		}
	}
	var n int
	s.r.QueryRow(`SELECT COUNT(*) FROM jobs`).Scan(&n)
	if n != 2 {
		t.Errorf("%d jobs stored, want 2", n)
	}
}

// TestCreateJobGroupsCommits holds the writer while many calls arrive:
// they wait, then commit together in a few transactions, not one each.
func TestCreateJobGroupsCommits(t *testing.T) { forEachStore(t, testCreateJobGroupsCommits) }

func testCreateJobGroupsCommits(t *testing.T) {
	s, _ := openStore(t)
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, _, err := s.CreateJob(context.Background(), berth.JobSpec{Image: "busybox"}, t0); err != nil {
				t.Errorf("CreateJob = %v", err)
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // the calls line up behind the held writer
	if got := s.groups.Load(); got != 0 {
		t.Fatalf("%d groups committed while the writer was held", got)
	}
	tx.Rollback()
	wg.Wait()
	if got := s.groups.Load(); got < 1 || got > 5 {
		t.Errorf("%d calls committed in %d groups, want a few", n, got)
	}
	var stored int
	s.r.QueryRow(`SELECT COUNT(*) FROM jobs`).Scan(&stored)
	if stored != n {
		t.Errorf("%d jobs stored, want %d", stored, n)
	}
}

func TestCreateJobConcurrentAllDurable(t *testing.T) {
	forEachStore(t, testCreateJobConcurrentAllDurable)
}

func testCreateJobConcurrentAllDurable(t *testing.T) {
	s, path := openStore(t)
	const n = 300
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			j, created, err := s.CreateJob(context.Background(), berth.JobSpec{Image: "busybox", Priority: i % 7}, t0)
			if err != nil || !created {
				t.Errorf("CreateJob = %v, created %v", err, created)
			}
			ids[i] = j.ID
		})
	}
	wg.Wait()
	s.Close()
	s2, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, id := range ids {
		if _, err := s2.Job(context.Background(), id); err != nil {
			t.Errorf("Job(%s) after reopening = %v", id, err)
		}
	}
}

func TestJobNotFound(t *testing.T) { forEachStore(t, testJobNotFound) }

func testJobNotFound(t *testing.T) {
	s, _ := openStore(t)
	if _, err := s.Job(context.Background(), "job_nope"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("Job(unknown) = %v, want ErrNotFound", err)
	}
}

func TestCancelJob(t *testing.T) { forEachStore(t, testCancelJob) }

func testCancelJob(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	queued := mustCreate(t, s, berth.JobSpec{Image: "busybox", CallbackURL: "https://cb.example/x"}, t0)
	running := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	att := mustPlace(t, s, running.ID, "n1", t0)

	now := t0.Add(time.Minute)
	j, err := s.CancelJob(ctx, queued.ID, "no longer needed", now)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != berth.Cancelled || j.Reason != "no longer needed" || j.Version != queued.Version+1 ||
		j.FinishedAt == nil || !j.FinishedAt.Equal(now) {
		t.Errorf("CancelJob = %+v, want cancelled with the reason, version %d, finished at %v", j, queued.Version+1, now)
	}
	cbs, err := s.DueCallbacks(ctx, now, 10)
	if err != nil || len(cbs) != 1 || cbs[0].JobID != queued.ID || cbs[0].URL != "https://cb.example/x" || !cbs[0].NextAt.Equal(now) {
		t.Fatalf("DueCallbacks = %+v, %v; want the callback of %s due at %v", cbs, err, queued.ID, now)
	}

	j, err = s.CancelJob(ctx, running.ID, "", now)
	if err != nil || j.State != berth.Cancelled || j.Reason != "cancelled" {
		t.Errorf("CancelJob(running) = %s %q, %v; want cancelled", j.State, j.Reason, err)
	}
	if a := j.CurrentAttempt(); a == nil || a.ID != att || !a.Active() {
		t.Errorf("attempt after cancel = %+v, want %s still active", a, att)
	}
	if cbs, _ := s.DueCallbacks(ctx, now, 10); len(cbs) != 1 {
		t.Errorf("a job without callback_url queued a callback: %+v", cbs)
	}

	if _, err := s.CancelJob(ctx, queued.ID, "", now); !errors.Is(err, berth.ErrConflict) {
		t.Errorf("CancelJob(cancelled) = %v, want ErrConflict", err)
	}
	if _, err := s.CancelJob(ctx, "job_nope", "", now); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("CancelJob(unknown) = %v, want ErrNotFound", err)
	}
}

func TestReleaseDueAndNextDue(t *testing.T) { forEachStore(t, testReleaseDueAndNextDue) }

func testReleaseDueAndNextDue(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if _, ok, err := s.NextDue(ctx); ok || err != nil {
		t.Errorf("NextDue on an empty store = %v, %v; want none", ok, err)
	}
	a := mustCreate(t, s, berth.JobSpec{Image: "busybox", RunAt: new(t0.Add(10 * time.Minute))}, t0)
	b := mustCreate(t, s, berth.JobSpec{Image: "busybox", RunAt: new(t0.Add(5 * time.Minute))}, t0)
	mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	if next, ok, err := s.NextDue(ctx); !ok || err != nil || !next.Equal(t0.Add(5*time.Minute)) || next.Location() != time.UTC {
		t.Errorf("NextDue = %v, %v, %v; want %v", next, ok, err, t0.Add(5*time.Minute))
	}
	if n, err := s.ReleaseDue(ctx, t0.Add(5*time.Minute-time.Nanosecond)); n != 0 || err != nil {
		t.Errorf("ReleaseDue before the first is due = %d, %v; want 0", n, err)
	}
	if n, err := s.ReleaseDue(ctx, t0.Add(5*time.Minute)); n != 1 || err != nil {
		t.Errorf("ReleaseDue at the first's time = %d, %v; want 1", n, err)
	}
	if j := mustJob(t, s, b.ID); j.State != berth.Queued || j.Version != 2 {
		t.Errorf("released job is %s at version %d, want queued at 2", j.State, j.Version)
	}
	if j := mustJob(t, s, a.ID); j.State != berth.Scheduled {
		t.Errorf("job not yet due is %s, want scheduled", j.State)
	}
	if next, ok, _ := s.NextDue(ctx); !ok || !next.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("NextDue = %v, %v; want %v", next, ok, t0.Add(10*time.Minute))
	}
}

func TestQueuedOrder(t *testing.T) { forEachStore(t, testQueuedOrder) }

func testQueuedOrder(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	low := mustCreate(t, s, berth.JobSpec{Image: "busybox", Priority: -1}, t0)
	old := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	young := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0.Add(time.Second))
	high := mustCreate(t, s, berth.JobSpec{Image: "busybox", Priority: 5}, t0.Add(2*time.Second))
	mustCreate(t, s, berth.JobSpec{Image: "busybox", RunAt: new(t0.Add(time.Hour))}, t0)
	cancelled := mustCreate(t, s, berth.JobSpec{Image: "busybox", Priority: 9}, t0)
	if _, err := s.CancelJob(ctx, cancelled.ID, "", t0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Queued(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range got {
		ids = append(ids, j.ID)
		if j.Attempts != nil {
			t.Errorf("Queued loaded the attempts of %s", j.ID)
		}
	}
	if want := []string{high.ID, old.ID, young.ID, low.ID}; !cmp.Equal(ids, want) {
		t.Errorf("Queued = %v, want %v", ids, want)
	}
	if got, _ := s.Queued(ctx, 2); len(got) != 2 {
		t.Errorf("Queued(2) returned %d jobs", len(got))
	}
}

func TestSetReasons(t *testing.T) { forEachStore(t, testSetReasons) }

func testSetReasons(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 4096)
	a := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	b := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	placed := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	mustPlace(t, s, placed.ID, "n1", t0)
	placed = mustJob(t, s, placed.ID)
	now := t0.Add(time.Minute)
	err := s.SetReasons(ctx, map[string]string{
		a.ID:      "waiting for capacity: largest free slot 1 vCPU",
		b.ID:      b.Reason, // unchanged
		placed.ID: "should not land",
		"job_x":   "unknown",
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	ga, gb, gp := mustJob(t, s, a.ID), mustJob(t, s, b.ID), mustJob(t, s, placed.ID)
	if ga.Reason != "waiting for capacity: largest free slot 1 vCPU" || ga.Version != a.Version || !ga.UpdatedAt.Equal(now) {
		t.Errorf("job a: reason %q version %d updated %v; want the new reason, version %d, updated %v", ga.Reason, ga.Version, ga.UpdatedAt, a.Version, now)
	}
	if diff := cmp.Diff(b, gb); diff != "" {
		t.Errorf("job with an unchanged reason changed:\n%s", diff)
	}
	if diff := cmp.Diff(placed, gp, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("job that is no longer queued changed:\n%s", diff)
	}
}
