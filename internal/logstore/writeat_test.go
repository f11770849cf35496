package logstore

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestWriteAt ships a log in chunks, some twice and one out of its place,
// past the cap: the log holds each byte once, up to the cap, then the
// notice.
func TestWriteAt(t *testing.T) {
	s, err := New(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		offset    int64
		data      string
		size      int64
		truncated bool
	}{
		{0, "abc", 3, false},
		{0, "abc", 3, false}, // sent again: its answer was lost
		{3, "def", 6, false},
		{0, "abcdef", 6, false}, // the agent started over
		{6, "ghijkl", 10, true}, // crosses the cap
		{12, "mn", 10, true},    // past it
	}
	for _, st := range steps {
		size, truncated, err := s.WriteAt("job_1", "att_1", st.offset, []byte(st.data))
		if err != nil || size != st.size || truncated != st.truncated {
			t.Errorf("WriteAt(%d, %q) = %d, %v, %v; want %d, %v", st.offset, st.data, size, truncated, err, st.size, st.truncated)
		}
	}
	var b bytes.Buffer
	src := func(context.Context) ([]string, bool, error) { return []string{"att_1"}, true, nil }
	if err := s.Copy(context.Background(), &b, "job_1", src, false); err != nil {
		t.Fatal(err)
	}
	if want := "abcdefghij" + truncatedNotice; b.String() != want {
		t.Errorf("log = %q, want %q", b.String(), want)
	}
	if _, _, err := s.WriteAt("job_1", "../x", 0, []byte("x")); err == nil || !strings.Contains(err.Error(), "invalid id") {
		t.Errorf("WriteAt with a path in the id = %v, want invalid id", err)
	}
}
