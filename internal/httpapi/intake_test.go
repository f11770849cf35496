package httpapi

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/store"
)

// TestSubmitJobErrors: what the SQS intake submits is refused with the
// seam's typed errors: a body over the limit, and a key used before with
// another body; the same body again is the same job.
func TestSubmitJobErrors(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(Deps{Store: st})
	big := `{"image":"busybox","labels":{"pad":"` + strings.Repeat("x", documentBody) + `"}}`
	var large *control.TooLargeError
	if _, _, err := s.SubmitJob(ctx, []byte(big), "m1"); !errors.As(err, &large) || large.Limit != documentBody {
		t.Errorf("SubmitJob(%d bytes) = %v, want a TooLargeError naming %d", len(big), err, documentBody)
	}
	first, created, err := s.SubmitJob(ctx, []byte(`{"image":"busybox"}`), "m2")
	if err != nil || !created || first.IdempotencyKey != "m2" {
		t.Fatalf("SubmitJob() = %+v, %v, %v; want a job created under key m2", first, created, err)
	}
	again, created, err := s.SubmitJob(ctx, []byte(`{"image":"busybox"}`), "m2")
	if err != nil || created || again.ID != first.ID {
		t.Errorf("SubmitJob() again = %s, %v, %v; want %s, not created", again.ID, created, err, first.ID)
	}
	var conflict *control.IdempotencyConflictError
	if _, _, err := s.SubmitJob(ctx, []byte(`{"image":"alpine"}`), "m2"); !errors.As(err, &conflict) || conflict.JobID != first.ID {
		t.Errorf("SubmitJob(another body, same key) = %v, want an IdempotencyConflictError naming %s", err, first.ID)
	}
}
