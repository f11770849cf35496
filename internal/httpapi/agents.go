package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
)

// poolName is what a pool may be called.

func validPool(name string) error {
	if !berth.ValidPoolName(name) {
		return &berth.FieldError{Field: "pool", Problem: fmt.Sprintf("%q is not a pool name (lower-case letters, digits, - and _, at most 63)", name)}
	}
	return nil
}

func validStatus(st nodeapi.Status) error {
	switch {
	case st.CPU < 0:
		return &berth.FieldError{Field: "status.cpu", Problem: "must not be negative"}
	case st.MemoryMB < 0:
		return &berth.FieldError{Field: "status.memory_mb", Problem: "must not be negative"}
	case len(st.Name) > 253:
		return &berth.FieldError{Field: "status.name", Problem: "is longer than 253 characters"}
	}
	return nil
}

// agentJoin admits a node to a pool; the bearer token is the pool's join
// token, checked before the body is read.
// joinToken checks the request's join token, answering 401 when it is
// missing, forged, rotated or expired, and returns the pool it names.
func (s *Server) joinToken(w http.ResponseWriter, r *http.Request) (string, bool) {
	tok, ok := bearer(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing bearer token: send the pool's join token", "")
		return "", false
	}
	pool, gen, ok := s.d.Keys.ParseJoin(tok)
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "invalid join token", "")
		return "", false
	}
	cur, err := s.d.Store.JoinGeneration(r.Context(), pool)
	if err != nil {
		s.fail(w, r, err)
		return "", false
	}
	switch now := time.Now(); {
	case gen != cur.Generation:
		writeError(w, http.StatusUnauthorized, "unauthorized", "this join token of pool "+pool+" was rotated: berth pools "+pool+" shows the current one", "")
		return "", false
	case cur.Expired(now):
		writeError(w, http.StatusUnauthorized, "unauthorized", "the join token of pool "+pool+" expired at "+cur.ExpiresAt.UTC().Format(time.RFC3339)+": rotate it (berth pools rotate-token "+pool+")", "")
		return "", false
	}
	return pool, true
}

func (s *Server) agentJoin(w http.ResponseWriter, r *http.Request) {
	if !s.limitJoins(w, r) {
		return
	}
	pool, ok := s.joinToken(w, r)
	if !ok {
		return
	}
	if s.d.Agents != nil {
		if err := s.d.Agents.AdmitsRemote(); err != nil {
			writeError(w, http.StatusConflict, "advertise_url_required", err.Error(), "")
			return
		}
	}
	var req nodeapi.JoinRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Pool == "" {
		req.Pool = pool
	}
	if err := validPool(req.Pool); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Pool != pool {
		writeError(w, http.StatusUnauthorized, "unauthorized", "this is not the join token of pool "+req.Pool, "")
		return
	}
	if err := validStatus(req.Status); err != nil {
		s.fail(w, r, err)
		return
	}
	req.Status.Ready = false
	n, token, err := s.d.Nodes.Join(r.Context(), req.Pool, req.Status)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.d.Nodes.Session(r.Context(), n.ID, r.Header.Get(nodeapi.SessionHeader), heartbeatEvery(r), r.RemoteAddr); err != nil {
		s.fail(w, r, err) // a new node has no session yet
		return
	}
	writeJSON(w, http.StatusCreated, nodeapi.JoinResponse{Node: n.Node, Token: token})
}

func (s *Server) agentHeartbeat(w http.ResponseWriter, r *http.Request, node string) {
	var st nodeapi.Status
	if err := decode(w, r, &st); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := validStatus(st); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.d.Nodes.Heartbeat(r.Context(), node, st)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n.Node)
}

func (s *Server) agentAssignments(w http.ResponseWriter, r *http.Request, node string) {
	var since uint64
	wait := time.Duration(0)
	for key, vals := range r.URL.Query() {
		v := vals[len(vals)-1]
		switch key {
		case "since":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				s.fail(w, r, &berth.FieldError{Field: "since", Problem: "must be a version returned before, or 0"})
				return
			}
			since = n
		case "wait":
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				s.fail(w, r, &berth.FieldError{Field: "wait", Problem: "must be a duration such as 30s"})
				return
			}
			wait = min(d, nodeapi.MaxWait)
		default:
			s.fail(w, r, &berth.FieldError{Field: key, Problem: "unknown query parameter (since, wait)"})
			return
		}
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(wait + s.limits.WriteTimeout))
	as, v, err := s.d.Agents.Assignments(r.Context(), node, since, wait)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, nodeapi.Assignments{Version: v, Assignments: as})
}

