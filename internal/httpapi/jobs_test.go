package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
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
