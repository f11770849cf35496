package store

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// TestJobOptionsMigration: jobs and schedules stored with the labels
// berth.pool and berth.start-budget carry them as the fields pool and
// start_budget once migration 0010 has run, and the pool column follows.
func TestJobOptionsMigration(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	j := mustCreate(t, s, berth.JobSpec{Image: "x", Labels: map[string]string{"team": "web"}}.WithDefaults(), t0)
	other := mustCreate(t, s, berth.JobSpec{Image: "x"}.WithDefaults(), t0)
	if _, err := s.w.ExecContext(ctx, `UPDATE jobs SET spec = json_set(spec, '$.labels', json('{"berth.pool":"spot","berth.start-budget":"45s","team":"web"}')) WHERE id = ?`, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE jobs SET spec = json_set(spec, '$.labels', json('{"berth.pool":"gpu"}')) WHERE id = ?`, other.ID); err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(migrations, "migrations/0010_job_options.sql")
	if err != nil {
		t.Fatal(err)
	}
	// Its data steps again, on rows written the old way (the column and
	// the index exist already).
	for _, stmt := range strings.Split(string(b), ";") {
		stmt = strings.TrimSpace(stmt)
		var lines []string
		for _, l := range strings.Split(stmt, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		stmt = strings.TrimSpace(strings.Join(lines, "\n"))
		if stmt == "" || strings.HasPrefix(stmt, "ALTER") || strings.HasPrefix(stmt, "CREATE") {
			continue
		}
		if _, err := s.w.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	got, err := s.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pool != "spot" || got.StartBudget == nil || *got.StartBudget != berth.Duration(45e9) || len(got.Labels) != 1 || got.Labels["team"] != "web" {
		t.Errorf("after the migration: pool %q, start budget %v, labels %v; want spot, 45s, team only", got.Pool, got.StartBudget, got.Labels)
	}
	if got, err := s.Job(ctx, other.ID); err != nil || got.Pool != "gpu" || got.Labels != nil {
		t.Errorf("after the migration: %+v, %v; want pool gpu and no labels", got.JobSpec, err)
	}
	var pool string
	if err := s.r.QueryRowContext(ctx, `SELECT pool FROM jobs WHERE id = ?`, j.ID).Scan(&pool); err != nil || pool != "spot" {
		t.Errorf("pool column = %q, %v; want spot", pool, err)
	}
}

// TestJobRetainColumn: a job's own retain reaches the column the retention
// loop reads; without one it is NULL (the server's --retain applies).
func TestJobRetainColumn(t *testing.T) { forEachStore(t, testJobRetainColumn) }

func testJobRetainColumn(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	keep := berth.Duration(2 * time.Minute)
	own := mustCreate(t, s, berth.JobSpec{Image: "x", Retain: &keep}.WithDefaults(), t0)
	plain := mustCreate(t, s, berth.JobSpec{Image: "x"}.WithDefaults(), t0)
	for id, want := range map[string]any{own.ID: int64(120), plain.ID: nil} {
		var got any
		if err := s.r.QueryRowContext(ctx, `SELECT retain_seconds FROM jobs WHERE id = ?`, id).Scan(&got); err != nil || got != want {
			t.Errorf("retain_seconds of %s = %v, %v; want %v", id, got, err, want)
		}
	}
}

// TestAttemptEndsWhenItsContainerDid: an attempt reported late (its
// container ended while the server was down) ends when its container did,
// if that lies between its start and the report; else at the report.
func TestAttemptEndsWhenItsContainerDid(t *testing.T) {
	forEachStore(t, testAttemptEndsWhenItsContainerDid)
}

func testAttemptEndsWhenItsContainerDid(t *testing.T) {
	for _, tt := range []struct {
		name string
		at   time.Duration // from t0, when the container ended
		want time.Duration // from t0, the attempt's end
	}{
		{"ended while the server was down", 10 * time.Minute, 10 * time.Minute},
		{"said to end before it began", -time.Minute, time.Hour},
		{"said to end after the report", 2 * time.Hour, time.Hour},
	} {
		s, _ := openStore(t)
		ctx := context.Background()
		if _, err := s.UpsertNode(ctx, berth.Node{ID: "n", Pool: "default", State: berth.NodeReady, Healthy: true, CPU: 1, MemoryMB: 512}, t0); err != nil {
			t.Fatal(err)
		}
		placeOne(t, s, "n")
		as, err := s.Assignments(ctx, "n")
		if err != nil || len(as) != 1 {
			t.Fatalf("assignments: %v %v", as, err)
		}
		at := t0.Add(tt.at)
		j, err := s.FinishAttempt(ctx, as[0].Attempt.ID, berth.Outcome{Kind: berth.Exited, ExitCode: new(0), At: &at}, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got := j.Attempts[0].FinishedAt; got == nil || !got.Equal(t0.Add(tt.want)) {
			t.Errorf("%s: the attempt ended at %v, want %v", tt.name, got, t0.Add(tt.want))
		}
	}
}
