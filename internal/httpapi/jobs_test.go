package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/store"
)

// TestDeadlineExpectedDuration: a job with a deadline and no expected
// duration takes the median run time of the last successful jobs with the
// same labels; with none to learn from, or a deadline it cannot meet, it
// is refused naming the field, and nothing is stored.
func TestDeadlineExpectedDuration(t *testing.T) {
	p := startPlane(t)
	ctx := context.Background()
	if _, err := p.store.UpsertNode(ctx, berth.Node{ID: "n1", Name: "n1", Pool: "x", State: berth.NodeReady, Healthy: true, CPU: 64, MemoryMB: 65536}, time.Now()); err != nil {
		t.Fatal(err)
	}
	etl := map[string]string{"step": "etl"}
	past := time.Now().Add(-24 * time.Hour)
	for i, run := range []time.Duration{40 * time.Minute, 10 * time.Minute, 20 * time.Minute} {
		at := past.Add(time.Duration(i) * time.Hour)
		j, _, err := p.store.CreateJob(ctx, berth.JobSpec{Image: "busybox", Labels: etl}.WithDefaults(), at)
		if err != nil {
			t.Fatal(err)
		}
		// The dispatcher may place it first.
		if _, err := p.store.Place(ctx, []store.Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: "n1", AttemptID: berth.NewID("att", at)}}, at); err != nil {
			t.Fatal(err)
		}
		if j, err = p.store.Job(ctx, j.ID); err != nil || j.CurrentAttempt() == nil {
			t.Fatalf("job %+v not placed: %v", j, err)
		}
		att := j.CurrentAttempt().ID
		if _, err := p.store.AttemptStarted(ctx, att, "c", at); err != nil {
			t.Fatal(err)
		}
		if _, err := p.store.FinishAttempt(ctx, att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, at.Add(run)); err != nil {
			t.Fatal(err)
		}
	}

	due := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	code, body := p.do(t, p.admin, "POST", "/v1/jobs", berth.JobSpec{Image: "busybox", Labels: etl, Deadline: &due})
	var j berth.Job
	if err := json.Unmarshal(body, &j); code != http.StatusCreated || err != nil {
		t.Fatalf("submit with a deadline: %d %s", code, body)
	}
	if j.ExpectedDuration != berth.Duration(20*time.Minute) || j.Checkpoint != berth.CheckpointNone || !j.Deadline.Equal(due) {
		t.Errorf("job: expected %s, checkpoint %q, deadline %v; want the median 20m, none, %v", j.ExpectedDuration, j.Checkpoint, j.Deadline, due)
	}

	soon := time.Now().Add(5 * time.Minute)
	bad := []struct {
		spec  berth.JobSpec
		field string
	}{
		{berth.JobSpec{Image: "busybox", Labels: map[string]string{"step": "new"}, Deadline: &due}, "expected_duration"},
		{berth.JobSpec{Image: "busybox", Deadline: &due}, "expected_duration"},
		{berth.JobSpec{Image: "busybox", Labels: etl, Deadline: &soon}, "deadline"},
		{berth.JobSpec{Image: "busybox", Deadline: &soon, ExpectedDuration: berth.Duration(time.Hour)}, "deadline"},
	}
	for _, tt := range bad {
		code, body := p.do(t, p.admin, "POST", "/v1/jobs", tt.spec)
		var e struct {
			Error struct{ Field, Message string }
		}
		if err := json.Unmarshal(body, &e); code != http.StatusBadRequest || err != nil || e.Error.Field != tt.field || e.Error.Message == "" {
			t.Errorf("submit %+v = %d %s, want 400 naming %s", tt.spec, code, body, tt.field)
		}
	}
	n, err := p.store.CountJobs(ctx)
	total := 0
	for _, c := range n {
		total += c
	}
	if err != nil || total != 4 || n[berth.Succeeded] != 3 {
		t.Errorf("jobs by state = %v, %v; want the 3 earlier ones and the one accepted", n, err)
	}
}

