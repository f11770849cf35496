package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/nodeapi"
)

// logServer takes shipped chunks into a logstore like the server does.
// Knobs: fail the next requests with 503. It records each chunk's size.
type logServer struct {
	logs *logstore.Store
	// mu guards the fields below it.
	mu     sync.Mutex
	fail   int
	chunks []int
	capped int // chunks that came after the server said the log was truncated
	full   bool
}

func (s *logServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.fail > 0 {
		s.fail--
		s.mu.Unlock()
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	s.mu.Unlock()
	attempt := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/agent/attempts/"), "/logs")
	off, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunks = append(s.chunks, len(b))
	if s.full {
		s.capped++
	}
	size, trunc, err := s.logs.WriteAt("job_1", attempt, off, b)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.full = s.full || trunc
	json.NewEncoder(w).Encode(nodeapi.LogAck{Size: size, Truncated: trunc})
}

func (s *logServer) read(t *testing.T, attempt string) string {
	t.Helper()
	var b bytes.Buffer
	src := func(context.Context) ([]string, bool, error) { return []string{attempt}, true, nil }
	if err := s.logs.Copy(context.Background(), &b, "job_1", src, false); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestShipper(t *testing.T) {
	logs, err := logstore.New(t.TempDir(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	ls := &logServer{logs: logs, fail: 3}
	srv := httptest.NewServer(ls)
	defer srv.Close()
	sh := NewShipper(t.Context(), NewRemote(srv.URL, "bnt_x", srv.Client()), quiet())
	sh.FlushEvery = 5 * time.Millisecond

	w, err := sh.Writer("job_1", "att_1")
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; want.Len() < 700<<10; i++ {
		line := bytes.Repeat([]byte{byte('a' + i%26)}, r.IntN(40<<10))
		line = append(line, '\n')
		want.Write(line)
		if _, err := w.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ls.read(t, "att_1"); got != want.String() {
		t.Errorf("shipped log differs: %d bytes, want %d", len(got), want.Len())
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, n := range ls.chunks {
		if n > nodeapi.MaxLogChunk {
			t.Errorf("a chunk of %d bytes, more than %d", n, nodeapi.MaxLogChunk)
		}
	}
	if ls.fail != 0 {
		t.Errorf("the failing requests were not retried")
	}
}

// TestShipperStopsAtCap: once the server says the log reached its cap, the
// rest of the output is dropped, not sent.
func TestShipperStopsAtCap(t *testing.T) {
	logs, err := logstore.New(t.TempDir(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	ls := &logServer{logs: logs}
	srv := httptest.NewServer(ls)
	defer srv.Close()
	sh := NewShipper(t.Context(), NewRemote(srv.URL, "bnt_x", srv.Client()), quiet())
	sh.FlushEvery = time.Millisecond
	w, _ := sh.Writer("job_1", "att_1")
	for range 200 {
		w.Write(bytes.Repeat([]byte("x"), 100))
		time.Sleep(100 * time.Microsecond)
	}
	w.Close()
	got := ls.read(t, "att_1")
	if !strings.HasPrefix(got, strings.Repeat("x", 1000)+"\n[berth: log truncated") {
		t.Errorf("log = %.60q..., want 1000 bytes and the notice", got)
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if !ls.full || ls.capped > 0 {
		t.Errorf("the server said the log was full: %v; chunks shipped after that: %d of %d, want none", ls.full, ls.capped, len(ls.chunks))
	}
}
