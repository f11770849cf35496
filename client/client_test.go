package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

const token = "s3cret"

// exchange is one request the server expects and the answer it gives.
type exchange struct {
	method, path, query string
	auth                string // the Authorization header expected; "" for none
	body                string // the JSON body expected; "" for none
	status              int
	resp                string
}

// serve starts a server that checks each request against x and answers it.
func serve(t *testing.T, x exchange) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != x.method || r.URL.Path != x.path || r.URL.RawQuery != x.query {
			t.Errorf("request %s %s?%s, want %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery, x.method, x.path, x.query)
		}
		if got := r.Header.Get("Authorization"); got != x.auth {
			t.Errorf("Authorization = %q, want %q", got, x.auth)
		}
		b, _ := io.ReadAll(r.Body)
		if x.body == "" && len(b) > 0 {
			t.Errorf("body = %s, want none", b)
		}
		if x.body != "" {
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var got, want any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Errorf("body %s: %v", b, err)
			}
			if err := json.Unmarshal([]byte(x.body), &want); err != nil {
				t.Fatalf("want body %s: %v", x.body, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("body mismatch (-want +got):\n%s", diff)
			}
		}
		if x.resp != "" && x.resp[0] == '{' {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(x.status)
		io.WriteString(w, x.resp)
	}))
	t.Cleanup(srv.Close)
	return client.New(srv.URL, token, srv.Client())
}

var (
	t0      = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	three   = 3
	jobJSON = `{"id":"job_1","name":"n","image":"busybox","command":["sh","-c","exit 3"],"cpu":0.5,"memory_mb":256,
		"state":"failed","reason":"exit code 3","exit_code":3,"retried":0,"requeued":0,
		"attempts":[{"id":"att_1","node":"local","created_at":"2026-03-01T12:00:00Z","exit_code":3}],
		"created_at":"2026-03-01T12:00:00Z","updated_at":"2026-03-01T12:00:00Z","version":4}`
	job = berth.Job{
		ID:        "job_1",
		JobSpec:   berth.JobSpec{Name: "n", Image: "busybox", Command: []string{"sh", "-c", "exit 3"}, CPU: 0.5, MemoryMB: 256},
		State:     berth.Failed,
		Reason:    "exit code 3",
		ExitCode:  &three,
		Attempts:  []berth.Attempt{{ID: "att_1", Node: "local", CreatedAt: t0, ExitCode: &three}},
		CreatedAt: t0, UpdatedAt: t0, Version: 4,
	}
)

