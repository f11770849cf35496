// Package httpapi serves berth's REST API: jobs, their logs and callbacks,
// schedules, nodes and pools, as JSON under /v1, with bearer-token auth, and
// its OpenAPI document at /v1/openapi.json. It also serves the node agents'
// protocol under /v1/agent/, where each node authenticates with its own
// credential and may act on its own attempts only.
//
// Errors are {"error": {"code", "message", "field"}} with the status that
// fits: 400 for bad input (naming the field), 401, 403, 404, 405 (with
// Allow), 409, 413. A 500
// means a fault in berth, never in the request.
package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 1 << 20

// MaxResultBytes bounds the result a job reports through its callback.
const MaxResultBytes = 64 << 10

// Deps are what the API serves from and what it wakes.
type Deps struct {
	Store *store.Store
	Keys  *auth.Keys
	// Logs keeps the jobs' output. New has Store wake the followers of a
	// job's output (logstore.Store.Wake) when it ends the job or one of its
	// attempts, so that they stop.
	Logs *logstore.Store
	Log  *slog.Logger
	// Changed is called after a change the loops should see at once: a job
	// submitted or cancelled, a schedule created. node is the node whose
	// agent should look again ("" for none).
	Changed func(node string)
	// Nodes admits nodes, takes their heartbeats, drains them and acts on
	// their notices.
	Nodes *control.Registry
	// Fleet is the configured pools and their autoscaler; nil lists only
	// the pools that have nodes.
	Fleet *control.Fleet
	// Agents serves the agents' assignments and reports.
	Agents *control.Local
	// Limits bound what one request may cost.
	Limits Limits
	// CallbackGuard, when set, refuses callback URLs that reach addresses
	// the server must not call (loopback, link-local, its own).
	CallbackGuard *control.CallbackGuard
	// AgentBinaries are the executables handed to bootstrapping agents,
	// beside the server's own.
	AgentBinaries *AgentBinaries
	// JoinTokenRotated is called with a pool's new generation of join
	// tokens after a rotation (the server rewrites its join.token file for
	// the default pool); nil for none.
	JoinTokenRotated func(pool string, gen int64)
	// Intakes are the SQS intake queues, for GET /v1/intake.
	Intakes []*control.Intake
}

// Server is the REST API.
type Server struct {
	d      Deps
	limits Limits
	mux    *http.ServeMux
	// streams holds a token for each long-poll and followed log open.
	streams chan struct{}
	joins   *joinLimiter
}

// New returns the API server.
func New(d Deps) *Server {
	if d.Changed == nil {
		d.Changed = func(string) {}
	}
	if d.Store != nil && d.Logs != nil {
		d.Store.OnEnd(d.Logs.Wake)
	}
	limits := d.Limits.withDefaults()
	if d.AgentBinaries == nil {
		d.AgentBinaries = &AgentBinaries{}
	}
	s := &Server{d: d, limits: limits, mux: http.NewServeMux(), streams: make(chan struct{}, limits.MaxStreams),
		joins: newJoinLimiter(limits.JoinRate, limits.JoinBurst)}
	for _, r := range s.routes() {
		var h http.HandlerFunc
		switch r.access {
		case admin:
			h = s.requireRole(routeRole(r), r.handler)
		case public:
			h = r.handler
		case node:
			h = s.requireNode(r.byNode)
		}
		s.mux.Handle(r.method+" "+r.pattern, s.bounded(r, h))
	}
	s.mux.HandleFunc("/", s.noRoute)
	return s
}

// noRoute answers a request no route takes: 405 with the methods the path
// takes in Allow, or 404 when it takes none.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeError(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path, "")
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method_not_allowed",
		fmt.Sprintf("%s %s is not a route: %s takes %s", r.Method, r.URL.Path, r.URL.Path, strings.Join(allow, ", ")), "")
}

// access says who may call a route.
type access int

const (
	admin  access = iota // the admin token, or an API token whose role allows the route (routeRole)
	public               // anyone; the handler checks what it needs (a callback or join token)
	node                 // a node's credential; the handler gets the node's id
)

// SetAgents sets the server side of the agent protocol, when it could not be
// given to New (it needs the callback URL, which needs this server). Call it
// before serving.
func (s *Server) SetAgents(l *control.Local) { s.d.Agents = l }

