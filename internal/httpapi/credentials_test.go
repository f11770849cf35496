package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/nodeapi"
)

// TestRotateJoinToken: rotating a pool's join token refuses the old one
// and admits with the new one; nodes that joined keep their credentials;
// callback tokens of running attempts still work; an expired token is
// refused, saying when it expired.
func TestRotateJoinToken(t *testing.T) {
	p := startPlane(t)
	ctx := context.Background()
	st := nodeapi.Status{CPU: 1, MemoryMB: 512, Healthy: true}
	old := p.keys.JoinToken("spot", 1)
	joined, err := agent.Join(ctx, p.srv.URL, old, "spot", st, p.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	nodeToken, job, att := placedAttempt(t, p)
	_ = nodeToken

	code, body := p.do(t, p.admin, "POST", "/v1/pools/spot/rotate-token", nil)
	var pool berth.PoolStatus
	if code != http.StatusOK || json.Unmarshal(body, &pool) != nil || pool.JoinToken == old || !strings.HasPrefix(pool.JoinToken, "bjt_spot.2.") {
		t.Fatalf("rotate = %d %s, want a new token of generation 2", code, body)
	}
	if _, err := agent.Join(ctx, p.srv.URL, old, "spot", st, p.srv.Client()); !errors.Is(err, agent.ErrUnauthorized) || !strings.Contains(err.Error(), "was rotated") {
		t.Errorf("join with the rotated token = %v, want refused as rotated", err)
	}
	if _, err := agent.Join(ctx, p.srv.URL, pool.JoinToken, "spot", st, p.srv.Client()); err != nil {
		t.Errorf("join with the new token = %v", err)
	}
	if _, err := agent.NewRemote(p.srv.URL, joined.Token, p.srv.Client()).Register(ctx, joined.Node.ID, st); err != nil {
		t.Errorf("a node that joined before the rotation is refused: %v", err)
	}
	if _, err := agent.Join(ctx, p.srv.URL, p.keys.JoinToken("default", 1), "default", st, p.srv.Client()); err != nil {
		t.Errorf("another pool's token after spot's rotation = %v", err)
	}
	cb := `{"status":"succeeded"}`
	if code, body := send(t, p.srv.URL, p.keys.CallbackToken(att), "POST", "/v1/jobs/"+job+"/callback", cb); code != http.StatusOK {
		t.Errorf("a running attempt's callback after the rotation = %d %s", code, body)
	}
	_, body = p.do(t, p.admin, "GET", "/v1/pools/spot", nil)
	var again berth.PoolStatus
	if json.Unmarshal(body, &again) != nil || again.JoinToken != pool.JoinToken {
		t.Errorf("GET /v1/pools/spot shows %s, want the new token %s", again.JoinToken, pool.JoinToken)
	}

	code, body = p.do(t, p.admin, "POST", "/v1/pools/spot/rotate-token", map[string]string{"expires": "1s"})
	if code != http.StatusOK || json.Unmarshal(body, &pool) != nil || pool.JoinTokenExpiresAt == nil {
		t.Fatalf("rotate with an expiry = %d %s", code, body)
	}
	if _, err := agent.Join(ctx, p.srv.URL, pool.JoinToken, "spot", st, p.srv.Client()); err != nil {
		t.Errorf("join before the expiry = %v", err)
	}
	time.Sleep(time.Until(*pool.JoinTokenExpiresAt) + 10*time.Millisecond)
	if _, err := agent.Join(ctx, p.srv.URL, pool.JoinToken, "spot", st, p.srv.Client()); !errors.Is(err, agent.ErrUnauthorized) || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("join after the expiry = %v, want refused as expired", err)
	}
	for _, bad := range []string{`{"expires":"-1s"}`, `{"expires":"soon"}`, `{"expire":"1h"}`} {
		if code, body := send(t, p.srv.URL, p.admin, "POST", "/v1/pools/spot/rotate-token", bad); code != http.StatusBadRequest {
			t.Errorf("rotate with %s = %d %s, want 400", bad, code, body)
		}
	}
}

