package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that a server writes while a test reads.
type lockedBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServerMetricsToken: berth server --metrics-token refuses a scrape
// of /metrics without the token, and serves one with it.
func TestServerMetricsToken(t *testing.T) {
	var stderr lockedBuffer
	env := &cliEnv{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- runServer(ctx, env, []string{"--data", data, "--listen", "127.0.0.1:0", "--local-agent=false",
			"--advertise-url", "http://127.0.0.1:1", "--retain", "2h", "--metrics-token", "s3cret"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("berth server: %v\n%s", err, stderr.String())
		}
	}()
	addr := regexp.MustCompile(`listening on (http://\S+)`)
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if m := addr.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		}
		select {
		case err := <-done:
			done <- nil // for the deferred wait
			t.Fatalf("berth server exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("berth server did not listen within 20s:\n%s", stderr.String())
		}
	}
	for _, tt := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Bearer s3cret", http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", url+"/metrics", nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET /metrics with %q = %d, want %d", tt.auth, resp.StatusCode, tt.want)
		}
		if scraped := strings.Contains(string(body), "berth_jobs{"); scraped != (tt.want == http.StatusOK) {
			t.Errorf("GET /metrics with %q: metrics in the answer = %v", tt.auth, scraped)
		}
	}
}

// TestServerRefusesRetainZero: --retain 0 is refused, not read as
// "delete at once" or "keep".
func TestServerRefusesRetainZero(t *testing.T) {
	var stderr lockedBuffer
	env := &cliEnv{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
	err := runServer(context.Background(), env, []string{"--data", t.TempDir(), "--retain", "0"})
	if err == nil || !strings.Contains(stderr.String(), "--retain") || !strings.Contains(stderr.String(), "forever") {
		t.Errorf("berth server --retain 0 = %v, said %q; want a refusal naming --retain and forever", err, stderr.String())
	}
}
