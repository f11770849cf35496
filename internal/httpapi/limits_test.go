package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// deepJSON is a body of about 2·levels bytes that nests levels arrays.
func deepJSON(levels int) string {
	return strings.Repeat("[", levels) + strings.Repeat("]", levels)
}

// send sends body with token and returns the status and the answer.
func send(t testing.TB, url, token, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// placedAttempt joins a node, makes it ready and places a job on it; it
// returns the node's credential, the job and the attempt.
func placedAttempt(t *testing.T, p *plane) (token, job, attempt string) {
	t.Helper()
	return placedJob(t, p, berth.JobSpec{Image: "busybox"})
}

// placedJob is placedAttempt for a job of spec.
func placedJob(t *testing.T, p *plane, spec berth.JobSpec) (token, job, attempt string) {
	t.Helper()
	ctx := context.Background()
	node, token := p.join(t, "default")
	if _, _, err := p.store.HeartbeatNode(ctx, node, nodeapi.Status{CPU: 2, MemoryMB: 2048, Healthy: true, Ready: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	j, _, err := p.store.CreateJob(ctx, spec.WithDefaults(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := p.store.Place(ctx, []store.Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: node}}, time.Now())
	if err != nil || len(ps) != 1 {
		t.Fatalf("place: %v %v", ps, err)
	}
	return token, j.ID, ps[0].AttemptID
}

// TestDeepBodiesRefusedOnEveryRoute: every route that reads a JSON body
// refuses one nested 20,000 deep with a 400 that says so, and the routes
// that check a credential refuse a bad one before they read the body.
func TestDeepBodiesRefusedOnEveryRoute(t *testing.T) {
	p := startPlane(t)
	nodeToken, job, att := placedAttempt(t, p)
	callback := p.keys.CallbackToken(att)
	tokens := map[access]string{admin: p.admin, node: nodeToken}
	ids := strings.NewReplacer("{id}", att, "{name}", "default")
	for _, rt := range p.api.routes() {
		if rt.body <= 0 || strings.HasSuffix(rt.pattern, "/logs") {
			continue // no body, or raw bytes
		}
		path := ids.Replace(rt.pattern)
		token := tokens[rt.access]
		switch rt.pattern {
		case "/v1/jobs/{id}/cancel":
			path = "/v1/jobs/" + job + "/cancel"
		case "/v1/jobs/{id}/callback":
			path, token = "/v1/jobs/"+job+"/callback", callback
		case "/v1/nodes/{id}/drain", "/v1/nodes/{id}/undrain":
			continue // takes no JSON body that nests
		case "/v1/agent/join":
			token = p.keys.JoinToken("default", 1)
		}
		deep := deepJSON(min(20000, int(rt.body)/2-100)) // as deep as the route's limit lets it
		t.Run(rt.method+" "+rt.pattern, func(t *testing.T) {
			code, body := send(t, p.srv.URL, token, rt.method, path, deep)
			if rt.pattern == "/v1/jobs/{id}/cancel" {
				return // reads no body: its answer is about the job
			}
			if code != http.StatusBadRequest || !strings.Contains(body, "nests deeper than 64 levels") {
				t.Errorf("deep body: %d %s, want 400 naming the nesting", code, body)
			}
			code, body = send(t, p.srv.URL, "bnt_forged", rt.method, path, deep)
			if code != http.StatusUnauthorized && code != http.StatusForbidden {
				t.Errorf("deep body with a forged token: %d %s, want 401 or 403", code, body)
			}
		})
	}
}

// TestAuthBeforeBody: a request with a bad credential is answered before
// its body arrives, and its connection is not kept waiting for the rest.
func TestAuthBeforeBody(t *testing.T) {
	p := startPlane(t)
	nodeToken, job, att := placedAttempt(t, p)
	_ = nodeToken
	for _, tc := range []struct{ name, path, token string }{
		{"join", "/v1/agent/join", "bjt_default.1.forged"},
		{"join with no pool", "/v1/agent/join", "bjt_forged"},
		{"heartbeat", "/v1/agent/node", "bnt_forged"},
		{"callback", "/v1/jobs/" + job + "/callback", "forged"},
		{"report", "/v1/agent/attempts/" + att + "/finished", "bnt_forged"},
		{"submit", "/v1/jobs", "forged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", p.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			method := "POST"
			if tc.path == "/v1/agent/node" {
				method = "PUT"
			}
			// Headers promise 1 MB; only 10 bytes come.
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000\r\n\r\n{\"status\":", method, tc.path, tc.token)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
				t.Errorf("answer = %d, want 401 or 403", resp.StatusCode)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			start := time.Now()
			if _, err := conn.Read(make([]byte, 1)); err == nil || time.Since(start) > 3*time.Second {
				t.Errorf("the connection stayed open for the rest of the body (read: %v after %v)", err, time.Since(start))
			}
		})
	}
}

// TestSlowBodyCutOff: a body trickled in slower than BodyTimeout is cut
// off with 408 and its connection closed.
func TestSlowBodyCutOff(t *testing.T) {
	p := startPlaneLimits(t, Limits{BodyTimeout: 300 * time.Millisecond})
	conn, err := net.Dial("tcp", p.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/agent/join HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000\r\n\r\n{", p.keys.JoinToken("default", 1))
	stop := make(chan struct{})
	defer close(stop)
	go func() { // a byte a second, forever
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
				if _, err := conn.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow body: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "did not arrive within") {
		t.Errorf("slow body: %d %s, want 408", resp.StatusCode, b)
	}
}

// TestStreamsBounded: long-polls past MaxStreams are answered 503 with
// Retry-After, and the admin API still answers.
func TestStreamsBounded(t *testing.T) {
	p := startPlaneLimits(t, Limits{MaxStreams: 2})
	_, token := p.join(t, "default")
	_, body := send(t, p.srv.URL, token, "GET", "/v1/agent/assignments?since=0", "")
	var as nodeapi.Assignments
	if err := json.Unmarshal([]byte(body), &as); err != nil {
		t.Fatal(err)
	}
	poll := fmt.Sprintf("/v1/agent/assignments?since=%d&wait=2s", as.Version)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			code, body := send(t, p.srv.URL, token, "GET", poll, "")
			if code != http.StatusOK {
				t.Errorf("long-poll within the bound: %d %s", code, body)
			}
		})
	}
	defer wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for len(p.api.streams) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	req, _ := http.NewRequest("GET", p.srv.URL+poll, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third long-poll: %d (Retry-After %q), want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code, body := send(t, p.srv.URL, p.admin, "GET", "/v1/jobs", ""); code != http.StatusOK {
		t.Errorf("admin API while the streams are full: %d %s", code, body)
	}
}

// TestIdleConnectionsDoNotStarveTheAPI opens thousands of idle
// connections, many more than the guard holds, and some that send half a
// request: the admin API still answers.
func TestIdleConnectionsDoNotStarveTheAPI(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	idle := min(3000, int(lim.Cur)-600)
	const bound = 256
	if idle < 2*bound {
		t.Fatalf("the file limit (%d) leaves room for %d idle connections: raise it (ulimit -n)", lim.Cur, idle)
	}
	p := startGuardedPlane(t, Limits{}, bound)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range idle {
		c, err := net.Dial("tcp", p.srv.Listener.Addr().String())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if i%2 == 1 {
			fmt.Fprintf(c, "GET /v1/jobs HTTP/1.1\r\nHost: x\r\n") // headers never end
		}
		conns = append(conns, c)
	}
	if open := p.guard.Open(); open > bound {
		t.Errorf("the guard holds %d connections, want at most %d", open, bound)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range 20 {
		req, _ := http.NewRequest("GET", p.srv.URL+"/v1/jobs", nil)
		req.Header.Set("Authorization", "Bearer "+p.admin)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("admin request %d among %d idle connections: %v", i, idle, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("admin request %d: %d", i, resp.StatusCode)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("admin request %d took %v", i, d)
		}
		client.CloseIdleConnections() // a new connection each time
	}
}

// TestAdversarialBurstMemory sends a burst of hostile bodies, deep JSON
// with good and bad tokens and 1 MB bodies with bad tokens, from many
// clients at once: what the server allocates stays near what it read.
func TestAdversarialBurstMemory(t *testing.T) {
	p := startPlane(t)
	deep := deepJSON(20000) // 40 KB
	big := strings.Repeat("x", 1<<20)
	join := p.keys.JoinToken("default", 1)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const clients, each = 16, 25
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				// Requests refused unread (a bad token, too many joins) may
				// see their upload cut short: only an answer is checked.
				var code int
				switch (c + i) % 4 {
				case 0:
					code = sendUnread(p.srv.URL, join, "/v1/agent/join", deep)
				case 1:
					code = sendUnread(p.srv.URL, "bjt_x.1.forged", "/v1/agent/join", deep)
				case 2:
					code, _ = send(t, p.srv.URL, p.admin, "POST", "/v1/jobs", `{"image":"busybox","labels":`+deep+`}`)
				case 3:
					code = sendUnread(p.srv.URL, "forged", "/v1/jobs", big)
				}
				if code >= 500 {
					t.Errorf("a hostile request was answered %d", code)
				}
			}
		})
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	perRequest := (after.TotalAlloc - before.TotalAlloc) / (clients * each)
	// The client's side is counted too: each request is built and sent
	// from this process.
	if perRequest > 1<<20 {
		t.Errorf("%d bytes allocated per hostile request, want under 1 MiB", perRequest)
	}
	if code, _ := send(t, p.srv.URL, p.admin, "GET", "/v1/jobs", ""); code != http.StatusOK {
		t.Errorf("admin API after the burst: %d", code)
	}
}

// sendUnread POSTs body with token and returns the status, or 0 when the
// server closed the connection before the body was sent (it answered
// without reading it).
func sendUnread(url, token, path, body string) int {
	req, _ := http.NewRequest("POST", url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startGuardedPlane is startPlaneLimits with the connection guard berth
// server runs, holding at most maxConns.
func startGuardedPlane(t *testing.T, l Limits, maxConns int) *plane {
	t.Helper()
	g := NewGuard(maxConns)
	p := newPlane(t, l, func(h http.Handler) *httptest.Server {
		srv := httptest.NewUnstartedServer(h)
		srv.Config = g.Server(h, nil)
		srv.Listener = g.Listener(srv.Listener)
		srv.Start()
		return srv
	})
	p.guard = g
	return p
}

// startPlaneLimits is startPlane with l.
func startPlaneLimits(t *testing.T, l Limits) *plane { return newPlane(t, l, httptest.NewServer) }
