package fakecloud

import (
	"strings"
	"testing"
)

// TestParseTraceRefusesDeepNesting: a trace nested deeper than the JSON
// reader takes is refused with an error, not read at a cost that grows
// with its depth.
func TestParseTraceRefusesDeepNesting(t *testing.T) {
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	for _, doc := range []string{
		`{"metadata":{"gap_seconds":60},"data":` + deep + `}`,
		`{"metadata":{"gap_seconds":60},"extra":` + deep + `,"data":[1]}`,
	} {
		if _, err := ParseTrace(strings.NewReader(doc), false); err == nil {
			t.Errorf("ParseTrace(%.60s…) = nil error, want refused", doc)
		}
	}
}
