package sim

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReportJSONBaselines: each baseline's JSON gives its deadline misses
// and lost jobs beside its cost, as the table does.
func TestReportJSONBaselines(t *testing.T) {
	rep := &Report{
		Berth: Result{Name: "berth", CostUSD: 3273.634, JobsTotal: 18066, JobsSucceeded: 18066},
		Baselines: []Result{
			{Name: "aws-batch", CostUSD: 3919.71234, JobsTotal: 18066, JobsLost: 67, DeadlineMisses: 67},
			{Name: "ecs-managed-scaling", CostUSD: 5.72, JobsTotal: 457, DeadlineMisses: 203},
		},
		LowerBoundUSD: 1445.72,
	}
	want := map[string]BaselineJSON{
		"aws-batch":           {CostUSD: 3919.7123, DeadlineMisses: 67, JobsLost: 67},
		"ecs-managed-scaling": {CostUSD: 5.72, DeadlineMisses: 203},
	}
	if diff := cmp.Diff(want, rep.JSON().Baselines); diff != "" {
		t.Errorf("JSON().Baselines (-want +got):\n%s", diff)
	}
}
