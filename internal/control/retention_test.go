package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/store"
)

// TestStoryRetention: with jobs kept an hour, looked at every minute and
// deleted two per transaction, five jobs cancelled at +0 and one at +30m
// are deleted, logs and all, between +1h and +1h1m and between +1h30m
// and +1h31m; a job that never finishes, and its log, stay.
func TestStoryRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "logs")
		logs, err := logstore.New(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		submit := func() string {
			t.Helper()
			j, _, err := st.CreateJob(ctx, berth.JobSpec{Image: "busybox"}.WithDefaults(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			w, err := logs.Writer(j.ID, "att_1")
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, "output\n")
			w.Close()
			return j.ID
		}
		finish := func(id string) {
			t.Helper()
			if _, err := st.CancelJob(ctx, id, "", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		var first []string
		for range 5 {
			id := submit()
			finish(id)
			first = append(first, id)
		}
		later, open := submit(), submit()

		loop := NewRetention(RetentionConfig{Retain: time.Hour, Interval: time.Minute, Batch: 2}, st, logs,
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		done := make(chan error)
		go func() { done <- loop.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run() = %v", err)
			}
			st.Close()
		}()

		exists := func(id string) bool {
			t.Helper()
			_, err := st.Job(ctx, id)
			if err != nil && !errors.Is(err, berth.ErrNotFound) {
				t.Fatal(err)
			}
			_, statErr := os.Stat(filepath.Join(dir, id))
			if (err == nil) != (statErr == nil) {
				t.Errorf("job %s: in the store %v, its logs on disk %v; want both or neither", id, err == nil, statErr == nil)
			}
			return err == nil
		}
		check := func(at time.Duration, want map[string]bool) {
			t.Helper()
			time.Sleep(time.Until(start.Add(at)))
			synctest.Wait()
			for id, kept := range want {
				if got := exists(id); got != kept {
					t.Errorf("at +%v, job %s kept = %v, want %v", at, id, got, kept)
				}
			}
		}
		want := func(firstKept, laterKept bool) map[string]bool {
			m := map[string]bool{later: laterKept, open: true}
			for _, id := range first {
				m[id] = firstKept
			}
			return m
		}
		time.Sleep(30 * time.Minute)
		finish(later)
		check(59*time.Minute+59*time.Second, want(true, true))
		check(61*time.Minute+time.Second, want(false, true))
		check(89*time.Minute+59*time.Second, want(false, true))
		check(91*time.Minute+time.Second, want(false, false))
		check(10*time.Hour, want(false, false))
		counts, err := st.CountJobs(ctx)
		if err != nil || counts[berth.Cancelled] != 0 || counts[berth.Queued] != 1 {
			t.Errorf("CountJobs() = %v, %v; want one queued job and nothing else", counts, err)
		}
	})
}

func TestRetentionCutoff(t *testing.T) {
	now := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, tt := range []struct {
		retain time.Duration
		want   time.Time
	}{
		{time.Hour, now.Add(-time.Hour)},
		{DefaultRetain, now.AddDate(0, 0, -30)},
		{Forever, time.Time{}},
	} {
		if got := retentionCutoff(now, tt.retain); !got.Equal(tt.want) {
			t.Errorf("retentionCutoff(%v, %v) = %v, want %v", now, tt.retain, got, tt.want)
		}
	}
	if got := (RetentionConfig{}).withDefaults().Retain; got != DefaultRetain {
		t.Errorf("default retention = %v, want %v", got, DefaultRetain)
	}
	if got := (RetentionConfig{Retain: -time.Second}).withDefaults().Retain; got != DefaultRetain {
		t.Errorf("retention of -1s = %v, want the default %v, never \"delete at once\"", got, DefaultRetain)
	}
}
