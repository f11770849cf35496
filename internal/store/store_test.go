package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/pgtest"
	"github.com/google/go-cmp/cmp"
)

// t0 is the time the tests start at.
var t0 = time.Date(2031, 3, 4, 5, 6, 7, 891011121, time.UTC)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// forEachStore runs test once on each engine, as subtests named after the
// dialect ("TestX/sqlite", "TestX/postgres"): the conformance suite of the
// store. Inside them, openStore and newLocator give a store of the
// subtest's engine. Without PostgreSQL the postgres subtests are skipped,
// or fail with BERTH_REQUIRE_POSTGRES=1.
func forEachStore(t *testing.T, test func(t *testing.T)) {
	for _, d := range []Dialect{SQLite, Postgres} {
		t.Run(string(d), test)
	}
}

// testDialect is the engine of t: the dialect forEachStore named t or an
// ancestor of it after; SQLite for a test that is not under forEachStore.
func testDialect(t testing.TB) Dialect {
	parts := strings.Split(t.Name(), "/")
	if len(parts) > 1 && parts[1] == string(Postgres) {
		return Postgres
	}
	return SQLite
}

// newLocator returns where a new, empty store of t's engine opens: a file
// in a temporary directory, or a new PostgreSQL database.
func newLocator(t testing.TB) string {
	t.Helper()
	if testDialect(t) == Postgres {
		return pgtest.URL(t)
	}
	return filepath.Join(t.TempDir(), "berth.db")
}

// openStore opens a new store of t's engine (newLocator) and closes it at
// the end of the test. It returns where it opened it, for opening again.
func openStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := newLocator(t)
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return s, path
}

// mustCreate creates a job from spec at now.
func mustCreate(t *testing.T, s *Store, spec berth.JobSpec, now time.Time) berth.Job {
	t.Helper()
	j, created, err := s.CreateJob(context.Background(), spec, now)
	if err != nil || !created {
		t.Fatalf("CreateJob(%+v) = %v, created %v", spec, err, created)
	}
	return j
}

// mustJob reads a job.
func mustJob(t *testing.T, s *Store, id string) berth.Job {
	t.Helper()
	j, err := s.Job(context.Background(), id)
	if err != nil {
		t.Fatalf("Job(%s) = %v", id, err)
	}
	return j
}

// mustNode registers a ready, healthy node.
func mustNode(t *testing.T, s *Store, id string, cpu float64, mem int64) berth.Node {
	t.Helper()
	n, err := s.UpsertNode(context.Background(), berth.Node{ID: id, Name: id + "-name", Pool: "baseline",
		State: berth.NodeReady, Healthy: true, CPU: cpu, MemoryMB: mem}, t0)
	if err != nil {
		t.Fatalf("UpsertNode(%s) = %v", id, err)
	}
	return n
}

// mustPlace places a queued job on a node and returns the attempt id.
func mustPlace(t *testing.T, s *Store, jobID, nodeID string, now time.Time) string {
	t.Helper()
	j := mustJob(t, s, jobID)
	p := Placement{JobID: jobID, JobVersion: j.Version, NodeID: nodeID, AttemptID: berth.NewID("att", now)}
	done, err := s.Place(context.Background(), []Placement{p}, now)
	if err != nil || len(done) != 1 {
		t.Fatalf("Place(%+v) = %v, %v; want it placed", p, done, err)
	}
	return p.AttemptID
}

func TestOpenSetsPragmas(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	for _, c := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
		{"auto_vacuum", "2"}, // INCREMENTAL
	} {
		var got string
		if err := s.w.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", c.pragma, err)
		}
		if got != c.want {
			t.Errorf("writer PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
	var qo string
	if err := s.r.QueryRowContext(ctx, "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("reader PRAGMA query_only = %q, %v; want 1", qo, err)
	}
	if _, err := s.r.ExecContext(ctx, `DELETE FROM jobs`); err == nil {
		t.Errorf("a reader connection deleted rows; want it read-only")
	}
}

func TestOpenRefusesURIs(t *testing.T) {
	for _, p := range []string{"", "file:x.db", "x.db?mode=memory"} {
		if s, err := Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) = nil error, want one", p)
		}
	}
}

func TestMigrationsApplyOnce(t *testing.T) { forEachStore(t, testMigrationsApplyOnce) }

func testMigrationsApplyOnce(t *testing.T) {
	s, path := openStore(t)
	ctx := context.Background()
	ms, err := loadMigrations(migrations, s.dialect)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("loadMigrations = %v, want 0001 first", ms)
	}
	applied, err := migrate(ctx, s.w, s.dialect, ms, t0)
	if err != nil || len(applied) != 0 {
		t.Errorf("migrate on an up-to-date database = %v, %v; want nothing applied", applied, err)
	}
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(ms) {
		t.Errorf("schema_migrations has %d rows (%v), want %d", n, err, len(ms))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	var names []string
	rows, err := s2.r.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		names = append(names, name)
	}
	rows.Close()
	var want []string
	for _, m := range ms {
		want = append(want, m.name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("after reopening, schema_migrations = %v, want %v", names, want)
	}
}

func TestMigrateAppliesPendingInOrder(t *testing.T) {
	forEachStore(t, testMigrateAppliesPendingInOrder)
}

