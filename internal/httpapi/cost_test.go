package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// TestJobCost: a job run on a node that reports its price shows what each
// attempt held and what the job cost; GET /v1/cost sums it by pool and by
// label, with the node's idle time (its life at its price, less the job's
// share), and refuses a key it does not know, naming the parameter.
func TestJobCost(t *testing.T) {
	p := startPlane(t)
	res, err := agent.Join(context.Background(), p.srv.URL, p.keys.JoinToken("spot", 1), "spot",
		nodeapi.Status{Name: "n", CPU: 2, MemoryMB: 2048, Healthy: true, Facts: nodeapi.Facts{Market: "spot", Price: 3.6}}, p.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	remote := agent.NewRemote(p.srv.URL, res.Token, p.srv.Client())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	a := agent.New(agent.Config{NodeID: res.Node.ID, Facts: nodeapi.Facts{Market: "spot", Price: 3.6}, HealthInterval: 100 * time.Millisecond,
		PollWait: 5 * time.Second}, remote, fake.New(provider.Capacity{CPU: 2, MemoryMB: 2048}), agent.NewShipper(ctx, remote, log), log)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	code, body := p.do(t, p.admin, "POST", "/v1/jobs", berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 1024,
		Env: map[string]string{"FAKE_RUN_FOR": "300ms"}, Labels: map[string]string{"team": "ml"}})
	if code != http.StatusCreated {
		t.Fatalf("submit: %d %s", code, body)
	}
	var j jobView
	json.Unmarshal(body, &j)
	deadline := time.Now().Add(10 * time.Second)
	for !j.State.Terminal() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_, body = p.do(t, p.admin, "GET", "/v1/jobs/"+j.ID, nil)
		j = jobView{}
		json.Unmarshal(body, &j)
	}
	if j.State != berth.Succeeded || len(j.Attempts) != 1 {
		t.Fatalf("job: %s with %d attempts, want succeeded once", j.State, len(j.Attempts))
	}
	at := j.Attempts[0]
	held := at.FinishedAt.Sub(at.CreatedAt).Hours()
	if at.Pool != "spot" || at.Market != berth.Spot || at.PriceUSDHour != 3.6 || at.Share != 0.5 ||
		math.Abs(at.CostUSD-3.6*0.5*held) > 1e-9 || j.CostUSD != at.CostUSD || held < 0.3/3600 {
		t.Errorf("job %s: attempt %+v, cost %v; want half a $3.60/h spot node for %v h", j.ID, at, j.CostUSD, held)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
	for _, tt := range []struct{ by, key string }{{"pool", "spot"}, {"market", "spot"}, {"label:team", "ml"}} {
		var rep costReport
		before := time.Now()
		code, body := p.do(t, p.admin, "GET", "/v1/cost?by="+tt.by, nil)
		json.Unmarshal(body, &rep)
		// The node joined before the job and lives on: idle for at
		// least its life so far, less the job's share.
		life := before.Sub(at.CreatedAt).Hours()
		work := rep.TotalUSD - rep.IdleUSD
		if code != 200 || !near(work, j.CostUSD) || rep.IdleUSD < 3.6*life-j.CostUSD {
			t.Errorf("GET /v1/cost?by=%s = %d %s, want %v of work and at least %v idle", tt.by, code, body, j.CostUSD, 3.6*life-j.CostUSD)
		}
		lines := map[string]costLine{}
		for _, l := range rep.Lines {
			lines[l.Key] = l
		}
		if l := lines[tt.key]; !near(l.CostUSD-l.IdleUSD, j.CostUSD) {
			t.Errorf("GET /v1/cost?by=%s: line %s = %+v, want %v of work", tt.by, tt.key, l, j.CostUSD)
		}
		want := 1 // the idle time is the pool's, and the market's
		if tt.by == "label:team" {
			want = 2 // no job's label names it
			if l := lines[cost.IdleHosts]; !near(l.CostUSD, rep.IdleUSD) || !near(l.IdleUSD, rep.IdleUSD) {
				t.Errorf("GET /v1/cost?by=%s: idle line %+v, want %v", tt.by, l, rep.IdleUSD)
			}
		}
		if len(rep.Lines) != want {
			t.Errorf("GET /v1/cost?by=%s = %s, want %d lines", tt.by, body, want)
		}
	}
	if code, body := p.do(t, p.admin, "GET", "/v1/cost?by=colour", nil); code != 400 || !json.Valid(body) {
		t.Errorf("GET /v1/cost?by=colour = %d %s, want 400", code, body)
	} else {
		var e apiError
		json.Unmarshal(body, &e)
		if e.Error.Field != "by" {
			t.Errorf("GET /v1/cost?by=colour names field %q, want by", e.Error.Field)
		}
	}
}
