package strict_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/strict"
)

// nested is levels arrays, one inside the other, around inner.
func nested(levels int, inner string) string {
	return strings.Repeat("[", levels) + inner + strings.Repeat("]", levels)
}

// nestedObjects is levels objects, each holding the next under key k.
func nestedObjects(levels int, inner string) string {
	return strings.Repeat(`{"k":`, levels) + inner + strings.Repeat("}", levels)
}

// result is a document with a field that takes any JSON, as a job's
// callback body does.
type result struct {
	Status string          `json:"status"`
	Result json.RawMessage `json:"result"`
	Any    map[string]any  `json:"any"`
}

func TestDecodeJSONRefusesDeepNesting(t *testing.T) {
	tests := []struct {
		name, body, field string
	}{
		{"a 40 KB body of arrays", nested(20000, ""), "[0]"},
		{"unclosed arrays", strings.Repeat("[", 40000), "[0]"},
		{"arrays in a field", `{"status":"x","result":` + nested(65, "1") + `}`, "result"},
		{"objects in a field", `{"any":` + nestedObjects(64, "1") + `}`, "any"},
		{"deep after a good field", `{"status":"ok","result":` + nested(100000, "") + `}`, "result"},
		{"arrays that end malformed", `{"result":` + strings.Repeat("[", 70) + "}", "result"},
	}
	for _, tt := range tests {
		var v result
		field, problem := fieldProblem(t, tt.name, strict.DecodeJSON([]byte(tt.body), &v))
		if field != tt.field || !strings.Contains(problem, "nests deeper than 64 levels") {
			t.Errorf("%s: DecodeJSON = {%q, %q}, want field %q and nests deeper than 64 levels", tt.name, field, problem, tt.field)
		}
	}
}

func TestDecodeJSONTakesNestingUpToTheLimit(t *testing.T) {
	// The document is level 1, so its fields may nest 63 more.
	for _, body := range []string{
		`{"result":` + nested(63, "1") + `}`,
		`{"any":` + nestedObjects(62, "1") + `}`,
	} {
		var v result
		if err := strict.DecodeJSON([]byte(body), &v); err != nil {
			t.Errorf("DecodeJSON(%.40s…) = %v, want it read", body, err)
		}
	}
}

func TestDecodeRefusesDeepYAML(t *testing.T) {
	block := "job:\n  labels:\n"
	for i := range 70 {
		block += strings.Repeat("  ", i+2) + "k:\n"
	}
	block += strings.Repeat("  ", 72) + "v\n"
	for name, doc := range map[string]string{
		"block":                block,
		"flow":                 "cron: x\njob: {labels: " + nested(9000, "") + "}\n",
		"flow, 40 KB of lists": "cron: x\njob: " + strings.Repeat("[", 40000) + "\n",
	} {
		var s berth.ScheduleSpec
		_, problem := fieldProblem(t, name, strict.Decode([]byte(doc), &s))
		// The YAML parser refuses 10,000 levels itself, before berth can.
		if !strings.Contains(problem, "deeper than 64") && !strings.Contains(problem, "exceeded max depth") {
			t.Errorf("Decode(%s) = %q, want it refused as too deep", name, problem)
		}
	}
}

// TestDeepNestingCostsLittle: refusing a deep document reads it once and
// builds nothing per level, whatever its depth.
func TestDeepNestingCostsLittle(t *testing.T) {
	for _, levels := range []int{1000, 40000, 500000} {
		body := []byte(`{"status":"x","result":` + nested(levels, "") + `}`)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var v result
		if err := strict.DecodeJSON(body, &v); err == nil {
			t.Fatalf("DecodeJSON(%d levels) = nil, want refused", levels)
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
			t.Errorf("DecodeJSON(%d levels) allocated %d bytes, want under 64 KiB", levels, got)
		}
	}
}