// ownAttempt checks that the attempt in the path was placed on node and
// returns its id and job; it answers the request itself when not.
func (s *Server) ownAttempt(w http.ResponseWriter, r *http.Request, node string) (string, string, bool) {
	id := r.PathValue("id")
	owner, job, err := s.d.Store.AttemptOwner(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return "", "", false
	}
	if owner != node {
		writeError(w, http.StatusForbidden, "forbidden", "attempt "+id+" is not this node's", "")
		return "", "", false
	}
	return id, job, true
}

func (s *Server) agentStarted(w http.ResponseWriter, r *http.Request, node string) {
	id, _, ok := s.ownAttempt(w, r, node)
	if !ok {
		return
	}
	var req nodeapi.Started
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.d.Agents.Started(r.Context(), id, req.ContainerID); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) agentFinished(w http.ResponseWriter, r *http.Request, node string) {
	id, _, ok := s.ownAttempt(w, r, node)
	if !ok {
		return
	}
	var out berth.Outcome
	if err := decode(w, r, &out); err != nil {
		s.fail(w, r, err)
		return
	}
	switch out.Kind {
	case berth.Exited, berth.TimedOut, berth.OOMKilled, berth.StartError, berth.Lost, berth.Stopped:
	default:
		s.fail(w, r, &berth.FieldError{Field: "kind", Problem: fmt.Sprintf("%q is not an outcome an agent reports", out.Kind)})
		return
	}
	if out.Result != nil {
		s.fail(w, r, &berth.FieldError{Field: "result", Problem: "only a job's callback reports a result"})
		return
	}
	if err := s.d.Agents.Finished(r.Context(), id, out); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) agentLogs(w http.ResponseWriter, r *http.Request, node string) {
	id, job, ok := s.ownAttempt(w, r, node)
	if !ok {
		return
	}
	offset, err := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
	if err != nil || offset < 0 {
		s.fail(w, r, &berth.FieldError{Field: "offset", Problem: "must be the chunk's offset in the log, from 0"})
		return
	}
	if err := s.logOpen(r.Context(), job, id, offset, time.Now()); err != nil {
		s.fail(w, r, err)
		return
	}
	chunk, err := readBody(w, http.MaxBytesReader(w, r.Body, nodeapi.MaxLogChunk))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	size, truncated, err := s.d.Logs.WriteAt(job, id, offset, chunk)
	if err != nil {
		s.fail(w, r, fmt.Errorf("log of attempt %s: %w", id, err))
		return
	}
	writeJSON(w, http.StatusOK, nodeapi.LogAck{Size: size, Truncated: truncated})
}

// LogTail is how long after its attempt ended a log still takes output,
// for the agent to ship what the container wrote last.
const LogTail = time.Minute

// logOpen refuses output for an attempt that has ended, except new output
// (at the log's end) within LogTail of the end: no node can rewrite a
// finished attempt's log.
func (s *Server) logOpen(ctx context.Context, job, attempt string, offset int64, now time.Time) error {
	end, err := s.d.Store.AttemptEnd(ctx, attempt)
	if err != nil || end == nil {
		return err
	}
	if now.Sub(*end) > LogTail {
		return fmt.Errorf("attempt %s ended at %s: its log is closed: %w", attempt, end.UTC().Format(time.RFC3339), berth.ErrStale)
	}
	size, err := s.d.Logs.Size(job, attempt)
	if err != nil {
		return fmt.Errorf("log of attempt %s: %w", attempt, err)
	}
	if offset < size {
		return fmt.Errorf("attempt %s has ended: its log takes only new output (from %d), not at %d: %w", attempt, size, offset, berth.ErrStale)
	}
	return nil
}

func (s *Server) agentNotice(w http.ResponseWriter, r *http.Request, node string) {
	var n nodeapi.Notice
	if err := decode(w, r, &n); err != nil {
		s.fail(w, r, err)
		return
	}
	if !n.Kind.Valid() {
		s.fail(w, r, &berth.FieldError{Field: "kind", Problem: fmt.Sprintf("%q is not a notice (spot_interruption, rebalance)", n.Kind)})
		return
	}
	info, err := s.d.Nodes.Notice(r.Context(), node, n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info.Node)
}
