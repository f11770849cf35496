package main

import (
	"strings"
	"testing"
)

func TestDeadlinePolicy(t *testing.T) {
	for _, name := range []string{"berth", "uniform_progress", "greedy"} {
		if p, err := deadlinePolicy(name); err != nil || p.Name() != name {
			t.Errorf("deadlinePolicy(%q) = %v, %v; want that policy", name, p, err)
		}
	}
	if _, err := deadlinePolicy("omniscient"); err == nil || !strings.Contains(err.Error(), "berth, uniform_progress, greedy") {
		t.Errorf("deadlinePolicy(omniscient) = %v, want an error naming the policies", err)
	}
}
