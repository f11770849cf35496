package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
	"github.com/berth-run/berth/internal/store"
)

// plane is the API over a store with its dispatcher running, on a real
// loopback listener.
type plane struct {
	srv   *httptest.Server
	api   *Server
	guard *Guard // nil unless started with one
	store *store.Store
	keys  *auth.Keys
	admin string
	kick  func() // wakes the dispatcher
}

func startPlane(t *testing.T) *plane { return startPlaneB(t) }

func startPlaneB(t testing.TB) *plane { return newPlane(t, Limits{}, httptest.NewServer) }

// newPlane starts the plane with limits l, serving it with start.
func newPlane(t testing.TB, l Limits, start func(http.Handler) *httptest.Server) *plane {
	t.Helper()
	return newPlaneOn(t, l, start, "")
}

// newPlaneOn is newPlane on the store at loc ("": a file in a temporary
// directory).
func newPlaneOn(t testing.TB, l Limits, start func(http.Handler) *httptest.Server, loc string) *plane {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	keys, err := auth.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loc == "" {
		loc = filepath.Join(dir, "berth.db")
	}
	st, err := store.OpenWith(ctx, loc, store.Options{Secrets: keys.EnvKey()})
	if err != nil {
		t.Fatal(err)
	}
	logs, err := logstore.New(filepath.Join(dir, "logs"), 0)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Test servers listen on loopback, which callbacks may not reach
	// unless allowed, as with berth server --callback-allow.
	cp := control.NewPlane(control.PlaneConfig{CallbackAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}},
		st, keys, logs, log)
	api := New(Deps{Store: st, Keys: keys, Logs: logs, Log: log, Nodes: cp.Registry, Fleet: cp.Fleet, CallbackGuard: cp.CallbackGuard,
		Limits: l, Changed: cp.Changed})
	api.SetAgents(cp.Local)
	done := make(chan struct{})
	go func() { defer close(done); cp.Run(ctx) }()
	srv := start(api)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		st.Close()
	})
	return &plane{srv: srv, api: api, store: st, keys: keys, admin: strings.TrimSpace(readFile(t, filepath.Join(dir, auth.AdminTokenFile))), kick: cp.Kick}
}

