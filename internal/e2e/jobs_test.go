package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

func TestJobRunsToCompletion(t *testing.T) {
	s := startServer(t)
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "echo out; echo err >&2; echo $BERTH_JOB_ID"}, Labels: map[string]string{"team": "e2e"}})
	if j.State != berth.Queued || j.ID == "" || j.CreatedAt.IsZero() {
		t.Fatalf("submitted job = %+v, want queued with an id", j)
	}
	j = s.waitTerminal(j.ID, 30*time.Second)
	if j.State != berth.Succeeded || j.ExitCode == nil || *j.ExitCode != 0 {
		t.Fatalf("job = state %s exit %v reason %q, want succeeded with exit 0", j.State, j.ExitCode, j.Reason)
	}
	if len(j.Attempts) != 1 || j.Attempts[0].StartedAt == nil || j.Attempts[0].FinishedAt == nil || j.Attempts[0].Node == "" {
		t.Errorf("attempts = %+v, want one finished attempt on a node", j.Attempts)
	}
	logs := s.logs(j.ID)
	for _, want := range []string{"out\n", "err\n", j.ID + "\n"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs = %q, want them to contain %q", logs, want)
		}
	}
	waitNoContainers(t, j.ID)
}

func waitNoContainers(t testing.TB, jobID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(containers(t, jobID)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("containers of job %s still exist: %v", jobID, containers(t, jobID))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJobContainerLimits: a job's container is bounded in its processes
// (the job's pids, or the default) and gains no privileges, and carries
// the job's labels under berth.label., apart from berth's own.
func TestJobContainerLimits(t *testing.T) {
	s := startServer(t)
	bounded := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sleep", "300"}, PIDs: 32,
		Labels: map[string]string{"team": "e2e", "traefik.enable": "true"}})
	plain := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sleep", "300"}})
	if bounded.PIDs != 32 || plain.PIDs != berth.DefaultPIDs {
		t.Errorf("submitted jobs' pids = %d and %d, want 32 and the default %d", bounded.PIDs, plain.PIDs, berth.DefaultPIDs)
	}
	for _, tt := range []struct {
		job    berth.Job
		want   string
		labels map[string]string
	}{
		{bounded, `32 ["no-new-privileges"]`, map[string]string{"berth.label.team": "e2e", "berth.label.traefik.enable": "true"}},
		{plain, fmt.Sprintf(`%d ["no-new-privileges"]`, berth.DefaultPIDs), map[string]string{}},
	} {
		s.waitState(tt.job.ID, 30*time.Second, berth.Running)
		ids := containers(t, tt.job.ID)
		if len(ids) != 1 {
			t.Fatalf("containers of job %s = %v, want one", tt.job.ID, ids)
		}
		got := strings.TrimSpace(run(t, "docker", "inspect", "--format", `{{.HostConfig.PidsLimit}} {{json .HostConfig.SecurityOpt}}`, ids[0]))
		if got != tt.want {
			t.Errorf("container of job %s: pids limit and security options %s, want %s", tt.job.ID, got, tt.want)
		}
		var labels map[string]string
		if err := json.Unmarshal([]byte(run(t, "docker", "inspect", "--format", `{{json .Config.Labels}}`, ids[0])), &labels); err != nil {
			t.Fatalf("labels of container %s: %v", ids[0], err)
		}
		for _, k := range []string{"berth.job", "berth.attempt", "berth.node"} {
			if labels[k] == "" {
				t.Errorf("container of job %s lacks label %s: %v", tt.job.ID, k, labels)
			}
			delete(labels, k)
		}
		if diff := cmp.Diff(tt.labels, labels); diff != "" {
			t.Errorf("container of job %s: the job's labels (-want +got):\n%s", tt.job.ID, diff)
		}
		if code := s.call("POST", "/v1/jobs/"+tt.job.ID+"/cancel", nil, nil); code != http.StatusOK {
			t.Errorf("cancel %s = %d, want 200", tt.job.ID, code)
		}
	}
}

