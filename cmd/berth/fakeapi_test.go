package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/client"
)

// t0 is when the fake API's objects are created; tests run at now.
var (
	t0  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now = t0.Add(90 * time.Minute)
)

const testToken = "tok-123"

// ending is how a job submitted to the fake API ends once its logs are
// followed: it waits (each read of the job while it waits takes the next
// of waits as its reason, queued), then prints logs (or output), then
// takes state, exitCode and reason.
type ending struct {
	waits    []string
	logs     string            // stdout, a line an entry, on attempt att_1
	output   []client.LogEntry // in place of logs
	state    berth.State
	exitCode *int
	reason   string
	// drops is how many follows end early, after half the logs, with the
	// job still running (a server restart).
	drops int
	// hang makes a follow block until the client goes away.
	hang bool
}

// fakeAPI is an in-memory berth API that speaks the REST contract. Knobs:
// next (how submitted jobs end), pageSize, onCall (called as each request
// arrives, before it is served); calls records every request.
type fakeAPI struct {
	srv *httptest.Server

	mu sync.Mutex
	// Guarded by mu.
	jobs      []berth.Job
	endings   map[string]*ending
	schedules []berth.Schedule
	nodes     []client.Node
	pools     []client.Pool
	cost      map[string][]client.CostLine // by the by= of GET /v1/cost
	calls     []string                     // "METHOD /path?query"
	secrets   map[string]map[string]string // each job's secret_env as submitted; jobs hold it hidden, as the server does
	next      ending
	pageSize  int
	onCall    func(call string)
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{endings: map[string]*ending{}, secrets: map[string]map[string]string{}, pageSize: 50}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("POST /v1/jobs", f.submit)
	mux.HandleFunc("GET /v1/jobs", f.list)
	mux.HandleFunc("GET /v1/jobs/{id}", f.job)
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", f.cancel)
	mux.HandleFunc("GET /v1/jobs/{id}/logs", f.logs)
	mux.HandleFunc("POST /v1/schedules", f.createSchedule)
	mux.HandleFunc("GET /v1/schedules", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		reply(w, 200, map[string]any{"schedules": f.schedules})
	})
	mux.HandleFunc("DELETE /v1/schedules/{id}", f.deleteSchedule)
	mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		reply(w, 200, map[string]any{"nodes": f.nodes})
	})
	mux.HandleFunc("GET /v1/nodes/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if n := f.node(r.PathValue("id")); n != nil {
			reply(w, 200, n)
			return
		}
		apiError(w, 404, "not_found", "", "node "+r.PathValue("id")+" not found")
	})
	mux.HandleFunc("POST /v1/nodes/{id}/drain", f.drain)
	mux.HandleFunc("POST /v1/nodes/{id}/undrain", f.drain)
	mux.HandleFunc("GET /v1/cost", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		by := r.URL.Query().Get("by")
		rep := client.CostReport{By: by, Lines: f.cost[by]}
		for _, l := range rep.Lines {
			rep.TotalUSD += l.CostUSD
			rep.IdleUSD += l.IdleUSD
		}
		reply(w, 200, rep)
	})
	mux.HandleFunc("GET /v1/pools", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		reply(w, 200, map[string]any{"pools": f.pools})
	})
	mux.HandleFunc("GET /v1/pools/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.pools {
			if p.Name == r.PathValue("name") {
				reply(w, 200, p)
				return
			}
		}
		reply(w, 200, client.Pool{Name: r.PathValue("name"), JoinToken: "bjt_" + r.PathValue("name")})
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		call := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			call += "?" + r.URL.RawQuery
		}
		f.calls = append(f.calls, call)
		onCall := f.onCall
		f.mu.Unlock()
		if onCall != nil {
			onCall(call)
		}
		if r.URL.Path != "/healthz" && r.Header.Get("Authorization") != "Bearer "+testToken {
			apiError(w, 401, "unauthorized", "", "unknown token")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func apiError(w http.ResponseWriter, status int, code, field, msg string) {
	reply(w, status, map[string]any{"error": map[string]string{"code": code, "field": field, "message": msg}})
}

// node returns the node with id, or nil. f.mu must be held.
func (f *fakeAPI) node(id string) *client.Node {
	for i := range f.nodes {
		if f.nodes[i].ID == id {
			return &f.nodes[i]
		}
	}
	return nil
}

// drain drains or undrains a node as the server does: a lost node is a
// conflict.
func (f *fakeAPI) drain(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.node(r.PathValue("id"))
	if n == nil {
		apiError(w, 404, "not_found", "", "node "+r.PathValue("id")+" not found")
		return
	}
	if n.State == berth.NodeLost {
		apiError(w, 409, "conflict", "", "node "+n.ID+" is lost")
		return
	}
	if strings.HasSuffix(r.URL.Path, "/undrain") {
		n.State, n.DrainDeadline = berth.NodeReady, nil
		reply(w, 200, n)
		return
	}
	var body struct {
		Deadline *berth.Duration `json:"deadline"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		apiError(w, 400, "invalid_request", "", err.Error())
		return
	}
	n.State = berth.NodeDraining
	if body.Deadline != nil {
		d := now.Add(time.Duration(*body.Deadline))
		n.DrainDeadline = &d
	}
	reply(w, 200, n)
}

// addJob stores j as if it had been submitted.
func (f *fakeAPI) addJob(j berth.Job) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs = append(f.jobs, j)
}

// find returns the job with id, or nil. f.mu must be held.
func (f *fakeAPI) find(id string) *berth.Job {
	for i := range f.jobs {
		if f.jobs[i].ID == id {
			return &f.jobs[i]
		}
	}
	return nil
}

func (f *fakeAPI) submit(w http.ResponseWriter, r *http.Request) {
	var spec berth.JobSpec
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		apiError(w, 400, "invalid_request", "", err.Error())
		return
	}
	if err := spec.Validate(); err != nil {
		fe := err.(*berth.FieldError)
		apiError(w, 400, "invalid_request", fe.Field, fe.Problem)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range f.jobs {
		if spec.IdempotencyKey != "" && j.IdempotencyKey == spec.IdempotencyKey {
			reply(w, 200, j)
			return
		}
	}
	j := berth.Job{ID: fmt.Sprintf("job_%d", len(f.jobs)+1), JobSpec: spec.WithSecretsHidden(), State: berth.Queued,
		Reason: "waiting for capacity", Attempts: []berth.Attempt{}, CreatedAt: t0, UpdatedAt: t0}
	if spec.SecretEnv != nil {
		f.secrets[j.ID] = spec.SecretEnv
	}
	f.jobs = append(f.jobs, j)
	e := f.next
	f.endings[j.ID] = &e
	reply(w, 201, j)
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := f.pageSize
	if q.Get("limit") != "" {
		limit, _ = strconv.Atoi(q.Get("limit"))
	}
	start, _ := strconv.Atoi(q.Get("cursor"))
	f.mu.Lock()
	defer f.mu.Unlock()
	var match []berth.Job
	for _, j := range f.jobs {
		if ok := q.Get("state") == "" || string(j.State) == q.Get("state"); ok && hasLabels(j, q["label"]) {
			match = append(match, j)
		}
	}
	page := map[string]any{"jobs": []berth.Job{}, "next_cursor": ""}
	if start < len(match) {
		end := min(start+limit, len(match))
		page["jobs"] = match[start:end]
		if end < len(match) {
			page["next_cursor"] = strconv.Itoa(end)
		}
	}
	reply(w, 200, page)
}

func hasLabels(j berth.Job, labels []string) bool {
	for _, l := range labels {
		found := false
		for k, v := range j.Labels {
			found = found || k+"="+v == l
		}
		if !found {
			return false
		}
	}
	return true
}

func (f *fakeAPI) job(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.find(r.PathValue("id"))
	if j == nil {
		apiError(w, 404, "not_found", "", "job "+r.PathValue("id")+" not found")
		return
	}
	if e := f.endings[j.ID]; e != nil && len(e.waits) > 0 && !j.State.Terminal() {
		j.State, j.Reason = berth.Queued, e.waits[0]
		e.waits = e.waits[1:]
	}
	// Each attempt costs a fixed amount here.
	reply(w, 200, client.Job{Job: *j, CostUSD: 0.0125 * float64(len(j.Attempts))})
}

func (f *fakeAPI) cancel(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.find(r.PathValue("id"))
	switch {
	case j == nil:
		apiError(w, 404, "not_found", "", "job "+r.PathValue("id")+" not found")
	case j.State.Terminal():
		apiError(w, 409, "conflict", "", "job "+j.ID+" already "+string(j.State))
	default:
		j.State, j.Reason = berth.Cancelled, "cancelled"
		reply(w, 200, j)
	}
}

// logs serves a job's output as text, or with format=json as entries. A
// followed job first waits until its waits are used up.
func (f *fakeAPI) logs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	q := r.URL.Query()
	follow := q.Get("follow") == "1"
	f.mu.Lock()
	e := f.endings[id]
	var end ending
	drop := false
	if e != nil {
		end = *e
		if follow && e.drops > 0 {
			e.drops--
			drop = true
		}
	}
	f.mu.Unlock()
	if e == nil {
		apiError(w, 404, "not_found", "", "job "+id+" not found")
		return
	}
	for follow {
		f.mu.Lock()
		waiting := len(e.waits) > 0
		f.mu.Unlock()
		if !waiting {
			break
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	entries := end.output
	if entries == nil {
		for line := range strings.Lines(end.logs) {
			entries = append(entries, client.LogEntry{Time: t0, Attempt: "att_1", Stream: "stdout", Text: line})
		}
	}
	if drop {
		entries = entries[:len(entries)/2]
	}
	if s := q.Get("stream"); s != "" {
		entries = slices.DeleteFunc(slices.Clone(entries), func(e client.LogEntry) bool { return e.Stream != s })
	}
	if q.Get("format") == "json" {
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for _, e := range entries {
			enc.Encode(e)
		}
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, e := range entries {
			w.Write(e.Bytes())
		}
	}
	if !follow || drop {
		return
	}
	if end.hang {
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j := f.find(id)
	j.State, j.ExitCode, j.Reason = end.state, end.exitCode, end.reason
}

func (f *fakeAPI) createSchedule(w http.ResponseWriter, r *http.Request) {
	var spec berth.ScheduleSpec
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		apiError(w, 400, "invalid_request", "", err.Error())
		return
	}
	if err := spec.Validate(); err != nil {
		fe := err.(*berth.FieldError)
		apiError(w, 400, "invalid_request", fe.Field, fe.Problem)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := berth.Schedule{ID: fmt.Sprintf("sch_%d", len(f.schedules)+1), ScheduleSpec: spec, NextRunAt: now.Add(time.Hour), CreatedAt: t0}
	f.schedules = append(f.schedules, s)
	reply(w, 201, s)
}

func (f *fakeAPI) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.schedules {
		if s.ID == r.PathValue("id") {
			f.schedules = append(f.schedules[:i], f.schedules[i+1:]...)
			w.WriteHeader(204)
			return
		}
	}
	apiError(w, 404, "not_found", "", "schedule "+r.PathValue("id")+" not found")
}

// callLog returns the requests made so far.
func (f *fakeAPI) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// submitted returns the specs of the jobs submitted so far.
func (f *fakeAPI) submitted() []berth.JobSpec {
	f.mu.Lock()
	defer f.mu.Unlock()
	var specs []berth.JobSpec
	for _, j := range f.jobs {
		specs = append(specs, j.JobSpec)
	}
	return specs
}
