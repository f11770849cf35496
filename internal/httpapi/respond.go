package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/store"
	"github.com/berth-run/berth/internal/strict"
)

// apiError is the body of every error answer.
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	writeJSON(w, status, apiError{Error: errorBody{Code: code, Message: msg, Field: field}})
}

// fail answers err: a *berth.FieldError is a 400 naming the field, the
// domain's sentinels map to 404 and 409 (code "stale" for berth.ErrStale: a
// report about an attempt that is no longer current), a database out of
// reach (store.ErrUnavailable) to 503, anything else is a fault of berth.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *berth.FieldError
	var mbe *http.MaxBytesError
	var slow *slowBodyError
	var large *control.TooLargeError
	var conflict *control.IdempotencyConflictError
	switch {
	case errors.As(err, &slow):
		w.Header().Set("Connection", "close")
		writeError(w, http.StatusRequestTimeout, "timeout", slow.Error(), "")
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), "")
	case errors.As(err, &large):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("request body is larger than %d bytes", large.Limit), "")
	case errors.As(err, &conflict):
		writeError(w, http.StatusConflict, "idempotency_conflict", conflict.Error(), "idempotency_key")
	case errors.As(err, &fe):
		msg := fe.Problem
		if fe.Field != "" {
			msg = fe.Field + ": " + fe.Problem
		}
		writeError(w, http.StatusBadRequest, "invalid_request", msg, fe.Field)
	case errors.Is(err, berth.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", closest(err, berth.ErrNotFound), "")
	case errors.Is(err, berth.ErrStale):
		writeError(w, http.StatusConflict, "stale", err.Error(), "")
	case errors.Is(err, berth.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", err.Error(), "")
	case errors.Is(err, store.ErrUnavailable):
		// The database is out of reach: the call changed nothing; the
		// client may try again.
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "unavailable", closest(err, store.ErrUnavailable), "")
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		s.d.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
	}
}

// closest is the message of the error in err's chain that wraps target
// itself ("job job_x: not found"), without the context the layers above
// added for the log, which names the same thing again.
func closest(err, target error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil || next == target {
			return err.Error()
		}
		err = next
	}
}

// decode reads the body (at most its route's limit) into v, strictly.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r.Body)
	if err != nil {
		return err
	}
	return strict.DecodeJSON(body, v)
}

// decodeOptional is decode for a body that may be empty; v is then left as
// it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return strict.DecodeJSON(body, v)
}

// readBody reads the whole body, which its route bounds in size and time
// (and MaxBodyBytes bounds in any case).
func readBody(w http.ResponseWriter, rc io.ReadCloser) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, rc, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		var slow *slowBodyError
		if errors.As(err, &mbe) || errors.As(err, &slow) {
			return nil, err
		}
		return nil, &berth.FieldError{Problem: "could not read the body: " + err.Error()}
	}
	return body, nil
}
