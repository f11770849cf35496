package scheduler

import (
	"errors"
	"strings"
	"testing"

	berth "github.com/berth-run/berth"
)

func TestCheckLabels(t *testing.T) {
	tests := []struct {
		labels  map[string]string
		problem string // "" for none
	}{
		{nil, ""},
		{map[string]string{"team": "etl", LabelPool: "spot"}, ""},
		{map[string]string{LabelStartBudget: "45s"}, ""},
		{map[string]string{LabelStartBudget: "0s"}, ""},
		{map[string]string{LabelStartBudget: "soon"}, "is not a duration"},
		{map[string]string{LabelStartBudget: ""}, "is not a duration"},
		{map[string]string{LabelStartBudget: "-5m"}, "must not be negative"},
		{map[string]string{LabelStartBudget: "99999999h"}, "is too large"},
	}
	for _, tt := range tests {
		err := CheckLabels(tt.labels)
		var fe *berth.FieldError
		switch {
		case tt.problem == "" && err != nil:
			t.Errorf("CheckLabels(%v) = %v, want nil", tt.labels, err)
		case tt.problem != "" && (!errors.As(err, &fe) || fe.Field != "labels.berth.start-budget" || !strings.Contains(fe.Problem, tt.problem)):
			t.Errorf("CheckLabels(%v) = %v, want labels.berth.start-budget: ...%s...", tt.labels, err, tt.problem)
		}
	}
}
