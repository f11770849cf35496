package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/store"
	"github.com/berth-run/berth/internal/strict"
)

func (s *Server) createJob(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	job, created, err := s.SubmitJob(r.Context(), body, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	w.Header().Set("Location", "/v1/jobs/"+job.ID)
	s.writeJob(w, r, status, job)
}

var _ control.JobSubmitter = (*Server)(nil)

// SubmitJob creates the job body asks for, as POST /v1/jobs takes it:
// decoded strictly, validated, checked against the pools that could hold
// it, its callback against the guard and its deadline against its
// expected duration. It is created idempotently, under the body's
// idempotency key, else under key ("" for none). It returns the job and
// whether it was created now (false: the key's job, submitted before with
// the same body). Its errors are the seam's: bad input is a
// *berth.FieldError, a body over the limit a *control.TooLargeError, a
// key used before with another body a *control.IdempotencyConflictError;
// any other error is berth's fault (the store's) and worth a retry.
func (s *Server) SubmitJob(ctx context.Context, body []byte, key string) (berth.Job, bool, error) {
	if len(body) > documentBody {
		return berth.Job{}, false, &control.TooLargeError{Size: len(body), Limit: documentBody}
	}
	var spec berth.JobSpec
	if err := strict.DecodeJSON(body, &spec); err != nil {
		return berth.Job{}, false, err
	}
	if spec.IdempotencyKey == "" {
		spec.IdempotencyKey = key
	}
	if err := spec.Validate(); err != nil {
		return berth.Job{}, false, err
	}
	if err := s.checkPool(ctx, spec, ""); err != nil {
		return berth.Job{}, false, err
	}
	if err := s.checkHolds(ctx, spec, ""); err != nil {
		return berth.Job{}, false, err
	}
	if err := s.checkCallback(ctx, spec.CallbackURL, "callback_url"); err != nil {
		return berth.Job{}, false, err
	}
	now := time.Now()
	submitted := spec.WithDefaults()
	if err := s.expect(ctx, &spec, now); err != nil {
		return berth.Job{}, false, err
	}
	job, created, err := s.d.Store.CreateJob(ctx, spec.WithDefaults(), now)
	if err != nil {
		return berth.Job{}, false, err
	}
	if created {
		s.d.Changed("")
		return job, true, nil
	}
	same, err := s.sameSpec(ctx, job, submitted)
	if err != nil {
		return berth.Job{}, false, err
	}
	if !same {
		return berth.Job{}, false, &control.IdempotencyConflictError{Key: spec.IdempotencyKey, JobID: job.ID}
	}
	return job, false, nil
}

// checkCallback refuses a callback URL that reaches an address the server
// must not call.
func (s *Server) checkCallback(ctx context.Context, raw, field string) error {
	if raw == "" || s.d.CallbackGuard == nil {
		return nil
	}
	if err := s.d.CallbackGuard.CheckURL(ctx, raw); err != nil {
		return &berth.FieldError{Field: field, Problem: err.Error()}
	}
	return nil
}

// sameSpec reports whether a job stored under an idempotency key was
// submitted with the body that asks for it again. An expected duration
// berth learned for the stored job does not count. The stored job holds
// its secret_env hidden: its values are compared unsealed, and neither
// side's is ever part of an answer.
func (s *Server) sameSpec(ctx context.Context, stored berth.Job, submitted berth.JobSpec) (bool, error) {
	if !specsEqual(stored.JobSpec, submitted.WithSecretsHidden()) {
		return false, nil
	}
	if len(submitted.SecretEnv) == 0 {
		return true, nil
	}
	secrets, err := s.d.Store.SecretEnv(ctx, stored.ID)
	if err != nil {
		return false, err
	}
	return maps.Equal(secrets, submitted.SecretEnv), nil
}

// specsEqual reports whether two specs are the same, but for an expected
// duration learned for the stored one.
func specsEqual(stored, submitted berth.JobSpec) bool {
	if submitted.ExpectedDuration == 0 {
		stored.ExpectedDuration = 0
	}
	a, err1 := json.Marshal(stored)
	b, err2 := json.Marshal(submitted)
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}

// LearnFrom is how many earlier runs a job's expected duration is learned
// from: the median of the last ones.
const LearnFrom = 5

// expect checks that a job with a deadline can meet it, learning its
// expected duration from earlier successful runs of jobs with the same
// labels when the spec gives none.
func (s *Server) expect(ctx context.Context, spec *berth.JobSpec, now time.Time) error {
	if spec.Deadline == nil {
		return nil
	}
	if spec.ExpectedDuration == 0 {
		runs, err := s.d.Store.RunTimes(ctx, spec.Labels, LearnFrom)
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return &berth.FieldError{Field: "expected_duration", Problem: "is required with a deadline: no earlier successful run of a job with the same labels to learn it from"}
		}
		slices.Sort(runs)
		spec.ExpectedDuration = berth.Duration(max(runs[len(runs)/2].Round(time.Second), time.Second))
	}
	return spec.CheckDeadline(now)
}