func testMigrateAppliesPendingInOrder(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	ms, err := loadMigrations(migrations, s.dialect)
	if err != nil {
		t.Fatal(err)
	}
	last := ms[len(ms)-1].version
	more := append(slices.Clone(ms),
		migration{version: last + 2, name: "b.sql", sql: `CREATE TABLE t2 (x INTEGER); INSERT INTO t2 SELECT COUNT(*) FROM t1`},
		migration{version: last + 1, name: "a.sql", sql: `CREATE TABLE t1 (x INTEGER)`},
	)
	slices.SortFunc(more, func(a, b migration) int { return a.version - b.version })
	applied, err := migrate(ctx, s.w, s.dialect, more, t0)
	if err != nil {
		t.Fatalf("migrate = %v", err)
	}
	if want := []int{last + 1, last + 2}; !slices.Equal(applied, want) {
		t.Errorf("migrate applied %v, want %v", applied, want)
	}
	// A failing migration leaves nothing behind and is not recorded.
	bad := append(slices.Clone(more), migration{version: last + 3, name: "c.sql", sql: `CREATE TABLE t3 (x INTEGER); SELECT nope FROM nowhere`})
	if _, err := migrate(ctx, s.w, s.dialect, bad, t0); err == nil {
		t.Fatalf("migrate with a broken migration = nil, want an error")
	}
	if _, err := s.w.ExecContext(ctx, `SELECT COUNT(*) FROM t3`); err == nil {
		t.Errorf("a failed migration left table t3 behind")
	}
	// A database newer than the code is refused.
	if _, err := migrate(ctx, s.w, s.dialect, ms, t0); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("migrate with fewer migrations than the database has = %v, want %v", err, ErrSchemaTooNew)
	}
}

// TestOpenRefusesNewerSchema: a server never runs against a schema newer
// than it knows; the database is left as it was.
func TestOpenRefusesNewerSchema(t *testing.T) { forEachStore(t, testOpenRefusesNewerSchema) }

func testOpenRefusesNewerSchema(t *testing.T) {
	s, loc := openStore(t)
	ctx := context.Background()
	ms, err := loadMigrations(migrations, s.dialect)
	if err != nil {
		t.Fatal(err)
	}
	next := ms[len(ms)-1].version + 1
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		next, "from_the_future.sql", ts(t0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s2, err := Open(ctx, loc); !errors.Is(err, ErrSchemaTooNew) {
		if err == nil {
			s2.Close()
		}
		t.Fatalf("Open against schema version %d = %v, want %v", next, err, ErrSchemaTooNew)
	}
}

func TestReopenKeepsEverything(t *testing.T) { forEachStore(t, testReopenKeepsEverything) }

func testReopenKeepsEverything(t *testing.T) {
	s, path := openStore(t)
	ctx := context.Background()
	mustNode(t, s, "n1", 4, 8192)
	a := mustCreate(t, s, berth.JobSpec{Image: "busybox", Labels: map[string]string{"team": "x"},
		CallbackURL: "http://cb.example/done", Retries: berth.RetryPolicy{Attempts: 2}}, t0)
	b := mustCreate(t, s, berth.JobSpec{Image: "busybox", RunAt: new(t0.Add(time.Hour)), IdempotencyKey: "k"}, t0)
	att := mustPlace(t, s, a.ID, "n1", t0.Add(time.Second))
	if _, err := s.AttemptStarted(ctx, att, "c1", t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, t0.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	sch, err := s.CreateSchedule(ctx, berth.ScheduleSpec{Cron: "@hourly", Job: berth.JobSpec{Image: "busybox"}}, t0.Add(time.Hour), t0)
	if err != nil {
		t.Fatal(err)
	}
	wantA, wantB := mustJob(t, s, a.ID), mustJob(t, s, b.ID)
	wantNodes, _ := s.Nodes(ctx)
	wantCBs, _ := s.DueCallbacks(ctx, t0.Add(time.Hour), 10)
	if len(wantCBs) != 1 {
		t.Fatalf("DueCallbacks = %v, want the callback of %s", wantCBs, a.ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	for _, want := range []berth.Job{wantA, wantB} {
		got, err := s2.Job(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("job %s after reopening (-before +after):\n%s", want.ID, diff)
		}
	}
	if got, _ := s2.Nodes(ctx); !cmp.Equal(got, wantNodes) {
		t.Errorf("Nodes after reopening = %+v, want %+v", got, wantNodes)
	}
	if got, _ := s2.DueCallbacks(ctx, t0.Add(time.Hour), 10); !cmp.Equal(got, wantCBs) {
		t.Errorf("DueCallbacks after reopening = %+v, want %+v", got, wantCBs)
	}
	if got, err := s2.Schedule(ctx, sch.ID); err != nil || !cmp.Equal(got, sch) {
		t.Errorf("Schedule after reopening = %+v, %v; want %+v", got, err, sch)
	}
	if j, created, err := s2.CreateJob(ctx, berth.JobSpec{Image: "other", IdempotencyKey: "k"}, t0); err != nil || created || j.ID != b.ID {
		t.Errorf("CreateJob with a stored key after reopening = %s, created %v, %v; want %s, false", j.ID, created, err, b.ID)
	}
}

func TestClosedStoreRefusesCreate(t *testing.T) { forEachStore(t, testClosedStoreRefusesCreate) }

func testClosedStoreRefusesCreate(t *testing.T) {
	s, _ := openStore(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateJob(context.Background(), berth.JobSpec{Image: "busybox"}, t0); !errors.Is(err, errClosed) {
		t.Errorf("CreateJob after Close = %v, want %v", err, errClosed)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
