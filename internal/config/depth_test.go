package config

import (
	"strings"
	"testing"
)

// TestParseRefusesDeepNesting: a configuration nested past what any
// berth.yaml needs is refused at once, in JSON and in YAML.
func TestParseRefusesDeepNesting(t *testing.T) {
	for name, doc := range map[string]string{
		"json": `{"pools":[{"name":"a","labels":` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + `}]}`,
		"yaml": "pools:\n- name: a\n  provider: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
	} {
		_, err := Parse([]byte(doc), "")
		if err == nil || !strings.Contains(err.Error(), "deeper than 64 levels") {
			t.Errorf("Parse(%s, deep) = %v, want it refused as nesting deeper than 64 levels", name, err)
		}
	}
}