// TestJoinRateLimited: one source may join JoinBurst times at once, then
// is answered 429 with Retry-After, before its token is even looked at.
func TestJoinRateLimited(t *testing.T) {
	p := startPlaneLimits(t, Limits{JoinBurst: 5, JoinRate: 0.5})
	tok := p.keys.JoinToken("default", 1)
	body := `{"pool":"default","status":{"cpu":1,"memory_mb":1}}`
	for i := range 5 {
		if code, b := send(t, p.srv.URL, tok, "POST", "/v1/agent/join", body); code != http.StatusCreated {
			t.Fatalf("join %d within the burst = %d %s", i, code, b)
		}
	}
	req, _ := http.NewRequest("POST", p.srv.URL+"/v1/agent/join", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("join past the burst = %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code, _ := send(t, p.srv.URL, "bjt_x.1.forged", "POST", "/v1/agent/join", body); code != http.StatusTooManyRequests {
		t.Errorf("a forged join past the burst = %d, want 429", code)
	}
}

// TestJoinLimiterRefills: a source's bucket refills at its rate, up to its
// burst, and says how long until the next join; sources are apart.
func TestJoinLimiterRefills(t *testing.T) {
	l := newJoinLimiter(0.5, 2)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, tt := range []struct {
		addr string
		at   time.Duration
		ok   bool
		wait time.Duration
	}{
		{"a", 0, true, 0},
		{"a", 0, true, 0},
		{"a", 0, false, 2 * time.Second},
		{"b", 0, true, 0}, // another source has its own bucket
		{"a", time.Second, false, time.Second},
		{"a", 2 * time.Second, true, 0}, // one token back at 0.5 a second
		{"a", 2 * time.Second, false, 2 * time.Second},
		{"a", time.Hour, true, 0}, // full again, never above the burst
		{"a", time.Hour, true, 0},
		{"a", time.Hour, false, 2 * time.Second},
	} {
		ok, wait := l.allow(tt.addr, t0.Add(tt.at))
		if ok != tt.ok || wait != tt.wait {
			t.Errorf("join %d from %s at +%v = %v, wait %v; want %v, %v", i, tt.addr, tt.at, ok, wait, tt.ok, tt.wait)
		}
	}
}

// TestCallbackAnswerCarriesNoEnv: a job reporting its result through its
// callback gets the job back without its env.
func TestCallbackAnswerCarriesNoEnv(t *testing.T) {
	p := startPlane(t)
	_, job, att := placedJob(t, p, berth.JobSpec{Image: "busybox", Env: map[string]string{"API_KEY": "hunter2-secret"}})
	code, body := send(t, p.srv.URL, p.keys.CallbackToken(att), "POST", "/v1/jobs/"+job+"/callback", `{"status":"succeeded"}`)
	if code != http.StatusOK || strings.Contains(body, "hunter2-secret") || strings.Contains(body, "API_KEY") {
		t.Errorf("callback answer = %d %s, want the job without its env", code, body)
	}
}

// TestEndedAttemptLogClosed: once an attempt has ended, its node may only
// add output at the log's end, for a minute; it can never rewrite it.
func TestEndedAttemptLogClosed(t *testing.T) {
	p := startPlane(t)
	ctx := context.Background()
	nodeToken, job, att := placedAttempt(t, p)
	path := "/v1/agent/attempts/" + att + "/logs?offset="
	if code, b := send(t, p.srv.URL, nodeToken, "POST", path+"0", "real output\n"); code != http.StatusOK {
		t.Fatalf("log while running = %d %s", code, b)
	}
	if _, err := p.store.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if code, b := send(t, p.srv.URL, nodeToken, "POST", path+"0", "forged output\n"); code != http.StatusConflict {
		t.Errorf("rewriting an ended attempt's log = %d %s, want 409", code, b)
	}
	if code, b := send(t, p.srv.URL, nodeToken, "POST", path+"12", "last line\n"); code != http.StatusOK {
		t.Errorf("the last output right after the end = %d %s, want taken", code, b)
	}
	if err := p.api.logOpen(ctx, job, att, 22, time.Now().Add(LogTail+time.Second)); !errors.Is(err, berth.ErrStale) {
		t.Errorf("output a minute after the end = %v, want refused", err)
	}
	code, b := p.do(t, p.admin, "GET", "/v1/jobs/"+job+"/logs", nil)
	if code != http.StatusOK || strings.Contains(string(b), "forged") || !strings.Contains(string(b), "real output") {
		t.Errorf("the log after the forgery = %d %q", code, b)
	}
}

// TestIdempotencyConflict: the same body under an idempotency key returns
// the first job; another body under it is a 409 naming the key.
func TestIdempotencyConflict(t *testing.T) {
	p := startPlane(t)
	first := `{"image":"busybox","command":["echo","a"],"idempotency_key":"nightly-1"}`
	code, b := send(t, p.srv.URL, p.admin, "POST", "/v1/jobs", first)
	var j berth.Job
	if code != http.StatusCreated || json.Unmarshal([]byte(b), &j) != nil {
		t.Fatalf("first submit = %d %s", code, b)
	}
	code, b = send(t, p.srv.URL, p.admin, "POST", "/v1/jobs", first)
	var again berth.Job
	if code != http.StatusOK || json.Unmarshal([]byte(b), &again) != nil || again.ID != j.ID {
		t.Errorf("the same body again = %d %s, want 200 and job %s", code, b, j.ID)
	}
	code, b = send(t, p.srv.URL, p.admin, "POST", "/v1/jobs", `{"image":"busybox","command":["echo","b"],"idempotency_key":"nightly-1"}`)
	if code != http.StatusConflict || !strings.Contains(b, "idempotency_conflict") || !strings.Contains(b, `"field":"idempotency_key"`) {
		t.Errorf("another body under the key = %d %s, want 409 idempotency_conflict", code, b)
	}
}