func TestFailuresAndRetries(t *testing.T) {
	s := startServer(t)
	retry := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "echo try; exit 3"},
		Retries: berth.RetryPolicy{Attempts: 2, Backoff: berth.Duration(200 * time.Millisecond)}})
	only := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "exit 4"},
		Retries: berth.RetryPolicy{Attempts: 5, OnExitCodes: []int{3}}})
	timeout := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sleep", "60"}, Timeout: berth.Duration(2 * time.Second)})
	oom := s.submit(berth.JobSpec{Image: s.image, Command: []string{"tail", "/dev/zero"}, MemoryMB: 16})
	missing := s.submit(berth.JobSpec{Image: "berth-test/no-such-image:1", Retries: berth.RetryPolicy{Attempts: 3}})

	j := s.waitTerminal(retry.ID, 60*time.Second)
	if j.State != berth.Failed || len(j.Attempts) != 3 || j.Retried != 2 || *j.ExitCode != 3 || !strings.Contains(j.Reason, "exit code 3") {
		t.Errorf("retried job: state %s, %d attempts, retried %d, reason %q; want failed after 3 attempts with exit code 3", j.State, len(j.Attempts), j.Retried, j.Reason)
	}
	if got := strings.Count(s.logs(retry.ID), "try\n"); got != 3 {
		t.Errorf("retried job's logs hold %d runs, want 3", got)
	}
	j = s.waitTerminal(only.ID, 30*time.Second)
	if j.State != berth.Failed || len(j.Attempts) != 1 {
		t.Errorf("job retried only on exit 3 but exiting 4: state %s, %d attempts; want failed after 1", j.State, len(j.Attempts))
	}
	j = s.waitTerminal(timeout.ID, 30*time.Second)
	if j.State != berth.Failed || j.Reason != "timeout after 2s" {
		t.Errorf("timed-out job: state %s reason %q, want failed, \"timeout after 2s\"", j.State, j.Reason)
	}
	j = s.waitTerminal(oom.ID, 60*time.Second)
	if j.State != berth.Failed || !strings.Contains(j.Reason, "out of memory") {
		t.Errorf("OOM job: state %s reason %q, want failed with an out-of-memory reason", j.State, j.Reason)
	}
	j = s.waitTerminal(missing.ID, 30*time.Second)
	if j.State != berth.Failed || len(j.Attempts) != 1 || !strings.Contains(j.Reason, "not found") {
		t.Errorf("job with a missing image: state %s, %d attempts, reason %q; want failed at once, not found", j.State, len(j.Attempts), j.Reason)
	}
}

func TestCancel(t *testing.T) {
	s := startServer(t)
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sleep", "300"}, Retries: berth.RetryPolicy{Attempts: 3}})
	s.waitState(j.ID, 30*time.Second, berth.Running)
	var c berth.Job
	if code := s.call("POST", "/v1/jobs/"+j.ID+"/cancel", nil, &c); code != http.StatusOK || c.State != berth.Cancelled {
		t.Fatalf("cancel = %d %s, want 200 cancelled", code, c.State)
	}
	waitNoContainers(t, j.ID)
	j = s.waitJob(j.ID, 10*time.Second, "with its attempt closed", func(j berth.Job) bool { return !j.Attempts[0].Active() })
	if j.State != berth.Cancelled || len(j.Attempts) != 1 {
		t.Errorf("cancelled job: state %s, %d attempts; want cancelled, never retried", j.State, len(j.Attempts))
	}
	var e struct{ Error struct{ Code string } }
	if code := s.call("POST", "/v1/jobs/"+j.ID+"/cancel", nil, &e); code != http.StatusConflict || e.Error.Code != "conflict" {
		t.Errorf("second cancel = %d %q, want 409 conflict", code, e.Error.Code)
	}
}

func TestWaitingReasonAndOrder(t *testing.T) {
	s := startServer(t, "--cpus", "1", "--memory-mb", "1024")
	// Pinned to its pool, a job larger than its node waits (a larger one
	// could join); pinned to none, nothing on offer holds it: a 400.
	huge := s.submit(berth.JobSpec{Image: s.image, Command: []string{"true"}, CPU: 4, Pool: "local"})
	blocker := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sleep", "2"}, CPU: 1})
	s.waitState(blocker.ID, 30*time.Second, berth.Running)
	var e struct{ Error struct{ Field string } }
	if code := s.call("POST", "/v1/jobs", berth.JobSpec{Image: s.image, Command: []string{"true"}, CPU: 4}, &e); code != http.StatusBadRequest || e.Error.Field != "cpu" {
		t.Errorf("an unpinned job larger than every node: %d naming %q, want 400 naming cpu", code, e.Error.Field)
	}
	low := s.submit(berth.JobSpec{Image: s.image, Command: []string{"true"}, CPU: 1, Priority: 1})
	// Read low's reason before high is queued: high would hold the node.
	j := s.waitJob(low.ID, 5*time.Second, "given a reason", func(j berth.Job) bool { return strings.HasPrefix(j.Reason, "waiting for capacity") })
	high := s.submit(berth.JobSpec{Image: s.image, Command: []string{"true"}, CPU: 1, Priority: 5})
	if !strings.Contains(j.Reason, "largest free slot 0 vCPU") || !strings.Contains(j.Reason, "job needs 1 vCPU") {
		t.Errorf("waiting job's reason = %q, want the free slot and the job's needs", j.Reason)
	}
	j = s.job(huge.ID)
	if j.State != berth.Queued || !strings.Contains(j.Reason, "larger than any node") {
		t.Errorf("huge job: state %s reason %q, want queued, larger than any node", j.State, j.Reason)
	}
	lj, hj := s.waitTerminal(low.ID, 30*time.Second), s.waitTerminal(high.ID, 30*time.Second)
	if !hj.Attempts[0].StartedAt.Before(*lj.Attempts[0].StartedAt) {
		t.Errorf("priority 5 started at %v, after priority 1 at %v", hj.Attempts[0].StartedAt, lj.Attempts[0].StartedAt)
	}
}

