package evaluate

import (
	"strings"
	"testing"
)

// TestDeepFilesRefused: trace and price files nested deeper than the JSON
// reader takes are refused with an error, not read at a cost that grows
// with their depth.
func TestDeepFilesRefused(t *testing.T) {
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	if _, err := ParseTrace(strings.NewReader(`{"metadata":{"gap_seconds":60},"data":`+deep+`}`), TraceOptions{}); err == nil {
		t.Error("ParseTrace(deep) = nil error, want refused")
	}
	if _, err := ParsePrices(strings.NewReader(`{"a":`+deep+`}`), "a"); err == nil {
		t.Error("ParsePrices(deep) = nil error, want refused")
	}
}
