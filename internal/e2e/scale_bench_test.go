package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/store"
)

// BenchmarkStoreScale stores 1,000,000 jobs (through the store's own
// CreateJob, in parallel), starts berth server on that data directory, and
// measures GET /v1/jobs?state=queued&limit=100 and the server's resident
// memory. Seeding takes minutes; run it alone:
//
//	go test ./internal/e2e -run '^$' -bench StoreScale -benchtime 2000x -timeout 60m
func BenchmarkStoreScale(b *testing.B) {
	const total = 1_000_000
	data := privateDir(b)
	seed(b, data, total)
	s := &server{t: b, data: data, addr: freeAddr(b), args: []string{"--local-agent=false", "--log-level", "warn"}, image: dockertest.TestImage, scheme: "http", hc: http.DefaultClient}
	s.start()
	defer s.stop(syscall.SIGTERM)
	var lat []time.Duration
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/v1/jobs?state=queued&limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	cursor := ""
	for b.Loop() {
		r := req.Clone(context.Background())
		if cursor != "" { // walk deeper pages too, not only the newest
			q := r.URL.Query()
			q.Set("cursor", cursor)
			r.URL.RawQuery = q.Encode()
		}
		t0 := time.Now()
		var page struct {
			Jobs       []berth.Job `json:"jobs"`
			NextCursor string      `json:"next_cursor"`
		}
		code, err := doJSON(r, &page)
		lat = append(lat, time.Since(t0))
		if err != nil || code != http.StatusOK || len(page.Jobs) != 100 {
			b.Fatalf("list: %d %v (%d jobs)", code, err, len(page.Jobs))
		}
		cursor = page.NextCursor
	}
	report(b, "list", lat)
	b.ReportMetric(rssMB(b, s.cmd.Process.Pid, "VmRSS"), "server-rss-MB")
	b.ReportMetric(rssMB(b, s.cmd.Process.Pid, "VmHWM"), "server-peak-rss-MB")
}

// seed stores n queued jobs in data's database.
func seed(b *testing.B, data string, n int) {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(data, "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t0 := time.Now()
	var wg sync.WaitGroup
	const workers = 256
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				spec := berth.JobSpec{Image: "busybox", Command: []string{"echo", strconv.Itoa(i)}, Labels: map[string]string{"batch": strconv.Itoa(i % 100)}}.WithDefaults()
				if _, _, err := st.CreateJob(ctx, spec, time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.Logf("stored %d jobs in %s", n, time.Since(t0).Round(time.Second))
}

func doJSON(r *http.Request, out any) (int, error) {
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, decodeJSON(resp, out)
}

// rssMB reads a memory field (VmRSS, VmHWM) of a process, in MB.
func rssMB(b *testing.B, pid int, field string) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
