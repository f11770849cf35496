package sim

import (
	"strings"
	"testing"
)

// TestParseScenarioRefusesDeepNesting: a scenario nested past what any
// scenario needs is refused at once, in JSON and in YAML.
func TestParseScenarioRefusesDeepNesting(t *testing.T) {
	for name, doc := range map[string]string{
		"json": `{"name":"x","groups":` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + `}`,
		"yaml": "name: x\ngroups: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
	} {
		_, err := ParseScenario([]byte(doc), "")
		if err == nil || !strings.Contains(err.Error(), "deeper than 64 levels") {
			t.Errorf("ParseScenario(%s, deep) = %v, want it refused as nesting deeper than 64 levels", name, err)
		}
	}
}
