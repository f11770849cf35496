package logstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestJobCap: with a cap of 10 bytes an attempt, and so 40 a job, an
// attempt keeps its output, written through a Writer or shipped in
// chunks, while the job's earlier attempts hold at most 30 bytes; a later
// attempt's log is a notice alone, and its chunks are answered truncated,
// so that its agent ships no more. The job never holds more than 40
// bytes, notices aside.
func TestJobCap(t *testing.T) {
	for _, tt := range []struct {
		name   string
		writes []int // bytes each attempt writes
		kept   int   // how many attempts keep their output
	}{
		{"small attempts", []int{9, 9, 9, 9, 9, 9}, 4},
		{"attempts past their cap count theirs", []int{25, 10, 10, 10, 10}, 4},
		{"one byte past 30 drops the next", []int{10, 10, 10, 1, 10, 1}, 4},
		{"empty attempts hold nothing", []int{0, 0, 10, 10, 10, 10, 3}, 6},
	} {
		for _, ship := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/ship=%v", tt.name, ship), func(t *testing.T) {
				s, err := New(t.TempDir(), 10)
				if err != nil {
					t.Fatal(err)
				}
				if s.JobMaxBytes() != 40 {
					t.Fatalf("JobMaxBytes() = %d, want 4 attempts' worth, 40", s.JobMaxBytes())
				}
				var ids []string
				for i, n := range tt.writes {
					id := fmt.Sprintf("att_%02d", i)
					ids = append(ids, id)
					text := []byte(strings.Repeat(string(rune('a'+i)), n))
					if !ship {
						write(t, s, "job_1", id, string(text))
						continue
					}
					if n == 0 {
						continue
					}
					_, truncated, err := s.WriteAt("job_1", id, 0, text)
					if want := n > 10 || i >= tt.kept; err != nil || truncated != want {
						t.Errorf("WriteAt(attempt %d) = truncated %v, %v; want %v", i, truncated, err, want)
					}
					if i < tt.kept {
						continue
					}
					if _, truncated, _ := s.WriteAt("job_1", id, int64(n), []byte("more")); !truncated {
						t.Errorf("WriteAt(attempt %d, a later chunk) not truncated", i)
					}
				}
				var held int64
				for i, id := range ids {
					got := readAttempt(t, s, ids, id)
					want := strings.Repeat(string(rune('a'+i)), min(tt.writes[i], 10))
					if tt.writes[i] > 10 {
						want += truncatedNotice
					}
					if i >= tt.kept && tt.writes[i] > 0 {
						want = droppedNotice
					} else {
						held += int64(min(tt.writes[i], 10))
					}
					if got != want {
						t.Errorf("log of attempt %d = %q, want %q", i, got, want)
					}
				}
				if held > s.JobMaxBytes() {
					t.Errorf("the job's logs hold %d bytes, past its cap %d", held, s.JobMaxBytes())
				}
			})
		}
	}
}

// TestJobCapFramed: in the log format, a dropped attempt's log reads as
// the notice on stderr.
func TestJobCapFramed(t *testing.T) {
	for _, ship := range []bool{false, true} {
		s, err := New(t.TempDir(), 200)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 5 {
			id := fmt.Sprintf("att_%02d", i)
			ids = append(ids, id)
			var out bytes.Buffer
			io.WriteString(NewEncoder(&out, nil).Stream(Stdout), strings.Repeat(string(rune('a'+i)), 300))
			if ship {
				if _, truncated, err := s.WriteAt("job_1", id, 0, out.Bytes()); err != nil || !truncated {
					t.Errorf("WriteAt(attempt %d) = truncated %v, %v; want truncated", i, truncated, err)
				}
				continue
			}
			write(t, s, "job_1", id, out.String())
		}
		for i, id := range ids {
			var stderr strings.Builder
			src := func(context.Context) ([]string, bool, error) { return ids, true, nil }
			if err := s.Read(context.Background(), "job_1", src, ReadOptions{Attempt: id, Stream: Stderr}, func(e Entry) error {
				stderr.Write(e.Text)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			want := truncatedNotice
			if i == 4 {
				want = droppedNotice
			}
			if stderr.String() != want {
				t.Errorf("ship=%v: stderr of attempt %d = %q, want %q", ship, i, stderr.String(), want)
			}
		}
	}
}

// readAttempt reads one attempt's output, both streams.
func readAttempt(t *testing.T, s *Store, ids []string, id string) string {
	t.Helper()
	var b strings.Builder
	src := func(context.Context) ([]string, bool, error) { return ids, true, nil }
	if err := s.Read(context.Background(), "job_1", src, ReadOptions{Attempt: id}, func(e Entry) error {
		b.Write(e.Text)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
