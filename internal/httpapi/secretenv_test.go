package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
)

// apiSecret is the secret of these tests: no answer of the API holds it,
// but the node's assignment.
const apiSecret = "api-secret-71e4"

// TestSecretEnvNeverAnswered: the API answers secret_env with its names
// and references, never a value: the submit's answer, GET, the list, an
// idempotent repeat and its conflict, the job's own callback and the
// completion webhook's body.
func TestSecretEnvNeverAnswered(t *testing.T) {
	p := startPlane(t)
	ctx := context.Background()
	ref := "ssm:/prod/api-key"
	spec := berth.JobSpec{Image: "busybox", CallbackURL: "https://example.com/hook", IdempotencyKey: "k1",
		SecretEnv: map[string]string{"DB_PASSWORD": apiSecret, "API_KEY": ref}}
	var answers []string
	do := func(method, path string, body any, want int) []byte {
		t.Helper()
		code, b := p.do(t, p.admin, method, path, body)
		if code != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, code, b, want)
		}
		answers = append(answers, string(b))
		return b
	}
	var j berth.Job
	json.Unmarshal(do("POST", "/v1/jobs", spec, http.StatusCreated), &j)
	want := map[string]string{"DB_PASSWORD": berth.SecretHidden, "API_KEY": ref}
	if diff := cmp.Diff(want, j.SecretEnv); diff != "" {
		t.Errorf("submit answer's secret_env (-want +got):\n%s", diff)
	}
	do("GET", "/v1/jobs/"+j.ID, nil, http.StatusOK)
	do("GET", "/v1/jobs", nil, http.StatusOK)
	do("POST", "/v1/jobs", spec, http.StatusOK) // the same body again
	other := spec
	other.SecretEnv = map[string]string{"DB_PASSWORD": apiSecret + "-other", "API_KEY": ref}
	conflict := do("POST", "/v1/jobs", other, http.StatusConflict)
	if !strings.Contains(string(conflict), "idempotency_conflict") {
		t.Errorf("another secret under the same key: %s, want idempotency_conflict", conflict)
	}
	hidden := spec
	hidden.SecretEnv = want // what GET shows, sent back
	do("POST", "/v1/jobs", hidden, http.StatusBadRequest)

	// The job reports its own result; the answer goes to whoever holds the
	// token, and the webhook is queued as the job ends.
	token, job, att := placedJob(t, p, berth.JobSpec{Image: "busybox", CallbackURL: "https://example.com/hook",
		SecretEnv: map[string]string{"DB_PASSWORD": apiSecret}})
	code, b := send(t, p.srv.URL, p.keys.CallbackToken(att), "POST", "/v1/jobs/"+job+"/callback", `{"status":"succeeded"}`)
	if code != http.StatusOK || strings.Contains(b, "secret_env") {
		t.Errorf("callback answer = %d %s, want 200 without secret_env", code, b)
	}
	answers = append(answers, b)
	cbs, err := p.store.DueCallbacks(ctx, time.Now().Add(time.Hour), 10)
	if err != nil || len(cbs) == 0 {
		t.Fatalf("queued callbacks = %v, %v", cbs, err)
	}
	for _, cb := range cbs {
		if strings.Contains(string(cb.Snapshot), "secret_env") || strings.Contains(string(cb.Snapshot), apiSecret) {
			t.Errorf("the webhook body of %s holds secret_env: %s", cb.JobID, cb.Snapshot)
		}
	}
	_ = token
	for _, a := range answers {
		if strings.Contains(a, apiSecret) {
			t.Errorf("an answer holds the secret: %s", a)
		}
	}
}

