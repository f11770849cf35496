package logstore

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func write(t *testing.T, s *Store, job, att, text string) {
	t.Helper()
	w, err := s.Writer(job, att)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, text); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCopyAcrossAttempts(t *testing.T) {
	s, err := New(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, "job_1", "att_1", "first\n")
	write(t, s, "job_1", "att_2", "second\n")
	src := func(context.Context) ([]string, bool, error) { return []string{"att_1", "att_2", "att_3"}, true, nil }
	var buf bytes.Buffer
	if err := s.Copy(context.Background(), &buf, "job_1", src, false); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "first\nsecond\n" {
		t.Errorf("Copy() wrote %q, want both attempts in order", got)
	}
}

func TestCap(t *testing.T) {
	s, err := New(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Writer("job_1", "att_1")
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if n, err := io.WriteString(w, "0123456"); n != 7 || err != nil {
			t.Fatalf("Write past the cap = %d, %v; want 7, nil", n, err)
		}
	}
	w.Close()
	var buf bytes.Buffer
	src := func(context.Context) ([]string, bool, error) { return []string{"att_1"}, true, nil }
	if err := s.Copy(context.Background(), &buf, "job_1", src, false); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); !strings.HasPrefix(got, "0123456012\n[berth: log truncated") {
		t.Errorf("capped log = %q, want 10 bytes and a notice", got)
	}
}

func TestFollow(t *testing.T) {
	s, err := New(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Writer("job_1", "att_1")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	done := false
	src := func(context.Context) ([]string, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return []string{"att_1"}, done, nil
	}
	out := make(chan string)
	go func() {
		var buf bytes.Buffer
		if err := s.Copy(context.Background(), &buf, "job_1", src, true); err != nil {
			t.Error(err)
		}
		out <- buf.String()
	}()
	io.WriteString(w, "one\n")
	io.WriteString(w, "two\n")
	w.Close()
	mu.Lock()
	done = true
	mu.Unlock()
	s.Wake("job_1")
	select {
	case got := <-out:
		if got != "one\ntwo\n" {
			t.Errorf("followed log = %q, want both lines", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Copy with follow did not end after the job did")
	}
}

func TestBadIDs(t *testing.T) {
	s, err := New(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "../x", "a/b", "."} {
		if _, err := s.Writer(id, "att_1"); err == nil {
			t.Errorf("Writer(%q) = nil error, want one", id)
		}
	}
}