// route is one endpoint; the OpenAPI test checks the document against these.
type route struct {
	method, pattern string
	access          access
	// body is the most the route reads of a request body (noBody for
	// none), or stream. An authenticated route checks its credential
	// before it reads the body.
	body    int64
	handler http.HandlerFunc                                          // admin and public routes
	byNode  func(w http.ResponseWriter, r *http.Request, node string) // node routes
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", public, noBody, s.healthz, nil},
		{"GET", "/v1/openapi.json", admin, noBody, s.openapi, nil},
		{"POST", "/v1/jobs", admin, documentBody, s.createJob, nil},
		{"GET", "/v1/jobs", admin, noBody, s.listJobs, nil},
		{"GET", "/v1/jobs/{id}", admin, noBody, s.getJob, nil},
		{"POST", "/v1/jobs/{id}/cancel", admin, smallBody, s.cancelJob, nil},
		{"GET", "/v1/jobs/{id}/logs", admin, stream, s.jobLogs, nil},
		{"POST", "/v1/jobs/{id}/callback", public, callbackBody, s.jobCallback, nil},
		{"POST", "/v1/schedules", admin, documentBody, s.createSchedule, nil},
		{"GET", "/v1/schedules", admin, noBody, s.listSchedules, nil},
		{"GET", "/v1/schedules/{id}", admin, noBody, s.getSchedule, nil},
		{"DELETE", "/v1/schedules/{id}", admin, noBody, s.deleteSchedule, nil},
		{"GET", "/v1/nodes", admin, noBody, s.listNodes, nil},
		{"GET", "/v1/nodes/{id}", admin, noBody, s.getNode, nil},
		{"DELETE", "/v1/nodes/{id}", admin, noBody, s.deleteNode, nil},
		{"POST", "/v1/nodes/{id}/drain", admin, smallBody, s.drainNode, nil},
		{"POST", "/v1/nodes/{id}/undrain", admin, smallBody, s.undrainNode, nil},
		{"GET", "/v1/pools", admin, noBody, s.listPools, nil},
		{"GET", "/v1/pools/{name}", admin, noBody, s.getPool, nil},
		{"POST", "/v1/pools/{name}/rotate-token", admin, smallBody, s.rotateJoinToken, nil},
		{"GET", "/v1/cost", admin, noBody, s.getCost, nil},
		{"GET", "/v1/intake", admin, noBody, s.listIntake, nil},
		{"POST", "/v1/tokens", admin, smallBody, s.createToken, nil},
		{"GET", "/v1/tokens", admin, noBody, s.listTokens, nil},
		{"DELETE", "/v1/tokens/{id}", admin, noBody, s.revokeToken, nil},
		{"POST", "/v1/agent/join", public, statusBody, s.agentJoin, nil},
		{"GET", "/v1/agent/binary", public, stream, s.agentBinary, nil},
		{"HEAD", "/v1/agent/binary", public, stream, s.agentBinary, nil},
		{"PUT", "/v1/agent/node", node, statusBody, nil, s.agentHeartbeat},
		{"GET", "/v1/agent/assignments", node, stream, nil, s.agentAssignments},
		{"POST", "/v1/agent/attempts/{id}/started", node, smallBody, nil, s.agentStarted},
		{"POST", "/v1/agent/attempts/{id}/finished", node, statusBody, nil, s.agentFinished},
		{"POST", "/v1/agent/attempts/{id}/logs", node, logChunkBody, nil, s.agentLogs},
		{"POST", "/v1/agent/notices", node, smallBody, nil, s.agentNotice},
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.d.Log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
		}
	}()
	s.mux.ServeHTTP(w, r)
}

// CallbackOnly returns a handler that serves only job callbacks, for the
// listener containers reach.
func (s *Server) CallbackOnly() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/jobs/{id}/callback", s.bounded(route{body: callbackBody}, s.jobCallback))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "only job callbacks are served here", "")
	})
	return mux
}

// requireNode authenticates a node's credential and passes the node's id
// on. Neither the admin token nor a join token is a node credential.
func (s *Server) requireNode(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth-node"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing bearer token: send the node's credential", "")
			return
		}
		var id string
		err := berth.ErrNotFound
		if auth.IsNodeToken(tok) {
			id, err = s.d.Nodes.Authenticate(r.Context(), auth.HashNodeToken(tok))
		}
		if errors.Is(err, berth.ErrNotFound) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth-node", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "invalid node credential", "")
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.d.Nodes.Session(r.Context(), id, r.Header.Get(nodeapi.SessionHeader),
			heartbeatEvery(r), r.RemoteAddr); err != nil {
			var sc *control.SessionConflictError
			if errors.As(err, &sc) {
				writeError(w, http.StatusConflict, "session_conflict", err.Error(), "")
				return
			}
			s.fail(w, r, err)
			return
		}
		h(w, r, id)
	}
}

// heartbeatEvery is the heartbeat interval an agent names in its calls, or
// 0.
func heartbeatEvery(r *http.Request) time.Duration {
	d, err := time.ParseDuration(r.Header.Get(nodeapi.HeartbeatHeader))
	if err != nil || d < 0 || d > time.Hour {
		return 0
	}
	return d
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