func TestCalls(t *testing.T) {
	auth := "Bearer " + token
	sched := berth.Schedule{
		ID:           "sch_1",
		ScheduleSpec: berth.ScheduleSpec{Cron: "0 2 * * *", TimeZone: "Europe/Paris", Job: berth.JobSpec{Image: "busybox"}},
		NextRunAt:    t0, CreatedAt: t0,
	}
	schedJSON := `{"id":"sch_1","cron":"0 2 * * *","time_zone":"Europe/Paris","job":{"image":"busybox"},"next_run_at":"2026-03-01T12:00:00Z","created_at":"2026-03-01T12:00:00Z"}`
	tests := []struct {
		name string
		x    exchange
		call func(ctx context.Context, c *client.Client) (any, error)
		want any
	}{{
		name: "submit new",
		x:    exchange{method: "POST", path: "/v1/jobs", auth: auth, body: `{"image":"busybox","command":["sh","-c","exit 3"],"retries":{"attempts":2,"backoff":"5s"}}`, status: 201, resp: jobJSON},
		call: func(ctx context.Context, c *client.Client) (any, error) {
			j, created, err := c.SubmitJob(ctx, berth.JobSpec{Image: "busybox", Command: []string{"sh", "-c", "exit 3"},
				Retries: berth.RetryPolicy{Attempts: 2, Backoff: berth.Duration(5 * time.Second)}})
			return []any{j, created}, err
		},
		want: []any{job, true},
	}, {
		name: "submit matched by idempotency key",
		x:    exchange{method: "POST", path: "/v1/jobs", auth: auth, body: `{"image":"busybox","idempotency_key":"k"}`, status: 200, resp: jobJSON},
		call: func(ctx context.Context, c *client.Client) (any, error) {
			j, created, err := c.SubmitJob(ctx, berth.JobSpec{Image: "busybox", IdempotencyKey: "k"})
			return []any{j, created}, err
		},
		want: []any{job, false},
	}, {
		name: "job with its cost, and what each attempt held",
		x: exchange{method: "GET", path: "/v1/jobs/job_1", auth: auth, status: 200,
			resp: strings.Replace(strings.Replace(jobJSON, `"version":4}`, `"version":4,"cost_usd":0.25}`, 1),
				`"exit_code":3}]`, `"exit_code":3,"pool":"spot","market":"spot","price_usd_hour":0.5,"share":0.5,"cost_usd":0.25}]`, 1)},
		call: func(ctx context.Context, c *client.Client) (any, error) { return c.Job(ctx, "job_1") },
		want: client.Job{Job: job, CostUSD: 0.25, Attempts: []client.Attempt{
			{Attempt: job.Attempts[0], Pool: "spot", Market: berth.Spot, PriceUSDHour: 0.5, Share: 0.5, CostUSD: 0.25}}},
	}, {
		name: "list jobs with every filter",
		x: exchange{method: "GET", path: "/v1/jobs", auth: auth, status: 200,
			query: "cursor=c1&label=app%3Dweb&label=team%3Da%3Db&limit=10&schedule=sch_1&state=queued",
			resp:  `{"jobs":[` + jobJSON + `],"next_cursor":"c2"}`},
		call: func(ctx context.Context, c *client.Client) (any, error) {
			return c.ListJobs(ctx, client.JobQuery{State: berth.Queued, Labels: map[string]string{"team": "a=b", "app": "web"},
				Schedule: "sch_1", Cursor: "c1", Limit: 10})
		},
		want: client.JobPage{Jobs: []berth.Job{job}, NextCursor: "c2"},
	}, {
		name: "list jobs without filters",
		x:    exchange{method: "GET", path: "/v1/jobs", auth: auth, status: 200, resp: `{"jobs":[],"next_cursor":""}`},
		call: func(ctx context.Context, c *client.Client) (any, error) { return c.ListJobs(ctx, client.JobQuery{}) },
		want: client.JobPage{Jobs: []berth.Job{}},
	}, {
		name: "cancel",
		x:    exchange{method: "POST", path: "/v1/jobs/job_1/cancel", auth: auth, status: 200, resp: jobJSON},
		call: func(ctx context.Context, c *client.Client) (any, error) { return c.CancelJob(ctx, "job_1") },
		want: job,
	}, {
		name: "id is escaped",
		x:    exchange{method: "GET", path: "/v1/jobs/a/b", auth: auth, status: 200, resp: jobJSON},
		call: func(ctx context.Context, c *client.Client) (any, error) {
			j, err := c.Job(ctx, "a/b")
			return j.ID, err
		},
		want: "job_1",
	}, {
		name: "callback sends the attempt's token",
		x: exchange{method: "POST", path: "/v1/jobs/job_1/callback", auth: "Bearer cb-token", status: 200, resp: jobJSON,
			body: `{"status":"succeeded","result":{"rows":12}}`},
		call: func(ctx context.Context, c *client.Client) (any, error) {
			return c.Callback(ctx, "job_1", "cb-token", "succeeded", json.RawMessage(`{"rows":12}`))
		},
		want: job,
	}, {
		name: "callback without result",
		x: exchange{method: "POST", path: "/v1/jobs/job_1/callback", auth: "Bearer cb-token", status: 200, resp: jobJSON,
			body: `{"status":"failed"}`},
		call: func(ctx context.Context, c *client.Client) (any, error) {
			return c.Callback(ctx, "job_1", "cb-token", "failed", nil)
		},
		want: job,
	}, {
		name: "create schedule",
		x: exchange{method: "POST", path: "/v1/schedules", auth: auth, status: 201, resp: schedJSON,
			body: `{"cron":"0 2 * * *","time_zone":"Europe/Paris","job":{"image":"busybox"}}`},
		call: func(ctx context.Context, c *client.Client) (any, error) {
			return c.CreateSchedule(ctx, sched.ScheduleSpec)
		},
		want: sched,
	}, {
		name: "schedules",
		x:    exchange{method: "GET", path: "/v1/schedules", auth: auth, status: 200, resp: `{"schedules":[` + schedJSON + `]}`},
		call: func(ctx context.Context, c *client.Client) (any, error) { return c.Schedules(ctx) },
		want: []berth.Schedule{sched},
	}, {
		name: "schedule",
		x:    exchange{method: "GET", path: "/v1/schedules/sch_1", auth: auth, status: 200, resp: schedJSON},
		call: func(ctx context.Context, c *client.Client) (any, error) { return c.Schedule(ctx, "sch_1") },
		want: sched,
	}, {
		name: "delete schedule",
		x:    exchange{method: "DELETE", path: "/v1/schedules/sch_1", auth: auth, status: 204},
		call: func(ctx context.Context, c *client.Client) (any, error) { return nil, c.DeleteSchedule(ctx, "sch_1") },
	}, {
		name: "nodes",
		x: exchange{method: "GET", path: "/v1/nodes", auth: auth, status: 200,
			resp: `{"nodes":[{"id":"node_1","name":"local","pool":"baseline","state":"ready","cpu":4,"memory_mb":8192,"healthy":true,"last_seen":"2026-03-01T12:00:00Z","used_cpu":1.5,"used_memory_mb":512,"version":2,"facts":{"instance_id":"i-0abc","market":"spot","price":0.031}}]}`},
		call: func(ctx context.Context, c *client.Client) (any, error) { return c.Nodes(ctx) },
		want: []client.Node{{Node: berth.Node{ID: "node_1", Name: "local", Pool: "baseline", State: berth.NodeReady, CPU: 4, MemoryMB: 8192,
			Healthy: true, LastSeen: t0, UsedCPU: 1.5, UsedMemoryMB: 512, Version: 2},
			Facts: client.HostFacts{InstanceID: "i-0abc", Market: "spot", Price: 0.031}}},
	}, {
		name: "drain with a deadline",
		x: exchange{method: "POST", path: "/v1/nodes/node_1/drain", auth: auth, body: `{"deadline":"5m0s"}`, status: 200,
			resp: `{"id":"node_1","state":"draining","drain_deadline":"2026-03-01T12:00:00Z"}`},
		call: func(ctx context.Context, c *client.Client) (any, error) {
			return c.DrainNode(ctx, "node_1", new(5*time.Minute))
		},
		want: client.Node{Node: berth.Node{ID: "node_1", State: berth.NodeDraining}, DrainDeadline: &t0},
	}, {
		name: "drain until the work is done",
		x: exchange{method: "POST", path: "/v1/nodes/node_1/drain", auth: auth, body: `{}`, status: 200,
			resp: `{"id":"node_1","state":"draining"}`},
		call: func(ctx context.Context, c *client.Client) (any, error) { return c.DrainNode(ctx, "node_1", nil) },
		want: client.Node{Node: berth.Node{ID: "node_1", State: berth.NodeDraining}},
	}, {
		name: "undrain",
		x: exchange{method: "POST", path: "/v1/nodes/node_1/undrain", auth: auth, status: 200,
			resp: `{"id":"node_1","state":"ready"}`},
		call: func(ctx context.Context, c *client.Client) (any, error) { return c.UndrainNode(ctx, "node_1") },
		want: client.Node{Node: berth.Node{ID: "node_1", State: berth.NodeReady}},
	}, {
		name: "pool",
		x: exchange{method: "GET", path: "/v1/pools/spot", auth: auth, status: 200,
			resp: `{"name":"spot","nodes":0,"ready":0,"cpu":0,"memory_mb":0,"used_cpu":0,"used_memory_mb":0,"join_token":"bjt_x"}`},
		call: func(ctx context.Context, c *client.Client) (any, error) { return c.Pool(ctx, "spot") },
		want: client.Pool{Name: "spot", JoinToken: "bjt_x"},
	}, {
		name: "health sends no token",
		x:    exchange{method: "GET", path: "/healthz", status: 200, resp: `{"status":"ok"}`},
		call: func(ctx context.Context, c *client.Client) (any, error) { return nil, c.Health(ctx) },
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, tt.x)
			got, err := tt.call(t.Context(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		resp       string
		call       func(ctx context.Context, c *client.Client) error
		want       *client.Error
		text       string
		isNotFound bool
		isConflict bool
	}{{
		name:   "invalid spec names the field",
		status: 400, resp: `{"error":{"code":"invalid_request","message":"must be positive","field":"cpu"}}`,
		call: func(ctx context.Context, c *client.Client) error {
			_, _, err := c.SubmitJob(ctx, berth.JobSpec{Image: "busybox", CPU: -1})
			return err
		},
		want: &client.Error{Status: 400, Code: "invalid_request", Message: "must be positive", Field: "cpu"},
		text: "cpu: must be positive",
	}, {
		name:   "the API's message names its field once",
		status: 400, resp: `{"error":{"code":"invalid_request","message":"deadline: cannot be met","field":"deadline"}}`,
		call: func(ctx context.Context, c *client.Client) error {
			_, _, err := c.SubmitJob(ctx, berth.JobSpec{Image: "busybox"})
			return err
		},
		want: &client.Error{Status: 400, Code: "invalid_request", Message: "deadline: cannot be met", Field: "deadline"},
		text: "deadline: cannot be met",
	}, {
		name:   "unknown job",
		status: 404, resp: `{"error":{"code":"not_found","message":"job job_9 not found"}}`,
		call:       func(ctx context.Context, c *client.Client) error { _, err := c.Job(ctx, "job_9"); return err },
		want:       &client.Error{Status: 404, Code: "not_found", Message: "job job_9 not found"},
		text:       "job job_9 not found",
		isNotFound: true,
	}, {
		name:   "cancel a finished job",
		status: 409, resp: `{"error":{"code":"conflict","message":"job job_1 already succeeded"}}`,
		call:       func(ctx context.Context, c *client.Client) error { _, err := c.CancelJob(ctx, "job_1"); return err },
		want:       &client.Error{Status: 409, Code: "conflict", Message: "job job_1 already succeeded"},
		text:       "job job_1 already succeeded",
		isConflict: true,
	}, {
		name:   "drain a lost node",
		status: 409, resp: `{"error":{"code":"conflict","message":"node node_1 is lost"}}`,
		call: func(ctx context.Context, c *client.Client) error {
			_, err := c.DrainNode(ctx, "node_1", nil)
			return err
		},
		want:       &client.Error{Status: 409, Code: "conflict", Message: "node node_1 is lost"},
		text:       "node node_1 is lost",
		isConflict: true,
	}, {
		name:   "bad token",
		status: 401, resp: `{"error":{"code":"unauthorized","message":"unknown token"}}`,
		call: func(ctx context.Context, c *client.Client) error { _, err := c.Nodes(ctx); return err },
		want: &client.Error{Status: 401, Code: "unauthorized", Message: "unknown token"},
		text: "unknown token",
	}, {
		name:   "logs of an unknown job fail before any read",
		status: 404, resp: `{"error":{"code":"not_found","message":"job job_9 not found"}}`,
		call: func(ctx context.Context, c *client.Client) error {
			rc, err := c.Logs(ctx, "job_9", client.LogQuery{Follow: true})
			if rc != nil {
				rc.Close()
			}
			return err
		},
		want:       &client.Error{Status: 404, Code: "not_found", Message: "job job_9 not found"},
		text:       "job job_9 not found",
		isNotFound: true,
	}, {
		name:   "not an API error body",
		status: 502, resp: "<html>bad gateway</html>\n",
		call: func(ctx context.Context, c *client.Client) error { _, err := c.Schedules(ctx); return err },
		want: &client.Error{Status: 502, Message: "unexpected response 502 Bad Gateway: <html>bad gateway</html>"},
		text: "unexpected response 502 Bad Gateway: <html>bad gateway</html>",
	}, {
		name:   "unavailable without a message",
		status: 503, resp: `{"error":{"code":"unavailable"}}`,
		call: func(ctx context.Context, c *client.Client) error { return c.DeleteSchedule(ctx, "sch_1") },
		want: &client.Error{Status: 503, Code: "unavailable"},
		text: "Service Unavailable",
	}, {
		name:   "unhealthy",
		status: 200, resp: `{"status":"starting"}`,
		call: func(ctx context.Context, c *client.Client) error { return c.Health(ctx) },
		want: &client.Error{Status: 200, Message: `health status is "starting", not ok`},
		text: `health status is "starting", not ok`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.resp)
			}))
			defer srv.Close()
			err := tt.call(t.Context(), client.New(srv.URL, token, nil))
			var ce *client.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v (%T), want a *client.Error", err, err)
			}
			if diff := cmp.Diff(tt.want, ce); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
			if err.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.text)
			}
			if got := errors.Is(err, berth.ErrNotFound); got != tt.isNotFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.isNotFound)
			}
			if got := errors.Is(err, berth.ErrConflict); got != tt.isConflict {
				t.Errorf("errors.Is(err, ErrConflict) = %v, want %v", got, tt.isConflict)
			}
		})
	}
}