func TestAuth(t *testing.T) {
	s := startServer(t)
	if code := s.callWith("", "GET", "/v1/jobs", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if code := s.callWith("wrong", "GET", "/v1/jobs", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", code)
	}
	if code := s.callWith("", "GET", "/healthz", nil, nil); code != http.StatusOK {
		t.Errorf("healthz without a token: %d, want 200", code)
	}
	var doc map[string]any
	if code := s.call("GET", "/v1/openapi.json", nil, &doc); code != http.StatusOK || doc["openapi"] == nil {
		t.Errorf("openapi.json: %d, want 200 with a document", code)
	}
}

func TestBadInput(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		body  string
		code  int
		field string
	}{
		{`{"command":["true"]}`, 400, "image"},
		{`{"image":"x","cpu":-1}`, 400, "cpu"},
		{`{"image":"x","cpu":100000}`, 400, "cpu"},
		{`{"image":"x","memory_mb":99999999999}`, 400, "memory_mb"},
		{`{"image":"x","colour":"blue"}`, 400, "colour"},
		{`{"image":"x","timeout":"ten minutes"}`, 400, "timeout"},
		{`{"image":"x","retries":{"backoff":"-"}}`, 400, "retries.backoff"},
		{`{"image":"x","checkpoint":"sometimes"}`, 400, "checkpoint"},
		{`{"image":"x","deadline":"tomorrow"}`, 400, "deadline"},
		{`{"image":"x","deadline":"2020-01-01T00:00:00Z","expected_duration":"1h"}`, 400, "deadline"},
		{`{"image":"x","deadline":"2999-01-01T00:00:00Z"}`, 400, "expected_duration"},
		{`{"image":"x",`, 400, ""},
		{`{"image":"BARSBOX:1"}`, 400, "image"},
		{`{"image":"busybox:"}`, 400, "image"},
		{`{"image":"x","cpu":0}`, 400, "cpu"},
		{`{"image":"x","memory_mb":0}`, 400, "memory_mb"},
		{`{"image":"x","pids":0}`, 400, "pids"},
		{`{"image":"x","pids":-1}`, 400, "pids"},
		{`{"image":"x","pids":99999999}`, 400, "pids"},
		{`{"image":"x","timeout":"0s"}`, 400, "timeout"},
		{`{"image":"x","timeout":90}`, 400, "timeout"},
		{`{"image":"x","name":"a\u0000b"}`, 400, "name"},
		{`{"image":"x","name":"two\nlines"}`, 400, "name"},
		{`{"image":"x","labels":{"team":"a\u001bb"}}`, 400, "labels.team"},
		{`{"image":"x","labels":{"te\u0000am":"a"}}`, 400, "labels"},
		{`{"image":"x","env":{"A":"` + strings.Repeat("a", 2<<20) + `"}}`, 413, ""},
	}
	for _, tt := range tests {
		var e struct {
			Error struct{ Code, Message, Field string }
		}
		code := s.call("POST", "/v1/jobs", tt.body, &e)
		if code != tt.code || e.Error.Field != tt.field || e.Error.Message == "" {
			t.Errorf("POST /v1/jobs %.60s = %d %+v, want %d naming field %q", tt.body, code, e.Error, tt.code, tt.field)
		}
	}
	for _, q := range []string{"?state=done", "?limit=0", "?colour=blue", "?label=novalue"} {
		if code := s.call("GET", "/v1/jobs"+q, nil, nil); code != 400 {
			t.Errorf("GET /v1/jobs%s = %d, want 400", q, code)
		}
	}
	if code := s.call("GET", "/v1/jobs/job_nope", nil, nil); code != 404 {
		t.Errorf("GET unknown job = %d, want 404", code)
	}
	schedules := []struct{ body, field string }{
		{`{"cron":"61 * * * *","job":{"image":"x"}}`, "cron"},
		{`{"cron":"@daily","time_zone":"Nowhere/City","job":{"image":"x"}}`, "time_zone"},
		{`{"cron":"@daily","job":{"image":"x","cpu":-2}}`, "job.cpu"},
		{`{"cron":"@daily","job":{"image":"x","timeout":"0s"}}`, "job.timeout"},
		{`{"cron":"@daily","job":{"image":"x","retries":{"attempts":1,"backoff":10}}}`, "job.retries.backoff"},
		{`{"cron":"@daily","job":{"image":"Not/Valid"}}`, "job.image"},
		{`{"cron":"@daily","concurrency":"maybe","job":{"image":"x"}}`, "concurrency"},
	}
	for _, tt := range schedules {
		var e struct{ Error struct{ Field string } }
		if code := s.call("POST", "/v1/schedules", tt.body, &e); code != 400 || e.Error.Field != tt.field {
			t.Errorf("POST /v1/schedules %s = %d field %q, want 400 naming %q", tt.body, code, e.Error.Field, tt.field)
		}
	}
	var page struct{ Jobs []berth.Job }
	s.call("GET", "/v1/jobs", nil, &page)
	if len(page.Jobs) != 0 {
		t.Errorf("after only bad input, %d jobs exist, want 0", len(page.Jobs))
	}
}

