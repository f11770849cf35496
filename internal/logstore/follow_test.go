package logstore

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// job is a Source for tests: the attempts it lists, and whether it is done.
type job struct {
	// mu guards attempts and done.
	mu       sync.Mutex
	attempts []string
	done     bool
}

func (j *job) src(context.Context) ([]string, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.attempts...), j.done, nil
}

func (j *job) end() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.done = true
}

// follow starts a follower of job_1 that sends each piece of text it reads
// on got and Read's answer on ended.
func follow(ctx context.Context, s *Store, j *job) (got chan string, ended chan error) {
	got, ended = make(chan string), make(chan error, 1)
	go func() {
		ended <- s.Read(ctx, "job_1", j.src, ReadOptions{Follow: true}, func(e Entry) error {
			got <- string(e.Text)
			return nil
		})
	}()
	return got, ended
}

// TestFollowerWokenByAppend: a follower that waits for output gets each
// line the moment it is written, through a Writer (the local agent) or
// WriteAt (a remote agent's chunks), and stops the moment the job has
// ended and it is woken: no time passes, as it would if it polled. No
// follower goroutine is left (synctest fails a test that leaves one
// blocked), and the job is no longer followed.
func TestFollowerWokenByAppend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(t.TempDir(), 0)
		if err != nil {
			t.Fatal(err)
		}
		w, err := s.Writer("job_1", "att_1")
		if err != nil {
			t.Fatal(err)
		}
		j := &job{attempts: []string{"att_1", "att_2"}}
		got, ended := follow(t.Context(), s, j)
		synctest.Wait() // the follower has read everything and waits
		writes := []struct {
			text  string
			write func(string) error
		}{
			{"one\n", func(text string) error { _, err := io.WriteString(w, text); return err }},
			{"two\n", func(text string) error { _, err := io.WriteString(w, text); return err }},
			{"three\n", func(text string) error { _, _, err := s.WriteAt("job_1", "att_2", 0, []byte(text)); return err }},
		}
		for _, wr := range writes {
			start := time.Now()
			if err := wr.write(wr.text); err != nil {
				t.Fatal(err)
			}
			if g := <-got; g != wr.text {
				t.Errorf("follower read %q, want %q", g, wr.text)
			}
			if d := time.Since(start); d != 0 {
				t.Errorf("%q reached the follower %v after it was written, want at once", wr.text, d)
			}
			synctest.Wait()
		}
		w.Close()
		j.end()
		start := time.Now()
		s.Wake("job_1")
		if err := <-ended; err != nil {
			t.Errorf("Read after the job ended = %v, want nil", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("follower stopped %v after it was woken, want at once", d)
		}
		if n := s.followers.count(); n != 0 {
			t.Errorf("%d jobs followed after their followers stopped, want 0", n)
		}
	})
}

// TestFollowerEndsWithJob: a follower of a job that wrote nothing stops
// when the job ends and it is woken, and not before.
func TestFollowerEndsWithJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(t.TempDir(), 0)
		if err != nil {
			t.Fatal(err)
		}
		j := &job{}
		_, ended := follow(t.Context(), s, j)
		time.Sleep(time.Hour) // nothing wakes it: it waits, reading nothing
		select {
		case err := <-ended:
			t.Fatalf("follower of a running job stopped: %v", err)
		default:
		}
		s.Wake("job_1") // woken, but the job has not ended: it goes on waiting
		synctest.Wait()
		select {
		case err := <-ended:
			t.Fatalf("follower of a running job stopped when woken: %v", err)
		default:
		}
		j.end()
		s.Wake("job_1")
		if err := <-ended; err != nil {
			t.Errorf("Read after the job ended = %v, want nil", err)
		}
	})
}

// TestFollowersBounded: a thousand followers of ten jobs hold one entry a
// job, start no goroutine of their own, and leave nothing behind when
// their requests end.
func TestFollowersBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := New(t.TempDir(), 0)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for i := range 1000 {
			jobID := fmt.Sprintf("job_%d", i%10)
			wg.Go(func() {
				src := func(context.Context) ([]string, bool, error) { return []string{"att_1"}, false, nil }
				if err := s.Read(ctx, jobID, src, ReadOptions{Follow: true}, func(Entry) error { return nil }); err != context.Canceled {
					t.Errorf("Read after its context ended = %v, want %v", err, context.Canceled)
				}
			})
		}
		synctest.Wait()
		if n := s.followers.count(); n != 10 {
			t.Errorf("%d jobs followed, want 10", n)
		}
		s.Wake("job_1") // wakes job_1's hundred; the others sleep on
		synctest.Wait()
		cancel()
		wg.Wait()
		if n := s.followers.count(); n != 0 {
			t.Errorf("%d jobs followed after every follower stopped, want 0", n)
		}
	})
}