// TestLogsStream checks that followed logs reach the reader as the server
// writes them, not when the response ends.
func TestLogsStream(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/jobs/job_1/logs" || r.URL.RawQuery != "follow=1" || r.Header.Get("Authorization") != "Bearer "+token {
			t.Errorf("request %s?%s with %q", r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "line 1\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "line 2\n")
	}))
	defer srv.Close()
	rc, err := client.New(srv.URL, token, nil).Logs(t.Context(), "job_1", client.LogQuery{Follow: true})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(rc, buf, len("line 1\n"))
	if err != nil || string(buf[:n]) != "line 1\n" {
		t.Fatalf("first read = %q, %v; want %q", buf[:n], err, "line 1\n")
	}
	close(release)
	rest, err := io.ReadAll(rc)
	if err != nil || string(rest) != "line 2\n" {
		t.Fatalf("rest = %q, %v; want %q", rest, err, "line 2\n")
	}
}

// TestLogsNoFollow checks the query of a one-shot read.
func TestLogsNoFollow(t *testing.T) {
	c := serve(t, exchange{method: "GET", path: "/v1/jobs/job_1/logs", auth: "Bearer " + token, status: 200, resp: "all of it\n"})
	rc, err := c.Logs(t.Context(), "job_1", client.LogQuery{})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil || string(b) != "all of it\n" {
		t.Errorf("logs = %q, %v; want %q", b, err, "all of it\n")
	}
}

