package store

import (
	"context"
	"errors"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

func TestCallbackOutbox(t *testing.T) { forEachStore(t, testCallbackOutbox) }

func testCallbackOutbox(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		j := mustCreate(t, s, berth.JobSpec{Image: "busybox", CallbackURL: "https://cb.example/" + string(rune('a'+i))}, t0)
		if _, err := s.CancelJob(ctx, j.ID, "", t0.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	due, err := s.DueCallbacks(ctx, t0.Add(time.Second), 10)
	if err != nil || len(due) != 2 || due[0].JobID != ids[0] || due[1].JobID != ids[1] {
		t.Fatalf("DueCallbacks(+1s) = %+v, %v; want the first two", due, err)
	}
	if due, _ := s.DueCallbacks(ctx, t0.Add(time.Hour), 1); len(due) != 1 {
		t.Errorf("DueCallbacks(limit 1) = %d callbacks", len(due))
	}

	// A failed delivery is retried later.
	retryAt := t0.Add(time.Minute)
	if err := s.CallbackFailed(ctx, ids[0], retryAt, "503 Service Unavailable"); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueCallbacks(ctx, t0.Add(2*time.Second), 10)
	if len(due) != 2 || due[0].JobID != ids[1] || due[1].JobID != ids[2] {
		t.Errorf("after a failure, due = %+v; want the other two", due)
	}
	due, _ = s.DueCallbacks(ctx, retryAt, 10)
	if len(due) != 3 || due[2].JobID != ids[0] || due[2].Tries != 1 || due[2].LastErr != "503 Service Unavailable" || !due[2].NextAt.Equal(retryAt) {
		t.Errorf("at the retry time, due = %+v; want the failed one last with 1 try", due)
	}

	// Delivered: leaves the outbox, the job says so.
	if err := s.CallbackDelivered(ctx, ids[1], retryAt); err != nil {
		t.Fatal(err)
	}
	if j := mustJob(t, s, ids[1]); !j.CallbackSent || j.Version != 3 {
		t.Errorf("delivered job: callback_sent %v version %d; want true, 3", j.CallbackSent, j.Version)
	}
	// Given up: leaves the outbox, the job stays as it was.
	before := mustJob(t, s, ids[2])
	if err := s.CallbackFailed(ctx, ids[2], time.Time{}, "410 Gone"); err != nil {
		t.Fatal(err)
	}
	if after := mustJob(t, s, ids[2]); after.CallbackSent || after.Version != before.Version || after.Reason != before.Reason {
		t.Errorf("given-up job changed: %+v", after)
	}
	due, _ = s.DueCallbacks(ctx, t0.Add(time.Hour), 10)
	if len(due) != 1 || due[0].JobID != ids[0] {
		t.Errorf("outbox = %+v; want only %s", due, ids[0])
	}
	for _, err := range []error{
		s.CallbackDelivered(ctx, ids[1], retryAt),
		s.CallbackFailed(ctx, ids[2], retryAt, "x"),
		s.CallbackFailed(ctx, "job_nope", time.Time{}, "x"),
	} {
		if !errors.Is(err, berth.ErrNotFound) {
			t.Errorf("outbox call for a job not in it = %v, want ErrNotFound", err)
		}
	}
}