// TestSecretEnvToTheNode: the node's assignment carries the values, for
// the attempt whose container is yet to start and no longer after.
func TestSecretEnvToTheNode(t *testing.T) {
	p := startPlane(t)
	ctx := context.Background()
	secrets := map[string]string{"DB_PASSWORD": apiSecret, "API_KEY": "ssm:/prod/api-key"}
	token, _, att := placedJob(t, p, berth.JobSpec{Image: "busybox", SecretEnv: secrets})
	remote := agent.NewRemote(p.srv.URL, token, p.srv.Client())
	node, _, err := p.store.AttemptOwner(ctx, att)
	if err != nil {
		t.Fatal(err)
	}
	as, _, err := remote.Assignments(ctx, node, 0, 0)
	if err != nil || len(as) != 1 {
		t.Fatalf("Assignments = %v, %v", as, err)
	}
	if diff := cmp.Diff(secrets, as[0].SecretEnv); diff != "" {
		t.Errorf("the assignment's secret_env (-want +got):\n%s", diff)
	}
	if as[0].Job.SecretEnv["DB_PASSWORD"] != berth.SecretHidden {
		t.Errorf("the assignment's job holds secret_env %v, want it hidden", as[0].Job.SecretEnv)
	}
	if err := remote.Started(ctx, att, "c1"); err != nil {
		t.Fatal(err)
	}
	as, _, err = remote.Assignments(ctx, node, 0, 0)
	if err != nil || len(as) != 1 || as[0].SecretEnv != nil {
		t.Errorf("once started, Assignments = %+v, %v; want the attempt without secret_env", as, err)
	}
}

// TestSecretEnvBadInput: a bad secret_env is refused with 400 naming the
// field, and the answer never repeats the value.
func TestSecretEnvBadInput(t *testing.T) {
	p := startPlane(t)
	tests := []struct {
		body  string
		field string
	}{
		{`{"image":"busybox","secret_env":{"BERTH_TOKEN":"` + apiSecret + `"}}`, "secret_env.BERTH_TOKEN"},
		{`{"image":"busybox","secret_env":{"A B":"` + apiSecret + `"}}`, "secret_env"},
		{`{"image":"busybox","secret_env":{"A":"` + apiSecret + `\u0000"}}`, "secret_env.A"},
		{`{"image":"busybox","secret_env":{"A":"` + strings.Repeat(apiSecret, 3000) + `"}}`, "secret_env.A"},
		{`{"image":"busybox","env":{"A":"x"},"secret_env":{"A":"` + apiSecret + `"}}`, "secret_env.A"},
		{`{"image":"busybox","secret_env":{"A":"(secret)"}}`, "secret_env.A"},
		{`{"image":"busybox","secret_env":{"A":"ssm:` + apiSecret + ` !"}}`, "secret_env.A"},
		{`{"image":"busybox","secret_env":{"A":"arn:aws:secretsmanager:eu-west-1:123456789012:` + apiSecret + `"}}`, "secret_env.A"},
		{`{"image":"busybox","secret_env":{"A":12345}}`, "secret_env.A"},
		{`{"image":"busybox","secret_env":"` + apiSecret + `"}`, "secret_env"},
		{`{"image":"busybox","secret_env":{"A":"` + apiSecret + `","A":"x"}}`, "secret_env.A"},
		{`{"cron":"@daily","job":{"image":"busybox","secret_env":{"A":"` + apiSecret + `"}}}`, "job.secret_env.A"},
	}
	for _, tt := range tests {
		path := "/v1/jobs"
		if strings.HasPrefix(tt.body, `{"cron"`) {
			path = "/v1/schedules"
		}
		code, body := send(t, p.srv.URL, p.admin, "POST", path, tt.body)
		var e struct {
			Error struct{ Field, Message string }
		}
		if err := json.Unmarshal([]byte(body), &e); code != http.StatusBadRequest || err != nil || e.Error.Field != tt.field {
			t.Errorf("POST %s %.80s... = %d %s, want 400 naming %s", path, tt.body, code, body, tt.field)
		}
		if strings.Contains(body, apiSecret) || strings.Contains(body, "12345") {
			t.Errorf("POST %s %.80s...: the answer repeats the value: %s", path, tt.body, body)
		}
	}
}