// TestRefusesBadInput: requests berth cannot honour are refused with a 400
// naming the field (or a 405 naming the methods), and nothing is stored.
func TestRefusesBadInput(t *testing.T) {
	p := startPlane(t)
	ctx := context.Background()
	p.join(t, "gpu") // an agent's pool exists once a node joins it
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		method, path string
		body         any
		status       int
		field        string
		message      string
	}{
		{"POST", "/v1/jobs", berth.JobSpec{Image: "busybox", Pool: "nope"},
			400, "pool", "no pool named nope; pools: default, gpu"},
		{"POST", "/v1/jobs", raw(`{"image":"busybox","start_budget":"soon"}`), 400, "start_budget", "is not a duration"},
		{"POST", "/v1/jobs", raw(`{"image":"busybox","start_budget":"-1s"}`), 400, "start_budget", "must not be negative"},
		{"POST", "/v1/jobs", raw(`{"image":"busybox","pool":"Spot!"}`), 400, "pool", "is not a pool name"},
		{"POST", "/v1/jobs", berth.JobSpec{Image: "busybox", Labels: map[string]string{"berth.pool": "gpu"}},
			400, "labels.berth.pool", "is no longer a label: set the job's pool field"},
		{"POST", "/v1/jobs", berth.JobSpec{Image: "busybox", Labels: map[string]string{"berth.start-budget": "1m"}},
			400, "labels.berth.start-budget", "is no longer a label: set the job's start_budget field"},
		{"POST", "/v1/jobs", berth.JobSpec{Image: "busybox", Labels: map[string]string{"berth.poool": "gpu"}},
			400, "labels.berth.poool", `label keys under "berth." are berth's own`},
		{"POST", "/v1/jobs", raw(`{"image":"x","image":"y"}`), 400, "image", "is given twice"},
		{"POST", "/v1/schedules", berth.ScheduleSpec{Cron: "@hourly", Job: berth.JobSpec{Image: "busybox", Pool: "nope"}},
			400, "job.pool", "no pool named nope"},
		{"POST", "/v1/schedules", raw(`{"cron":"@hourly","job":{"image":"busybox","start_budget":"1 minute"}}`),
			400, "job.start_budget", "is not a duration"},
		{"POST", "/v1/schedules", raw(`{"cron":"@hourly","cron":"@daily","job":{"image":"x"}}`), 400, "cron", "is given twice"},
		{"GET", "/v1/jobs?cursor=zzz", nil, 400, "cursor", "is not a cursor"},
		{"PUT", "/v1/jobs", nil, 405, "", "PUT /v1/jobs is not a route: /v1/jobs takes GET, POST"},
		{"DELETE", "/v1/jobs/job_x", nil, 405, "", "takes GET"},
		{"GET", "/v1/nothing", nil, 404, "", "no route GET /v1/nothing"},
	}
	for _, tt := range tests {
		code, body := p.do(t, p.admin, tt.method, tt.path, tt.body)
		var e struct {
			Error struct{ Field, Message string }
		}
		if err := json.Unmarshal(body, &e); code != tt.status || err != nil || e.Error.Field != tt.field || !strings.Contains(e.Error.Message, tt.message) {
			t.Errorf("%s %s %v = %d %s, want %d naming %q: ...%s...", tt.method, tt.path, tt.body, code, body, tt.status, tt.field, tt.message)
		}
	}
	// Not found says so once, naming the object.
	notFound := []struct{ method, path, message string }{
		{"GET", "/v1/jobs/job_nope", "job job_nope: not found"},
		{"POST", "/v1/jobs/job_nope/cancel", "job job_nope: not found"},
		{"GET", "/v1/schedules/sch_nope", "schedule sch_nope: not found"},
		{"DELETE", "/v1/schedules/sch_nope", "schedule sch_nope: not found"},
	}
	for _, tt := range notFound {
		code, body := p.do(t, p.admin, tt.method, tt.path, nil)
		var e struct {
			Error struct{ Message string }
		}
		if err := json.Unmarshal(body, &e); code != http.StatusNotFound || err != nil || e.Error.Message != tt.message {
			t.Errorf("%s %s = %d %s, want 404 %q", tt.method, tt.path, code, body, tt.message)
		}
	}
	for _, pool := range []string{"gpu", "default"} {
		budget := berth.Duration(45 * time.Second)
		code, body := p.do(t, p.admin, "POST", "/v1/jobs", berth.JobSpec{Image: "busybox", Pool: pool, StartBudget: &budget})
		if code != http.StatusCreated {
			t.Errorf("submit pinned to %s = %d %s, want 201", pool, code, body)
		}
	}
	for _, q := range []string{"cursor=", "cursor=job_06h07kts8fk1yq7xx8d95css"} {
		if code, body := p.do(t, p.admin, "GET", "/v1/jobs?"+q, nil); code != http.StatusOK {
			t.Errorf("GET /v1/jobs?%s = %d %s, want 200", q, code, body)
		}
	}
	n, err := p.store.CountJobs(ctx)
	total := 0
	for _, c := range n {
		total += c
	}
	if err != nil || total != 2 {
		t.Errorf("jobs stored = %v, %v; want only the 2 accepted", n, err)
	}
	if list, err := p.store.Schedules(ctx); err != nil || len(list) != 0 {
		t.Errorf("schedules stored = %v, %v; want none", list, err)
	}
}

// TestMethodNotAllowedSaysAllow: a 405 carries the path's methods in Allow.
func TestMethodNotAllowedSaysAllow(t *testing.T) {
	p := startPlane(t)
	req, _ := http.NewRequest("PUT", p.srv.URL+"/v1/schedules/sch_x", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Allow"); resp.StatusCode != http.StatusMethodNotAllowed || got != "GET, DELETE" {
		t.Errorf("PUT /v1/schedules/sch_x = %d, Allow %q; want 405, Allow \"GET, DELETE\"", resp.StatusCode, got)
	}
}