// jobPage is the answer of GET /v1/jobs.
type jobPage struct {
	Jobs       []jobView `json:"jobs"`
	NextCursor string    `json:"next_cursor"`
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	f, err := jobFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	jobs, next, err := s.d.Store.ListJobs(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	views, err := s.viewJobs(r.Context(), jobs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobPage{Jobs: views, NextCursor: next})
}

// cursorRe is what a page's next_cursor looks like: a job's id.
var cursorRe = regexp.MustCompile(`^job_[0-9a-z]{24}$`)

// jobFilter reads the query of GET /v1/jobs, refusing what it does not know.
func jobFilter(q url.Values) (store.JobFilter, error) {
	f := store.JobFilter{Limit: 50}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "state":
			f.State = berth.State(v)
			if !f.State.Valid() {
				return f, &berth.FieldError{Field: "state", Problem: fmt.Sprintf("%q is not a state (scheduled, queued, starting, running, succeeded, failed, cancelled)", v)}
			}
		case "label":
			f.Labels = map[string]string{}
			for _, l := range vals {
				k, val, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return f, &berth.FieldError{Field: "label", Problem: fmt.Sprintf("%q is not key=value", l)}
				}
				f.Labels[k] = val
			}
		case "schedule":
			f.ScheduleID = v
		case "cursor":
			if v != "" && !cursorRe.MatchString(v) { // "" is the first page
				return f, &berth.FieldError{Field: "cursor", Problem: fmt.Sprintf("%q is not a cursor: pass the next_cursor of the previous page", v)}
			}
			f.Cursor = v
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return f, &berth.FieldError{Field: "limit", Problem: "must be an integer from 1 to 1000"}
			}
			f.Limit = n
		default:
			return f, &berth.FieldError{Field: key, Problem: "unknown query parameter (state, label, schedule, cursor, limit)"}
		}
	}
	return f, nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	job, err := s.d.Store.Job(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, fmt.Errorf("job %s: %w", r.PathValue("id"), err))
		return
	}
	s.writeJob(w, r, http.StatusOK, job)
}

func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	job, err := s.d.Store.CancelJob(r.Context(), id, "cancelled by user", time.Now())
	if err != nil {
		s.fail(w, r, fmt.Errorf("cancel job %s: %w", id, err))
		return
	}
	node := ""
	if a := job.CurrentAttempt(); a != nil && a.Active() {
		node = a.Node
	}
	s.d.Changed(node)
	s.writeJob(w, r, http.StatusOK, job)
}

