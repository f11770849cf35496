package metrics

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/store"
)

// BenchmarkScrape scrapes /metrics over a store of 10,000 and of 100,000
// finished jobs: the jobs are counted as they change, so a scrape costs
// the same whatever the number of jobs.
//
//	go test ./internal/metrics -run '^$' -bench Scrape
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("finished=%d", n), func(b *testing.B) {
			st := seedFinished(b, n)
			h := New(st, slog.New(slog.NewTextHandler(io.Discard, nil))).Handler()
			want := fmt.Sprintf(`berth_jobs{state="succeeded"} %d`, n)
			b.ResetTimer()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				if !strings.Contains(rec.Body.String(), want) {
					b.Fatalf("scrape lacks %q", want)
				}
			}
		})
	}
}

// seedFinished returns a store holding n succeeded jobs, inserted in bulk.
func seedFinished(b *testing.B, n int) *store.Store {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "berth.db")
	st, err := store.Open(ctx, path) // the schema
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC).Format("2006-01-02T15:04:05.000000000Z")
	_, err = db.ExecContext(ctx, `WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < ?)
		INSERT INTO jobs (id, spec, state, reason, exit_code, priority, cpu, memory_mb, created_at, updated_at, finished_at, version)
		SELECT printf('job_%012d', n), '{"image":"busybox"}', 'succeeded', 'exit code 0', 0, 0, 0.5, 256, ?, ?, ?, 3 FROM i`,
		n, at, at, at)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		b.Fatal(err)
	}
	if st, err = store.Open(ctx, path); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}