// do sends a request with token and returns the status and body.
func (p *plane) do(t *testing.T, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// join admits a node to pool and returns its id and credential.
func (p *plane) join(t testing.TB, pool string) (string, string) {
	t.Helper()
	res, err := agent.Join(context.Background(), p.srv.URL, p.keys.JoinToken(pool, 1), pool,
		nodeapi.Status{Name: "n", CPU: 2, MemoryMB: 2048, Healthy: true}, p.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return res.Node.ID, res.Token
}

// TestRemoteAgent runs an agent over HTTP on a fake engine: it joins, gets
// ready, runs a job placed on it, and its output reaches the server's log.
func TestRemoteAgent(t *testing.T) {
	p := startPlane(t)
	id, token := p.join(t, "default")
	remote := agent.NewRemote(p.srv.URL, token, p.srv.Client())
	ctx, cancel := context.WithCancel(context.Background())
	a := agent.New(agent.Config{NodeID: id, HealthInterval: 100 * time.Millisecond, PollWait: 5 * time.Second},
		remote, fake.New(provider.Capacity{CPU: 2, MemoryMB: 2048}), agent.NewShipper(ctx, remote, slog.New(slog.NewTextHandler(io.Discard, nil))),
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	code, body := p.do(t, p.admin, "POST", "/v1/jobs", berth.JobSpec{Image: "busybox",
		Env: map[string]string{"FAKE_OUTPUT": "hello from afar", "FAKE_RUN_FOR": "100ms"}})
	if code != http.StatusCreated {
		t.Fatalf("submit: %d %s", code, body)
	}
	var j berth.Job
	json.Unmarshal(body, &j)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body = p.do(t, p.admin, "GET", "/v1/jobs/"+j.ID, nil)
		json.Unmarshal(body, &j)
		if j.State.Terminal() || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if j.State != berth.Succeeded || len(j.Attempts) != 1 || j.Attempts[0].Node != id {
		t.Fatalf("job: %s (%q), %d attempts; want succeeded once on %s", j.State, j.Reason, len(j.Attempts), id)
	}
	if _, logs := p.do(t, p.admin, "GET", "/v1/jobs/"+j.ID+"/logs", nil); string(logs) != "hello from afar" {
		t.Errorf("logs = %q", logs)
	}
}

// TestNodeCredentials: a node's credential acts for its own node only: it
// cannot report on another node's attempts, read jobs, or act as admin; the
// admin token and join tokens are not node credentials; a join token admits
// to its own pool only.
func TestNodeCredentials(t *testing.T) {
	p := startPlane(t)
	ctx := context.Background()
	victim, _ := p.join(t, "default")
	_, evil := p.join(t, "default")
	if _, _, err := p.store.HeartbeatNode(ctx, victim, nodeapi.Status{CPU: 2, MemoryMB: 2048, Healthy: true, Ready: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	j, _, err := p.store.CreateJob(ctx, berth.JobSpec{Image: "busybox"}.WithDefaults(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ps, err := p.store.Place(ctx, []store.Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: victim}}, time.Now())
	if err != nil || len(ps) != 1 {
		t.Fatalf("place: %v %v", ps, err)
	}
	att := ps[0].AttemptID
	tests := []struct {
		name, token, method, path string
		body                      any
		want                      int
	}{
		{"report another node's start", evil, "POST", "/v1/agent/attempts/" + att + "/started", nodeapi.Started{ContainerID: "x"}, 403},
		{"report another node's end", evil, "POST", "/v1/agent/attempts/" + att + "/finished", berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, 403},
		{"write another node's log", evil, "POST", "/v1/agent/attempts/" + att + "/logs?offset=0", "forged", 403},
		{"read jobs", evil, "GET", "/v1/jobs", nil, 401},
		{"read a job", evil, "GET", "/v1/jobs/" + j.ID, nil, 401},
		{"submit", evil, "POST", "/v1/jobs", berth.JobSpec{Image: "busybox"}, 401},
		{"drain a node", evil, "POST", "/v1/nodes/" + victim + "/drain", nil, 401},
		{"read join tokens", evil, "GET", "/v1/pools", nil, 401},
		{"join with a node credential", evil, "POST", "/v1/agent/join", nodeapi.JoinRequest{}, 401},
		{"admin token as a node", p.admin, "GET", "/v1/agent/assignments?since=0", nil, 401},
		{"join token as a node", p.keys.JoinToken("default", 1), "PUT", "/v1/agent/node", nodeapi.Status{}, 401},
		{"join token as admin", p.keys.JoinToken("default", 1), "GET", "/v1/jobs", nil, 401},
		{"join another pool", p.keys.JoinToken("default", 1), "POST", "/v1/agent/join", nodeapi.JoinRequest{Pool: "gpu"}, 401},
		{"a made-up credential", "bnt_00", "GET", "/v1/agent/assignments?since=0", nil, 401},
		{"own assignments only", evil, "GET", "/v1/agent/assignments?since=0", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, body := p.do(t, tt.token, tt.method, tt.path, tt.body); code != tt.want {
				t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, code, body, tt.want)
			}
		})
	}
	_, body := p.do(t, evil, "GET", "/v1/agent/assignments?since=0", nil)
	var as nodeapi.Assignments
	if err := json.Unmarshal(body, &as); err != nil || len(as.Assignments) != 0 {
		t.Errorf("the other node's assignments: %s", body)
	}
	if got, _ := p.store.Job(ctx, j.ID); got.State != berth.Starting {
		t.Errorf("after the forged reports the job is %s, want still starting", got.State)
	}
}