// TestLogsFollowEndsWithContext checks that a followed stream stops when the
// caller's context ends.
func TestLogsFollowEndsWithContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	rc, err := client.New(srv.URL, token, nil).Logs(ctx, "job_1", client.LogQuery{Follow: true})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	cancel()
	if _, err := io.ReadAll(rc); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v, want context.Canceled", err)
	}
}

func TestAddress(t *testing.T) {
	tests := []struct {
		name   string
		addr   func(url string) string
		prefix string
	}{
		{"plain", func(u string) string { return u }, ""},
		{"trailing slash", func(u string) string { return u + "/" }, ""},
		{"no scheme", func(u string) string { return u[len("http://"):] }, ""},
		{"path prefix", func(u string) string { return u + "/berth/" }, "/berth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.URL.Path
				io.WriteString(w, `{"nodes":[]}`)
			}))
			defer srv.Close()
			if _, err := client.New(tt.addr(srv.URL), token, nil).Nodes(t.Context()); err != nil {
				t.Fatalf("Nodes: %v", err)
			}
			if want := tt.prefix + "/v1/nodes"; got != want {
				t.Errorf("path = %q, want %q", got, want)
			}
		})
	}
}

func TestNoToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := r.Header["Authorization"]; ok {
			t.Errorf("Authorization = %q, want none", h)
		}
		io.WriteString(w, `{"nodes":[]}`)
	}))
	defer srv.Close()
	if _, err := client.New(srv.URL, "", nil).Nodes(t.Context()); err != nil {
		t.Fatalf("Nodes: %v", err)
	}
}

