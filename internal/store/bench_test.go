package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// BenchmarkCreateJobParallel creates single jobs from many goroutines at
// once, each call durable (WAL, synchronous=FULL; on PostgreSQL, as durable
// as the server is: run it against one with fsync on, BERTH_POSTGRES_URL)
// before it returns.
func BenchmarkCreateJobParallel(b *testing.B) {
	for _, d := range []Dialect{SQLite, Postgres} {
		b.Run(string(d), benchmarkCreateJobParallel)
	}
}

func benchmarkCreateJobParallel(b *testing.B) {
	for _, goroutines := range []int{16, 128, 512} {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			s, err := Open(context.Background(), newLocator(b))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			spec := berth.JobSpec{Image: "registry.example/batch:1.4", Command: []string{"run", "--shard", "7"},
				Env: map[string]string{"MODE": "full"}, Labels: map[string]string{"team": "data", "env": "prod"},
				Retries: berth.RetryPolicy{Attempts: 2}, CallbackURL: "https://hooks.example/berth"}
			b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := s.CreateJob(context.Background(), spec, time.Now()); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
			b.ReportMetric(float64(b.N)/float64(max(1, s.groups.Load())), "jobs/commit")
		})
	}
}

// BenchmarkListQueued1M lists pages of a store holding 1,000,000 jobs (10%
// queued), walking the pages with their cursors, and reports the latency
// percentiles of one call and the process's resident memory.
func BenchmarkListQueued1M(b *testing.B) {
	const total = 1_000_000
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "berth.db")
	s, err := Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	if err := seedJobs(ctx, s, total, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d jobs in %v", total, time.Since(start).Round(time.Millisecond))
	for _, c := range []struct {
		name string
		f    JobFilter
	}{
		{"state=queued", JobFilter{State: berth.Queued, Limit: 100}},
		{"all", JobFilter{Limit: 100}},
		{"label", JobFilter{Labels: map[string]string{"team": "t3"}, Limit: 100}},
		{"label+state=queued", JobFilter{Labels: map[string]string{"team": "t3"}, State: berth.Queued, Limit: 100}},
	} {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			f := c.f
			b.ResetTimer()
			for range b.N {
				t := time.Now()
				jobs, next, err := s.ListJobs(ctx, f)
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				if len(jobs) == 0 {
					b.Fatalf("ListJobs(%+v) returned no jobs", f)
				}
				f.Cursor = next
			}
			b.StopTimer()
			slices.Sort(lat)
			ms := func(q float64) float64 {
				return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
			b.ReportMetric(procStatusMB(b, "VmRSS"), "rss-MB")
		})
	}
	b.Logf("peak RSS %.0f MB (seeding included)", procStatusMB(b, "VmHWM"))
}

// procStatusMB reads a memory figure of this process from /proc.
func procStatusMB(b *testing.B, field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// seedJobs inserts n jobs in bulk, bypassing CreateJob: one per
// millisecond from base, labels team=t0..t9 and env=prod|dev, and states
// per 100: 10 queued (every tenth of them re-queued after a lost attempt),
// 2 running, 3 failed, 5 cancelled, 80 succeeded. Every job that ran has
// an attempt. Jobs go in from Go in rows of 100 per statement; their
// labels and attempts are derived from them in SQL. It is for benchmarks
// only.
func seedJobs(ctx context.Context, s *Store, n int, base time.Time) error {
	if s.dialect == SQLite {
		if _, err := s.w.ExecContext(ctx, `PRAGMA synchronous = OFF`); err != nil {
			return err
		}
		defer s.w.ExecContext(ctx, `PRAGMA synchronous = FULL`) //nolint:errcheck // benchmark only
	}
	specs := make([][]byte, 20)
	for i := range specs {
		spec := berth.JobSpec{Image: "registry.example/batch:1.4", Command: []string{"run", "--shard", strconv.Itoa(i)},
			Labels: map[string]string{"team": fmt.Sprintf("t%d", i%10), "env": []string{"prod", "dev"}[i/10]}}
		b, err := json.Marshal(spec.WithDefaults())
		if err != nil {
			return err
		}
		specs[i] = b
	}
	const chunk = 100_000
	for lo := 0; lo < n; lo += chunk {
		if err := s.write(ctx, func(tx *sql.Tx) error {
			return seedChunk(ctx, tx, specs, lo, min(lo+chunk, n), base)
		}); err != nil {
			return err
		}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`INSERT INTO job_labels (key, value, job_id)
				SELECT 'team', json_extract(spec, '$.labels.team'), id FROM jobs`,
			`INSERT INTO job_labels (key, value, job_id)
				SELECT 'env', json_extract(spec, '$.labels.env'), id FROM jobs`,
			`INSERT INTO attempts (id, job_id, node_id, created_at, finished_at, exit_code)
				SELECT 'att' || substr(id, 4), id, 'n1', created_at,
					CASE WHEN state = 'queued' THEN created_at ELSE finished_at END, exit_code
				FROM jobs WHERE state != 'queued' OR requeued > 0`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.dialect == SQLite {
		_, err = s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
	return err
}

// seedChunk inserts jobs lo..hi-1 of seedJobs.
func seedChunk(ctx context.Context, tx *sql.Tx, specs [][]byte, lo, hi int, base time.Time) error {
	const perStmt = 100
	row := "(?, ?, ?, ?, ?, ?, ?, 0, 0.5, 256, ?, ?, 3)"
	st, err := tx.PrepareContext(ctx, `INSERT INTO jobs (id, spec, state, reason, exit_code, finished_at,
		requeued, priority, cpu, memory_mb, created_at, updated_at, version) VALUES `+
		strings.TrimSuffix(strings.Repeat(row+", ", perStmt), ", "))
	if err != nil {
		return err
	}
	defer st.Close()
	args := make([]any, 0, 9*perStmt)
	for i := lo; i < hi; i++ {
		now := base.Add(time.Duration(i) * time.Millisecond)
		state, reason, requeued := berth.Succeeded, "exited 0", 0
		var exit, fin any = 0, ts(now.Add(time.Minute))
		switch k := i % 100; {
		case k < 10:
			state, reason, exit, fin = berth.Queued, reasonQueued, nil, nil
			if k == 0 {
				requeued = 1
			}
		case k < 12:
			state, reason, exit, fin = berth.Running, "running on n1", nil, nil
		case k < 15:
			state, reason, exit = berth.Failed, "exit code 1", 1
		case k < 20:
			state, reason, exit = berth.Cancelled, "cancelled", nil
		}
		args = append(args, berth.NewID("job", now), specs[i%len(specs)], string(state), reason, exit, fin,
			requeued, ts(now), ts(now))
		if len(args) == cap(args) {
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return err
			}
			args = args[:0]
		}
	}
	if len(args) > 0 {
		return fmt.Errorf("seed %d jobs: want a multiple of %d", hi-lo, perStmt)
	}
	return nil
}
