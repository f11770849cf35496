package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/store"
)

func TestScrape(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for range 3 {
		if _, _, err := st.CreateJob(ctx, berth.JobSpec{Image: "busybox"}.WithDefaults(), now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.UpsertNode(ctx, berth.Node{ID: "node_a", Name: "a", Pool: "local", State: berth.NodeReady, Healthy: true, CPU: 2, MemoryMB: 1024}, now); err != nil {
		t.Fatal(err)
	}
	r := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		`berth_jobs{state="queued"} 3`,
		`berth_jobs{state="running"} 0`,
		`berth_node_cpu{node="node_a",pool="local"} 2`,
		`berth_node_memory_bytes{node="node_a",pool="local"} 1.073741824e+09`,
		`berth_node_schedulable{node="node_a",pool="local",state="ready"} 1`,
		`berth_scrape_errors 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