// TestLogQuery: the query picks a stream and an attempt; LogEntries reads
// JSON lines, with the exact bytes of output that is not UTF-8.
func TestLogQuery(t *testing.T) {
	c := serve(t, exchange{method: "GET", path: "/v1/jobs/job_1/logs", query: "attempt=att_2&stream=stderr",
		auth: "Bearer " + token, status: 200, resp: "oops\n"})
	rc, err := c.Logs(t.Context(), "job_1", client.LogQuery{Stream: "stderr", Attempt: "att_2"})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	defer rc.Close()
	if b, err := io.ReadAll(rc); err != nil || string(b) != "oops\n" {
		t.Errorf("logs = %q, %v; want %q", b, err, "oops\n")
	}

	lines := `{"time":"2026-03-01T12:00:00Z","attempt":"att_1","stream":"stdout","text":"hi\n"}` + "\n" +
		`{"attempt":"att_1","stream":"stderr","text":"\ufffd\n","data":"/wo="}` + "\n"
	c = serve(t, exchange{method: "GET", path: "/v1/jobs/job_1/logs", query: "follow=1&format=json",
		auth: "Bearer " + token, status: 200, resp: lines})
	s, err := c.LogEntries(t.Context(), "job_1", client.LogQuery{Follow: true})
	if err != nil {
		t.Fatalf("LogEntries: %v", err)
	}
	defer s.Close()
	var got []client.LogEntry
	for {
		e, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, e)
	}
	want := []client.LogEntry{
		{Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Attempt: "att_1", Stream: "stdout", Text: "hi\n"},
		{Attempt: "att_1", Stream: "stderr", Text: "\ufffd\n", Data: []byte("\xff\n")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries mismatch (-want +got):\n%s", diff)
	}
	if string(got[0].Bytes()) != "hi\n" || string(got[1].Bytes()) != "\xff\n" {
		t.Errorf("Bytes() = %q, %q; want the exact output", got[0].Bytes(), got[1].Bytes())
	}
}