func TestIdempotencyAndListing(t *testing.T) {
	s := startServer(t)
	spec := berth.JobSpec{Image: s.image, Command: []string{"true"}, IdempotencyKey: "nightly-2026-11-22", Labels: map[string]string{"team": "a"}}
	first := s.submit(spec)
	var again berth.Job
	if code := s.call("POST", "/v1/jobs", spec, &again); code != http.StatusOK || again.ID != first.ID {
		t.Errorf("resubmit with the same key = %d %s, want 200 and job %s", code, again.ID, first.ID)
	}
	for i := range 5 {
		s.submit(berth.JobSpec{Image: s.image, Command: []string{"true"}, Labels: map[string]string{"team": "b", "i": string(rune('0' + i))}})
	}
	var ids []string
	cursor := ""
	for {
		var page struct {
			Jobs       []berth.Job `json:"jobs"`
			NextCursor string      `json:"next_cursor"`
		}
		if code := s.call("GET", "/v1/jobs?label=team=b&limit=2&cursor="+cursor, nil, &page); code != 200 {
			t.Fatalf("list = %d", code)
		}
		for _, j := range page.Jobs {
			ids = append(ids, j.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(ids) != 5 {
		t.Errorf("paging label team=b gave %d jobs, want 5", len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Errorf("jobs not newest first: %v", ids)
		}
	}
}

func TestJobCallback(t *testing.T) {
	s := startServer(t)
	script := `wget -q -O- --header "Authorization: Bearer $BERTH_CALLBACK_TOKEN" --header "Content-Type: application/json" ` +
		`--post-data '{"status":"succeeded","result":{"rows":42}}' "$BERTH_CALLBACK_URL"; sleep 300`
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", script}})
	j = s.waitTerminal(j.ID, 30*time.Second)
	var result struct{ Rows int }
	if j.State != berth.Succeeded || json.Unmarshal(j.Result, &result) != nil || result.Rows != 42 {
		t.Fatalf("job that called back: state %s result %s reason %q, want succeeded with rows 42\nlogs: %s", j.State, j.Result, j.Reason, s.logs(j.ID))
	}
	waitNoContainers(t, j.ID) // it was stopped, not left sleeping

	other := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sleep", "300"}})
	s.waitState(other.ID, 30*time.Second, berth.Running)
	body := `{"status":"succeeded"}`
	if code := s.callWith("", "POST", "/v1/jobs/"+other.ID+"/callback", body, nil); code != http.StatusUnauthorized {
		t.Errorf("callback without a token = %d, want 401", code)
	}
	if code := s.callWith(s.token, "POST", "/v1/jobs/"+other.ID+"/callback", body, nil); code != http.StatusForbidden {
		t.Errorf("callback with the admin token = %d, want 403", code)
	}
	if got := s.job(other.ID); got.State != berth.Running {
		t.Errorf("after refused callbacks the job is %s, want running", got.State)
	}
}

func TestMetrics(t *testing.T) {
	s := startServer(t)
	s.submit(berth.JobSpec{Image: s.image, Command: []string{"true"}, RunAt: new(time.Now().Add(time.Hour))})
	resp, err := http.Get("http://" + s.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`berth_jobs{state="scheduled"} 1`, `berth_node_schedulable{`, "go_goroutines"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
}
