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
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// TestJobCost: a job run on a node that reports its price shows what each
// attempt held and what the job cost; GET /v1/cost sums it by pool and by
// label, and refuses a key it does not know, naming the parameter.
func TestJobCost(t *testing.T) {
	p := startPlane(t)
	res, err := agent.Join(context.Background(), p.srv.URL, p.keys.JoinToken("spot"), "spot",
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
	for _, tt := range []struct{ by, key string }{{"pool", "spot"}, {"market", "spot"}, {"label:team", "ml"}} {
		var rep costReport
		code, body := p.do(t, p.admin, "GET", "/v1/cost?by="+tt.by, nil)
		json.Unmarshal(body, &rep)
		if code != 200 || len(rep.Lines) != 1 || rep.Lines[0].Key != tt.key || rep.Lines[0].CostUSD != j.CostUSD || rep.TotalUSD != j.CostUSD {
			t.Errorf("GET /v1/cost?by=%s = %d %s, want one line %s of %v", tt.by, code, body, tt.key, j.CostUSD)
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
