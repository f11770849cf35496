// Package httpapi serves berth's REST API: jobs, their logs and callbacks,
// schedules and nodes, as JSON under /v1, with bearer-token auth, and its
// OpenAPI document at /v1/openapi.json.
//
// Errors are {"error": {"code", "message", "field"}} with the status that
// fits: 400 for bad input (naming the field), 401, 403, 404, 409, 413. A 500
// means a fault in berth, never in the request.
package httpapi

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/logstore"
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
	Logs  *logstore.Store
	Log   *slog.Logger
	// Changed is called after a change the loops should see at once: a job
	// submitted or cancelled, a schedule created. node is the node whose
	// agent should look again ("" for none).
	Changed func(node string)
}

// Server is the REST API.
type Server struct {
	d   Deps
	mux *http.ServeMux
}

// New returns the API server.
func New(d Deps) *Server {
	if d.Changed == nil {
		d.Changed = func(string) {}
	}
	s := &Server{d: d, mux: http.NewServeMux()}
	for _, r := range s.routes() {
		h := r.handler
		if !r.public {
			h = s.requireAdmin(h)
		}
		s.mux.Handle(r.method+" "+r.pattern, h)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no route "+r.Method+" "+r.URL.Path, "")
	})
	return s
}

// route is one endpoint; the OpenAPI test checks the document against these.
type route struct {
	method, pattern string
	public          bool // no admin token needed
	handler         http.HandlerFunc
}

func (s *Server) routes() []route {
	return []route{
		{"GET", "/healthz", true, s.healthz},
		{"GET", "/v1/openapi.json", false, s.openapi},
		{"POST", "/v1/jobs", false, s.createJob},
		{"GET", "/v1/jobs", false, s.listJobs},
		{"GET", "/v1/jobs/{id}", false, s.getJob},
		{"POST", "/v1/jobs/{id}/cancel", false, s.cancelJob},
		{"GET", "/v1/jobs/{id}/logs", false, s.jobLogs},
		{"POST", "/v1/jobs/{id}/callback", true, s.jobCallback},
		{"POST", "/v1/schedules", false, s.createSchedule},
		{"GET", "/v1/schedules", false, s.listSchedules},
		{"GET", "/v1/schedules/{id}", false, s.getSchedule},
		{"DELETE", "/v1/schedules/{id}", false, s.deleteSchedule},
		{"GET", "/v1/nodes", false, s.listNodes},
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
	mux.HandleFunc("POST /v1/jobs/{id}/callback", s.jobCallback)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "only job callbacks are served here", "")
	})
	return mux
}

func (s *Server) requireAdmin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing bearer token: send Authorization: Bearer <token from admin.token>", "")
			return
		}
		if !s.d.Keys.IsAdmin(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "invalid token", "")
			return
		}
		h(w, r)
	}
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
