package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/store"
)

// routeRole is the least role that may call an API route: reading takes
// read, submitting and cancelling jobs and schedules take submit, and the
// fleet (nodes, pools and their join tokens) and API tokens take admin.
func routeRole(rt route) auth.Role {
	switch {
	case strings.HasPrefix(rt.pattern, "/v1/pools"), strings.HasPrefix(rt.pattern, "/v1/tokens"):
		return auth.RoleAdmin
	case rt.method == http.MethodGet:
		return auth.RoleRead
	case rt.pattern == "/v1/jobs", rt.pattern == "/v1/jobs/{id}/cancel",
		rt.pattern == "/v1/schedules", rt.pattern == "/v1/schedules/{id}":
		return auth.RoleSubmit
	}
	return auth.RoleAdmin
}

// requireRole authenticates the admin token or an API token whose role
// allows need.
func (s *Server) requireRole(need auth.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing bearer token: send Authorization: Bearer <token from admin.token, or an API token>", "")
			return
		}
		if s.d.Keys.IsAdmin(tok) {
			h(w, r)
			return
		}
		var t store.APIToken
		err := berth.ErrNotFound
		if auth.IsAPIToken(tok) {
			t, err = s.d.Store.APITokenByHash(r.Context(), auth.HashAPIToken(tok))
		}
		switch {
		case err != nil && !isNotFound(err):
			s.fail(w, r, err)
			return
		case err != nil || !t.Valid(time.Now()):
			w.Header().Set("WWW-Authenticate", `Bearer realm="berth", error="invalid_token"`)
			msg := "invalid token"
			if err == nil && t.RevokedAt != nil {
				msg = "this API token was revoked"
			} else if err == nil {
				msg = "this API token expired at " + t.ExpiresAt.UTC().Format(time.RFC3339)
			}
			writeError(w, http.StatusUnauthorized, "unauthorized", msg, "")
			return
		case !auth.Role(t.Role).Allows(need):
			writeError(w, http.StatusForbidden, "forbidden",
				fmt.Sprintf("this API token's role %s may not %s %s: it takes %s", t.Role, r.Method, r.URL.Path, need), "")
			return
		}
		h(w, r)
	}
}

// tokenRequest is the body of POST /v1/tokens.
type tokenRequest struct {
	Name    string          `json:"name"`
	Role    string          `json:"role"`
	Expires *berth.Duration `json:"expires,omitempty"`
}

// tokenCreated answers POST /v1/tokens: the token, and its secret, shown
// this once.
type tokenCreated struct {
	store.APIToken
	Token string `json:"token"`
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	role := auth.Role(req.Role)
	switch {
	case !role.Valid():
		s.fail(w, r, &berth.FieldError{Field: "role", Problem: fmt.Sprintf("%q is not a role (admin, submit, read)", req.Role)})
		return
	case len(req.Name) > 128 || !utf8.ValidString(req.Name) || strings.ContainsFunc(req.Name, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		s.fail(w, r, &berth.FieldError{Field: "name", Problem: "must be printable text of at most 128 bytes"})
		return
	case req.Expires != nil && *req.Expires <= 0:
		s.fail(w, r, &berth.FieldError{Field: "expires", Problem: "must be positive, such as 720h"})
		return
	}
	now := time.Now()
	t := store.APIToken{ID: berth.NewID("tok", now), Name: req.Name, Role: string(role), CreatedAt: now.UTC().Truncate(time.Millisecond)}
	if req.Expires != nil {
		exp := t.CreatedAt.Add(time.Duration(*req.Expires))
		t.ExpiresAt = &exp
	}
	secret, hash := auth.NewAPIToken()
	t, err := s.d.Store.CreateAPIToken(r.Context(), t, hash)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Log.Info("API token created", "token", t.ID, "name", t.Name, "role", t.Role, "expires", t.ExpiresAt)
	writeJSON(w, http.StatusCreated, tokenCreated{APIToken: t, Token: secret})
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := s.d.Store.APITokens(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	t, err := s.d.Store.RevokeAPIToken(r.Context(), r.PathValue("id"), time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Log.Info("API token revoked", "token", t.ID, "name", t.Name)
	writeJSON(w, http.StatusOK, t)
}

func isNotFound(err error) bool { return errors.Is(err, berth.ErrNotFound) }