// jobLogs serves a job's output: ?follow=1 streams it until the job ends,
// ?stream=stdout|stderr keeps one stream, ?attempt=ID one attempt, and
// ?format=json writes one JSON object a line (time, attempt, stream, text;
// and data, the text's bytes in base64, when they are not UTF-8) in place
// of the text.
func (s *Server) jobLogs(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var opt logstore.ReadOptions
	asJSON := false
	for key, vals := range r.URL.Query() {
		var fe *berth.FieldError
		switch key {
		case "follow":
			b, err := strconv.ParseBool(vals[0])
			if err != nil {
				fe = &berth.FieldError{Field: "follow", Problem: "must be 1, 0, true or false"}
			}
			opt.Follow = b
		case "stream":
			st, err := logstore.ParseStream(vals[0])
			if err != nil || st == 0 {
				fe = &berth.FieldError{Field: "stream", Problem: "must be stdout or stderr"}
			}
			opt.Stream = st
		case "attempt":
			opt.Attempt = vals[0]
		case "format":
			asJSON = vals[0] == "json"
			if vals[0] != "json" && vals[0] != "text" {
				fe = &berth.FieldError{Field: "format", Problem: "must be text or json"}
			}
		default:
			fe = &berth.FieldError{Field: key, Problem: "unknown query parameter (follow, stream, attempt, format)"}
		}
		if fe != nil {
			s.fail(w, r, fe)
			return
		}
	}
	job, err := s.d.Store.Job(r.Context(), id)
	if err != nil {
		s.fail(w, r, fmt.Errorf("job %s: %w", id, err))
		return
	}
	if opt.Attempt != "" && !slices.ContainsFunc(job.Attempts, func(a berth.Attempt) bool { return a.ID == opt.Attempt }) {
		s.fail(w, r, fmt.Errorf("attempt %s of job %s: %w", opt.Attempt, id, berth.ErrNotFound))
		return
	}
	out := streamWriter{w: w, rc: http.NewResponseController(w), timeout: s.limits.WriteTimeout}
	opt.Flush = out.Flush
	write := func(e logstore.Entry) error {
		_, err := out.Write(e.Text)
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if asJSON {
		type entry struct {
			Time    time.Time `json:"time,omitzero"`
			Attempt string    `json:"attempt"`
			Stream  string    `json:"stream"`
			Text    string    `json:"text"`
			Data    []byte    `json:"data,omitempty"`
		}
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		write = func(e logstore.Entry) error {
			je := entry{Time: e.Time, Attempt: e.Attempt, Stream: e.Stream.String(), Text: string(e.Text)}
			if !utf8.Valid(e.Text) {
				je.Data = e.Text
			}
			return enc.Encode(je)
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.WriteHeader(http.StatusOK)
	out.Flush()
	src := func(ctx context.Context) ([]string, bool, error) {
		job, err := s.d.Store.Job(ctx, id)
		if err != nil {
			return nil, false, err
		}
		ids := make([]string, len(job.Attempts))
		active := false
		for i, a := range job.Attempts {
			ids[i] = a.ID
			active = active || a.Active()
		}
		return ids, job.State.Terminal() && !active, nil
	}
	if err := s.d.Logs.Read(r.Context(), id, src, opt, write); err != nil && r.Context().Err() == nil {
		s.d.Log.Warn("serve logs", "job", id, "err", err)
	}
}

// callbackRequest is the body a job POSTs to report its own result.
type callbackRequest struct {
	Status string          `json:"status"` // succeeded or failed
	Result json.RawMessage `json:"result,omitempty"`
}

func (s *Server) jobCallback(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	tok, ok := bearer(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing bearer token: send the job's BERTH_CALLBACK_TOKEN", "")
		return
	}
	job, err := s.d.Store.Job(r.Context(), id)
	if err != nil {
		s.fail(w, r, fmt.Errorf("job %s: %w", id, err))
		return
	}
	a := job.CurrentAttempt()
	if a == nil || !s.d.Keys.VerifyCallback(a.ID, tok) {
		writeError(w, http.StatusForbidden, "forbidden", "this token is not the callback token of the job's current attempt", "")
		return
	}
	var req callbackRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	out := berth.Outcome{Kind: berth.Reported, Result: req.Result}
	switch req.Status {
	case "succeeded":
		out.ExitCode = new(0)
	case "failed":
		out.ExitCode = new(1)
	default:
		s.fail(w, r, &berth.FieldError{Field: "status", Problem: `must be "succeeded" or "failed"`})
		return
	}
	if len(req.Result) > MaxResultBytes {
		s.fail(w, r, &berth.FieldError{Field: "result", Problem: fmt.Sprintf("is larger than %d bytes", MaxResultBytes)})
		return
	}
	job, err = s.d.Store.ReportResult(r.Context(), a.ID, out, time.Now())
	if err != nil {
		s.fail(w, r, fmt.Errorf("job %s: %w", id, err))
		return
	}
	s.d.Changed(a.Node)
	// The container knows its env; whoever else holds its token need not.
	s.writeJob(w, r, http.StatusOK, job.WithoutSecrets())
}
