package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/nodeapi"
)

// retentionJobs are jobs of every kind around a cutoff of t0+48h, seen at
// t0+72h, on a Spot host whose price moves and on a serverless pool.
type retentionJobs struct {
	expired []string // in the order ExpiredJobs finds them
	kept    []string
}

func seedRetention(t *testing.T, s *Store) retentionJobs {
	t.Helper()
	ctx := context.Background()
	joinReady(t, s, "n1", "spot", 4, 8192, nodeapi.Facts{InstanceID: "i-1", InstanceType: "m5.xlarge", Market: "spot", Price: 0.08})
	joinReady(t, s, "sl", "overflow", 1024, 1<<20, nodeapi.Facts{})
	if err := s.RecordPrices(ctx, []PricePoint{
		{Pool: "spot", InstanceType: "m5.xlarge", At: t0.Add(10 * time.Minute), Price: 0.08},
		{Pool: "spot", InstanceType: "m5.xlarge", At: t0.Add(20 * time.Hour), Price: 0.16},
	}); err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	spec := func(team string) berth.JobSpec {
		sp := berth.JobSpec{Image: "x", CPU: 1, MemoryMB: 2048}
		if team != "" {
			sp.Labels = map[string]string{"team": team, "env": "prod"}
		}
		return sp.WithDefaults()
	}
	run := func(id, node string, from, to time.Duration, exit int) {
		t.Helper()
		att := mustPlace(t, s, id, node, at(from))
		if _, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(exit)}, at(to)); err != nil {
			t.Fatal(err)
		}
	}
	cancel := func(id string, d time.Duration) {
		t.Helper()
		if _, err := s.CancelJob(ctx, id, "", at(d)); err != nil {
			t.Fatal(err)
		}
	}
	retain := func(id string, d time.Duration) {
		t.Helper()
		if _, err := s.w.ExecContext(ctx, `UPDATE jobs SET retain_seconds = ? WHERE id = ?`, int64(d.Seconds()), id); err != nil {
			t.Fatal(err)
		}
	}

	// Across a midnight, at two prices.
	overnight := mustCreate(t, s, spec("ml"), t0)
	run(overnight.ID, "n1", 10*time.Hour, 22*time.Hour, 0)
	// Failed twice, the second time on the serverless pool; its callback
	// is still in the outbox.
	webSpec := spec("web")
	webSpec.Retries = berth.RetryPolicy{Attempts: 1, Backoff: berth.Duration(time.Minute)}
	webSpec.CallbackURL = "https://cb.example/web"
	web := mustCreate(t, s, webSpec, t0)
	run(web.ID, "n1", time.Hour, 2*time.Hour, 1)
	if _, err := s.ReleaseDue(ctx, at(2*time.Hour+2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	j := mustJob(t, s, web.ID)
	held := Held{Pool: "overflow", Market: berth.OnDemand, Price: 0.36, Share: 1}
	if _, err := s.Place(ctx, []Placement{{JobID: web.ID, JobVersion: j.Version, NodeID: "sl", AttemptID: "att_web2", Held: &held}}, at(2*time.Hour+2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishAttempt(ctx, "att_web2", berth.Outcome{Kind: berth.Exited, ExitCode: new(1)}, at(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Cancelled before it ran.
	unrun := mustCreate(t, s, spec(""), t0)
	cancel(unrun.ID, time.Hour)
	// Cancelled while it ran: its attempt has not ended, so it is kept.
	stopping := mustCreate(t, s, spec("ml"), t0)
	mustPlace(t, s, stopping.ID, "n1", at(time.Hour))
	cancel(stopping.ID, 2*time.Hour)
	// Finished after the cutoff.
	recent := mustCreate(t, s, spec("ml"), t0)
	run(recent.ID, "n1", 50*time.Hour, 51*time.Hour, 0)
	// Never ran.
	queued := mustCreate(t, s, spec("ml"), t0)
	// Its own retention, an hour, ended at +61h; set before it finished.
	short := mustCreate(t, s, spec("data"), t0)
	retain(short.ID, time.Hour)
	run(short.ID, "n1", 49*time.Hour, 60*time.Hour, 0)
	// Its own retention, 1000 hours, outlives the server's; set after.
	long := mustCreate(t, s, spec("data"), t0)
	cancel(long.ID, time.Hour)
	retain(long.ID, 1000*time.Hour)

	return retentionJobs{
		expired: []string{unrun.ID, web.ID, overnight.ID, short.ID},
		kept:    []string{stopping.ID, recent.ID, queued.ID, long.ID},
	}
}

// costReport is what GET /v1/cost answers for each grouping, with the
// hosts' idle time apart.
func costReport(t *testing.T, s *Store, since, now time.Time) map[string]map[string]float64 {
	t.Helper()
	l, err := s.Ledger(context.Background(), since, now)
	if err != nil {
		t.Fatal(err)
	}
	var idle cost.Ledger
	for _, x := range l {
		if x.Idle() {
			idle = append(idle, x)
		}
	}
	out := map[string]map[string]float64{"total": {"all": l.Total(), "idle": idle.Total()}}
	for name, ledger := range map[string]cost.Ledger{"": l, "idle ": idle} {
		out[name+"pool"] = ledger.By(cost.ByPool)
		out[name+"market"] = ledger.By(cost.ByMarket)
		out[name+"day"] = ledger.ByDay(time.UTC)
		out[name+"label:team"] = ledger.By(cost.ByLabel("team"))
		out[name+"label:env"] = ledger.By(cost.ByLabel("env"))
		out[name+"label:none"] = ledger.By(cost.ByLabel("none"))
	}
	return out
}

// TestDeleteExpiredJobs: with the server's cutoff at +48h, seen at +72h,
// exactly the jobs that finished before the cutoff (their attempts all
// ended) and those whose own retention ended are deleted, with their
// attempts, labels and callbacks; the rest are kept; the counts follow;
// and the cost report, by every grouping and from several starts, is what
// it was before.
func TestDeleteExpiredJobs(t *testing.T) { forEachStore(t, testDeleteExpiredJobs) }

func testDeleteExpiredJobs(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	jobs := seedRetention(t, s)
	cutoff, now := t0.Add(48*time.Hour), t0.Add(72*time.Hour)
	sinces := []time.Time{
		{},
		time.Date(2031, 3, 5, 0, 0, 0, 0, time.UTC), // a midnight between the deleted jobs' attempts
		t0.Add(49 * time.Hour),                      // as the job with its own retention starts
		t0.Add(62 * time.Hour),                      // after every deleted attempt
	}
	before := map[time.Time]map[string]map[string]float64{}
	for _, since := range sinces {
		before[since] = costReport(t, s, since, now)
	}

	got, err := s.ExpiredJobs(ctx, cutoff, now, 100)
	if err != nil || !slices.Equal(got, jobs.expired) {
		t.Fatalf("ExpiredJobs(cutoff +48h, now +72h) = %v, %v; want %v", got, err, jobs.expired)
	}
	if got, _ := s.ExpiredJobs(ctx, cutoff, now, 2); !slices.Equal(got, jobs.expired[:2]) {
		t.Errorf("ExpiredJobs(limit 2) = %v, want the two oldest %v", got, jobs.expired[:2])
	}
	if got, _ := s.ExpiredJobs(ctx, time.Time{}, now, 100); !slices.Equal(got, jobs.expired[3:]) {
		t.Errorf("ExpiredJobs(no cutoff: the server keeps its jobs) = %v, want only the one with its own retention %v", got, jobs.expired[3:])
	}
	if got, _ := s.ExpiredJobs(ctx, cutoff, t0.Add(60*time.Hour), 100); !slices.Equal(got, jobs.expired[:3]) {
		t.Errorf("ExpiredJobs(now +60h) = %v, want %v: the last one's own retention has not ended", got, jobs.expired[:3])
	}

	// Not expired: nothing happens to them.
	if deleted, err := s.DeleteJobs(ctx, jobs.kept, cutoff, now); err != nil || len(deleted) != 0 {
		t.Errorf("DeleteJobs(kept jobs) = %v, %v; want none deleted", deleted, err)
	}
	deleted, err := s.DeleteJobs(ctx, append(slices.Clone(jobs.expired), "job_unknown"), cutoff, now)
	if slices.Sort(deleted); err != nil || !slices.Equal(deleted, slices.Sorted(slices.Values(jobs.expired))) {
		t.Fatalf("DeleteJobs = %v, %v; want %v", deleted, err, jobs.expired)
	}
	for _, id := range jobs.expired {
		if _, err := s.Job(ctx, id); !errors.Is(err, berth.ErrNotFound) {
			t.Errorf("Job(%s) after its deletion = %v, want ErrNotFound", id, err)
		}
	}
	for _, id := range jobs.kept {
		mustJob(t, s, id)
	}
	for _, table := range []string{"attempts", "job_labels", "callbacks"} {
		var n int
		args := make([]any, len(jobs.expired))
		for i, id := range jobs.expired {
			args[i] = id
		}
		q := `SELECT count(*) FROM ` + table + ` WHERE job_id IN (?` + strings.Repeat(",?", len(args)-1) + `)`
		if err := s.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s of deleted jobs: %d rows, %v; want none", table, n, err)
		}
	}
	assertCounts(t, s)
	for _, since := range sinces {
		after := costReport(t, s, since, now)
		if diff := cmp.Diff(before[since], after, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
			t.Errorf("cost report since %v changed with the deletion (-before +after):\n%s", since, diff)
		}
	}
	if again, err := s.DeleteJobs(ctx, jobs.expired, cutoff, now); err != nil || len(again) != 0 {
		t.Errorf("DeleteJobs again = %v, %v; want nothing more", again, err)
	}
}

// TestRollupWithinADay: a report that starts within the span of a day's
// deleted attempts takes the part of it after its start.
func TestRollupWithinADay(t *testing.T) { forEachStore(t, testRollupWithinADay) }

func testRollupWithinADay(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	joinReady(t, s, "sl", "overflow", 1024, 1<<20, nodeapi.Facts{})
	j := mustCreate(t, s, berth.JobSpec{Image: "x"}.WithDefaults(), t0)
	held := Held{Pool: "overflow", Market: berth.OnDemand, Price: 1, Share: 1}
	if _, err := s.Place(ctx, []Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: "sl", AttemptID: "att_1", Held: &held}}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishAttempt(ctx, "att_1", berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if deleted, err := s.DeleteJobs(ctx, []string{j.ID}, t0.Add(5*time.Hour), t0.Add(5*time.Hour)); err != nil || len(deleted) != 1 {
		t.Fatalf("DeleteJobs = %v, %v", deleted, err)
	}
	for _, tt := range []struct {
		since time.Duration
		want  float64
	}{{-time.Hour, 4}, {0, 4}, {time.Hour, 3}, {3 * time.Hour, 1}, {4 * time.Hour, 0}, {5 * time.Hour, 0}} {
		l, err := s.Ledger(ctx, t0.Add(tt.since), t0.Add(6*time.Hour))
		if err != nil || !cmp.Equal(l.Total(), tt.want, cmpopts.EquateApprox(0, 1e-9)) {
			t.Errorf("Ledger(since %+v) = %v, %v; want $%v", tt.since, l, err, tt.want)
		}
	}
}

// assertCounts checks CountJobs against a count of the table.
func assertCounts(t *testing.T, s *Store) {
	t.Helper()
	got, err := s.CountJobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[berth.State]int{}
	rows, err := s.r.Query(`SELECT state, count(*) FROM jobs GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			t.Fatal(err)
		}
		want[berth.State(st)] = n
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CountJobs() against a count of the table (-want +got):\n%s", diff)
	}
}

// TestCountsFollowEveryChange: the counts are right after jobs are
// created (one by one and in bulk), released, placed, finished, retried,
// cancelled and deleted.
func TestCountsFollowEveryChange(t *testing.T) { forEachStore(t, testCountsFollowEveryChange) }

func testCountsFollowEveryChange(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if err := seedJobs(ctx, s, 100, t0); err != nil { // first: it labels every job
		t.Fatal(err)
	}
	assertCounts(t, s)
	seedRetention(t, s)
	assertCounts(t, s)
	ids, err := s.ExpiredJobs(ctx, t0.Add(1000*time.Hour), t0.Add(1000*time.Hour), 50)
	if err != nil || len(ids) != 50 {
		t.Fatalf("ExpiredJobs = %d, %v; want 50", len(ids), err)
	}
	if _, err := s.DeleteJobs(ctx, ids, t0.Add(1000*time.Hour), t0.Add(1000*time.Hour)); err != nil {
		t.Fatal(err)
	}
	assertCounts(t, s)
}

// TestTerminalStatesInSQL: the SQL that finds finished jobs names exactly
// berth's terminal states.
func TestTerminalStatesInSQL(t *testing.T) { forEachStore(t, testTerminalStatesInSQL) }

func testTerminalStatesInSQL(t *testing.T) {
	var want []string
	for _, st := range berth.States {
		if st.Terminal() {
			want = append(want, fmt.Sprintf("'%s'", st))
		}
	}
	if in := "j.state IN (" + strings.Join(want, ", ") + ")"; !strings.Contains(endedSQL, in) {
		t.Errorf("endedSQL = %q, want it to hold %q", endedSQL, in)
	}
}

// TestRetentionQueryPlans: finding expired jobs walks the partial indexes,
// however many jobs there are.
func TestRetentionQueryPlans(t *testing.T) {
	s, _ := openStore(t)
	for _, q := range []struct{ sql, index string }{
		{expiredByServerSQL, "jobs_finished"},
		{expiredByOwnSQL, "jobs_expires"},
	} {
		rows, err := s.r.Query(`EXPLAIN QUERY PLAN `+q.sql, "x", 10)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		if !strings.Contains(text, "INDEX "+q.index) || strings.Contains(text, "SCAN j ") || strings.Contains(text, "TEMP B-TREE") {
			t.Errorf("plan %q: want a walk of %s, no scan or sort", text, q.index)
		}
	}
}

// TestCompact: after deleting most of 20,000 jobs, Compact gives the free
// pages back (the file shrinks) and truncates the write-ahead log.
func TestCompact(t *testing.T) {
	s, path := openStore(t)
	ctx := context.Background()
	if err := seedJobs(ctx, s, 20_000, t0); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(1000 * time.Hour)
	for {
		ids, err := s.ExpiredJobs(ctx, end, end, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 {
			break
		}
		if _, err := s.DeleteJobs(ctx, ids, end, end); err != nil {
			t.Fatal(err)
		}
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	var free int
	if err := s.w.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil || free == 0 {
		t.Fatalf("free pages after the deletions = %d, %v; want some", free, err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	before := size(path)
	freed, err := s.Compact(ctx)
	if err != nil || freed < free {
		t.Fatalf("Compact() = %d pages, %v; want the %d free ones", freed, err, free)
	}
	if err := s.w.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil || free != 0 {
		t.Errorf("free pages after Compact = %d, %v; want 0", free, err)
	}
	if after := size(path); after >= before-int64(freed/2)*4096 {
		t.Errorf("database file %d bytes after Compact, %d before; want it smaller by about %d pages", after, before, freed)
	}
	if wal := size(path + "-wal"); wal != 0 {
		t.Errorf("write-ahead log %d bytes after Compact, want it truncated", wal)
	}
	assertCounts(t, s)
}

// TestLedgersAtOnce: many cost reports at once, each reading one snapshot
// with prices to look up, all finish: none holds a reader while it waits
// for another.
func TestLedgersAtOnce(t *testing.T) { forEachStore(t, testLedgersAtOnce) }

func testLedgersAtOnce(t *testing.T) {
	s, _ := openStore(t)
	seedRetention(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make(chan error)
	const n = 64
	for range n {
		go func() {
			_, err := s.Ledger(ctx, time.Time{}, t0.Add(72*time.Hour))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("Ledger() = %v", err)
		}
	}
}
