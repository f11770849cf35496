package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/store"
)

// BenchmarkSubmitHandler measures the server's side of POST /v1/jobs —
// decoding, validation, the durable commit and the answer — without the
// network, from many goroutines at once.
func BenchmarkSubmitHandler(b *testing.B) {
	dir := b.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	keys, err := auth.LoadOrCreate(dir)
	if err != nil {
		b.Fatal(err)
	}
	logs, err := logstore.New(filepath.Join(dir, "logs"), 0)
	if err != nil {
		b.Fatal(err)
	}
	s := New(Deps{Store: st, Keys: keys, Logs: logs, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	tok := strings.TrimSpace(readFile(b, filepath.Join(dir, auth.AdminTokenFile)))
	body := `{"image":"busybox:latest","command":["sh","-c","echo hi"],"cpu":0.5,"memory_mb":128,"labels":{"team":"a"},"retries":{"attempts":2}}`
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/v1/jobs", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != http.StatusCreated {
				b.Errorf("POST /v1/jobs = %d %s", w.Code, w.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
