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

// TestSecondAgentRefused: an agent process presenting a node's credential
// while another session acts for the node is refused with 409
// session_conflict, and the node shows it; the first goes on.
func TestSecondAgentRefused(t *testing.T) {
	p := startPlane(t)
	id, token := p.join(t, "default")
	ctx := context.Background()
	st := nodeapi.Status{Name: "n", CPU: 2, MemoryMB: 2048, Healthy: true}
	first := agent.NewRemote(p.srv.URL, token, p.srv.Client()).WithSession(agent.NewSession(), time.Second)
	copied := agent.NewRemote(p.srv.URL, token, p.srv.Client()).WithSession(agent.NewSession(), time.Second)
	if _, err := first.Register(ctx, id, st); err != nil {
		t.Fatal(err)
	}
	_, err := copied.Register(ctx, id, st)
	if !errors.Is(err, agent.ErrSessionConflict) || !strings.Contains(err.Error(), "node "+id+" is run by another agent") {
		t.Fatalf("a second agent's heartbeat = %v, want refused as another agent's node", err)
	}
	if _, _, err := copied.Assignments(ctx, id, 0, 0); !errors.Is(err, agent.ErrSessionConflict) {
		t.Errorf("a second agent's long-poll = %v, want refused", err)
	}
	if _, err := first.Register(ctx, id, st); err != nil {
		t.Errorf("the first agent after the second was refused: %v", err)
	}
	_, body := p.do(t, p.admin, "GET", "/v1/nodes/"+id, nil)
	var n nodeView
	if err := json.Unmarshal(body, &n); err != nil || !strings.Contains(n.Conflict, "refused a second agent") {
		t.Errorf("GET /v1/nodes/%s = %s, want the refusal noted", id, body)
	}
}

// TestDeleteNode: deleting a node ends its attempts as "node deleted" and
// re-queues their jobs without spending a retry; its credential is refused
// from then on.
func TestDeleteNode(t *testing.T) {
	p := startPlane(t)
	token, job, _ := placedAttempt(t, p)
	id, _, err := p.store.AttemptOwner(context.Background(), p.mustJob(t, job).Attempts[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := p.do(t, p.admin, "DELETE", "/v1/nodes/"+id, nil); code != http.StatusOK || !strings.Contains(string(body), `"state":"gone"`) {
		t.Fatalf("DELETE /v1/nodes/%s = %d %s", id, code, body)
	}
	j := p.mustJob(t, job)
	if j.State != berth.Queued || j.Retried != 0 || j.Attempts[0].Active() || !strings.Contains(j.Attempts[0].Reason, "node deleted") {
		t.Errorf("job after its node was deleted: %s, retried %d, attempt %+v", j.State, j.Retried, j.Attempts[0])
	}
	remote := agent.NewRemote(p.srv.URL, token, p.srv.Client())
	if _, err := remote.Register(context.Background(), id, nodeapi.Status{}); !errors.Is(err, agent.ErrUnauthorized) {
		t.Errorf("the deleted node's heartbeat = %v, want its credential refused", err)
	}
	if code, _ := p.do(t, p.admin, "DELETE", "/v1/nodes/node_nobody", nil); code != http.StatusNotFound {
		t.Errorf("DELETE of an unknown node = %d, want 404", code)
	}
}

func (p *plane) mustJob(t *testing.T, id string) berth.Job {
	t.Helper()
	j, err := p.store.Job(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j
}
