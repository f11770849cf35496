package client

import (
	"net/http"
	"strings"

	berth "github.com/berth-run/berth"
)

// The codes of the API's error responses.
const (
	CodeInvalidRequest = "invalid_request" // 400: the request or its body is not acceptable; Field names the culprit
	CodeUnauthorized   = "unauthorized"    // 401: no token, or an unknown one
	CodeForbidden      = "forbidden"       // 403: the token may not do this
	CodeNotFound       = "not_found"       // 404: no such job or schedule
	CodeConflict       = "conflict"        // 409: the object's state forbids it (cancelling a finished job)
	CodeStale          = "stale"           // 409: a report names an attempt that is no longer current
	CodeTooLarge       = "too_large"       // 413: the body is too large
	CodeUnavailable    = "unavailable"     // 503: the server cannot serve now; try again later
	CodeInternal       = "internal"        // 500
)

// Error is a non-2xx answer of the API.
//
// When the body is the API's error document, Code, Message and Field come
// from it. When it is not (a proxy's error page, a server that is not berth),
// Code is empty and Message holds the HTTP status and the start of the body.
type Error struct {
	Status  int    // HTTP status code
	Code    string // one of the Code constants, or "" when the body was not an API error
	Message string
	Field   string // the request field at fault, in JSON path form ("retries.backoff"); may be empty
}

// Error reads "field: message", or "message" when no field is named. The
// API's messages name their field already; it is not named twice.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Field != "" && !strings.HasPrefix(msg, e.Field+": ") {
		return e.Field + ": " + msg
	}
	return msg
}

// Is lets callers test API errors against berth's sentinels:
// errors.Is(err, berth.ErrNotFound) holds for code not_found and
// errors.Is(err, berth.ErrConflict) for code conflict and
// errors.Is(err, berth.ErrStale) for code stale.
func (e *Error) Is(target error) bool {
	switch target {
	case berth.ErrNotFound:
		return e.Code == CodeNotFound
	case berth.ErrConflict:
		return e.Code == CodeConflict
	case berth.ErrStale:
		return e.Code == CodeStale
	}
	return false
}
