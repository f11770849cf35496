package logstore

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 stamps the output of the tests' encoders, a second more each piece.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// ticker returns a clock that starts at t0 and moves a second a call.
func ticker() func() time.Time {
	var mu sync.Mutex
	next := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := next
		next = next.Add(time.Second)
		return t
	}
}

// piece is an Entry in a form that compares: stream, time and text.
type piece struct {
	Attempt string
	Stream  string
	Time    time.Time
	Text    string
}

// read reads the job's log with opt into pieces, joining consecutive
// entries of one stream and time (Read may cut a long text).
func read(t *testing.T, s *Store, job string, ids []string, opt ReadOptions) []piece {
	t.Helper()
	src := func(context.Context) ([]string, bool, error) { return ids, true, nil }
	var got []piece
	err := s.Read(t.Context(), job, src, opt, func(e Entry) error {
		if n := len(got); n > 0 && got[n-1].Attempt == e.Attempt && got[n-1].Stream == e.Stream.String() && got[n-1].Time.Equal(e.Time) {
			got[n-1].Text += string(e.Text)
			return nil
		}
		got = append(got, piece{e.Attempt, e.Stream.String(), e.Time, string(e.Text)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// writeStreams writes each "out:" or "err:" line of script to its stream
// of the attempt's log, through an Encoder.
func writeStreams(t *testing.T, s *Store, job, att string, script ...string) {
	t.Helper()
	w, err := s.Writer(job, att)
	if err != nil {
		t.Fatal(err)
	}
	enc := NewEncoder(w, ticker())
	for _, line := range script {
		stream, text, _ := strings.Cut(line, ":")
		sw := enc.Stream(Stdout)
		if stream == "err" {
			sw = enc.Stream(Stderr)
		}
		if _, err := io.WriteString(sw, text); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestStreamsKeptApart: what a container writes to stdout and stderr
// comes back in the order written, each piece with its stream and time,
// and each stream, or one attempt, can be read alone.
func TestStreamsKeptApart(t *testing.T) {
	s, err := New(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	writeStreams(t, s, "job_1", "att_1", "out:starting\n", "err:warning: disk\n", "out:done\n")
	writeStreams(t, s, "job_1", "att_2", "err:retrying\n")
	ids := []string{"att_1", "att_2"}
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	tests := []struct {
		opt  ReadOptions
		want []piece
	}{
		{ReadOptions{}, []piece{
			{"att_1", "stdout", at(0), "starting\n"},
			{"att_1", "stderr", at(1), "warning: disk\n"},
			{"att_1", "stdout", at(2), "done\n"},
			{"att_2", "stderr", at(0), "retrying\n"},
		}},
		{ReadOptions{Stream: Stdout}, []piece{
			{"att_1", "stdout", at(0), "starting\n"},
			{"att_1", "stdout", at(2), "done\n"},
		}},
		{ReadOptions{Stream: Stderr}, []piece{
			{"att_1", "stderr", at(1), "warning: disk\n"},
			{"att_2", "stderr", at(0), "retrying\n"},
		}},
		{ReadOptions{Attempt: "att_2"}, []piece{
			{"att_2", "stderr", at(0), "retrying\n"},
		}},
		{ReadOptions{Attempt: "att_1", Stream: Stderr}, []piece{
			{"att_1", "stderr", at(1), "warning: disk\n"},
		}},
		{ReadOptions{Attempt: "att_9"}, nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, read(t, s, "job_1", ids, tt.opt)); diff != "" {
			t.Errorf("Read(%+v) mismatch (-want +got):\n%s", tt.opt, diff)
		}
	}
}

// TestRawLogReadsAsStdout: a log written without an Encoder (before the
// format, or by a writer that cannot tell the streams apart) is all
// stdout, without times.
func TestRawLogReadsAsStdout(t *testing.T) {
	s, err := New(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, "job_1", "att_1", "plain\n")
	want := []piece{{"att_1", "stdout", time.Time{}, "plain\n"}}
	if diff := cmp.Diff(want, read(t, s, "job_1", []string{"att_1"}, ReadOptions{})); diff != "" {
		t.Errorf("raw log mismatch (-want +got):\n%s", diff)
	}
	if got := read(t, s, "job_1", []string{"att_1"}, ReadOptions{Stream: Stderr}); got != nil {
		t.Errorf("raw log's stderr = %v, want none", got)
	}
}

// TestLongWritesAreFramed: a write longer than a frame holds comes back
// whole.
func TestLongWritesAreFramed(t *testing.T) {
	s, err := New(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("0123456789abcdef", 3*maxFrame/16+5)
	writeStreams(t, s, "job_1", "att_1", "out:"+long, "err:after\n")
	got := read(t, s, "job_1", []string{"att_1"}, ReadOptions{})
	if len(got) != 2 || got[0].Text != long || got[1].Text != "after\n" {
		t.Errorf("read %d pieces, want the long text whole, then stderr", len(got))
	}
}

// TestFramedCap: a framed log cut at its cap, written locally or shipped
// in chunks, reads up to the cap, then says it was cut, on stderr.
func TestFramedCap(t *testing.T) {
	const capBytes = 100
	var framed strings.Builder
	enc := NewEncoder(&framed, ticker())
	for i := range 10 {
		fmt.Fprintf(enc.Stream(Stdout), "line %d\n", i) // 13+7 bytes a frame
	}
	log := framed.String()

	local, err := New(t.TempDir(), capBytes)
	if err != nil {
		t.Fatal(err)
	}
	w, err := local.Writer("job_1", "att_1")
	if err != nil {
		t.Fatal(err)
	}
	enc = NewEncoder(w, ticker())
	for i := range 10 {
		fmt.Fprintf(enc.Stream(Stdout), "line %d\n", i)
	}
	w.Close()

	shipped, err := New(t.TempDir(), capBytes)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(log); off += 7 {
		chunk := log[off:min(off+7, len(log))]
		if _, truncated, err := shipped.WriteAt("job_1", "att_1", int64(off), []byte(chunk)); err != nil || truncated {
			if err != nil {
				t.Fatal(err)
			}
			break
		}
	}

	// 100 bytes: the magic (12), four whole frames (80) and 8 bytes of the
	// fifth, its header cut.
	for name, s := range map[string]*Store{"local": local, "shipped": shipped} {
		var out, errs strings.Builder
		for _, p := range read(t, s, "job_1", []string{"att_1"}, ReadOptions{}) {
			if p.Stream == "stdout" {
				out.WriteString(p.Text)
			} else {
				errs.WriteString(p.Text)
			}
		}
		if want := "line 0\nline 1\nline 2\nline 3\n"; out.String() != want || errs.String() != truncatedNotice {
			t.Errorf("%s: capped log: stdout %q, stderr %q; want %q and the notice", name, out.String(), errs.String(), want)
		}
	}
}

// TestFollowWaitsForWholeFrames: a follower that reads a frame half
// written waits for the rest, and never hands out half a header.
func TestFollowWaitsForWholeFrames(t *testing.T) {
	s, err := New(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var framed strings.Builder
	enc := NewEncoder(&framed, ticker())
	io.WriteString(enc.Stream(Stdout), "one\n")
	io.WriteString(enc.Stream(Stderr), "two\n")
	log := framed.String()

	var mu sync.Mutex
	done := false
	src := func(context.Context) ([]string, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return []string{"att_1"}, done, nil
	}
	out := make(chan []piece)
	go func() {
		var got []piece
		err := s.Read(context.Background(), "job_1", src, ReadOptions{Follow: true}, func(e Entry) error {
			got = append(got, piece{e.Attempt, e.Stream.String(), e.Time, string(e.Text)})
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		out <- got
	}()
	for off := 0; off < len(log); off += 5 {
		chunk := log[off:min(off+5, len(log))]
		if _, _, err := s.WriteAt("job_1", "att_1", int64(off), []byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	done = true
	mu.Unlock()
	s.Wake("job_1")
	want := []piece{{"att_1", "stdout", t0, "one\n"}, {"att_1", "stderr", t0.Add(time.Second), "two\n"}}
	select {
	case got := <-out:
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("followed log mismatch (-want +got):\n%s", diff)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read with Follow did not end after the job did")
	}
}

// TestEncoderAsOneWriter: an Encoder written as one writer writes stdout;
// its Stderr, stderr.
func TestEncoderAsOneWriter(t *testing.T) {
	s, err := New(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Writer("job_1", "att_1")
	if err != nil {
		t.Fatal(err)
	}
	enc := NewEncoder(w, ticker())
	var single io.Writer = enc
	io.WriteString(single, "out\n")
	io.WriteString(enc.Stderr(), "err\n")
	w.Close()
	want := []piece{{"att_1", "stdout", t0, "out\n"}, {"att_1", "stderr", t0.Add(time.Second), "err\n"}}
	if diff := cmp.Diff(want, read(t, s, "job_1", []string{"att_1"}, ReadOptions{})); diff != "" {
		t.Errorf("log mismatch (-want +got):\n%s", diff)
	}
}

func TestParseStream(t *testing.T) {
	for _, s := range []Stream{Stdout, Stderr, 0} {
		if got, err := ParseStream(s.String()); got != s || err != nil {
			t.Errorf("ParseStream(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
	if _, err := ParseStream("stdin"); err == nil {
		t.Error("ParseStream(stdin) = nil error, want one")
	}
}
