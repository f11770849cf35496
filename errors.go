package berth

import (
	"errors"
	"fmt"
)

// Errors that callers branch on. The store and the API wrap them with context.
var (
	// ErrNotFound: no such job, schedule, attempt or node.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request is valid but the object's state forbids it
	// (cancelling a finished job, deleting a deleted schedule).
	ErrConflict = errors.New("conflict")
	// ErrStale: a report or plan names an attempt or version that is no longer
	// current. The caller recomputes or drops it; nothing was written.
	ErrStale = errors.New("stale")
	// ErrSecretUnavailable: the service that keeps a secret_env reference's
	// secret could not be asked, or failed on its side (network,
	// throttling, a fault of its own). Retrying later may work; a
	// reference the service refuses (no such parameter, access denied)
	// is another error.
	ErrSecretUnavailable = errors.New("secret store unavailable")
)

// FieldError is a validation error naming the field at fault, in the JSON
// path form a user wrote it in ("retries.backoff", "env.PATH").
type FieldError struct {
	Field   string
	Problem string
}

// Error returns "field: problem", or the problem alone for a problem with
// the whole input (no field).
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Problem)
}

// fieldErr is shorthand for building a *FieldError.
func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// prefixField returns err with its field prefixed by prefix and a dot, when err
// is a *FieldError; other errors come back unchanged.
func prefixField(prefix string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: prefix + "." + fe.Field, Problem: fe.Problem}
	}
	return err
}
