package httpapi

import (
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// TestHolds: a job pinned to a configured pool that no instance type,
// task size or overflow runner can hold is refused, naming the pin.
func TestHolds(t *testing.T) {
	spot := &berth.PoolSpec{Name: "spot", Provider: berth.ProviderFake, InstanceTypes: []berth.InstanceType{
		{Name: "c5.xlarge", CPU: 4, MemoryMB: 8192}, {Name: "r5.large", CPU: 2, MemoryMB: 16384}}}
	withOverflow := *spot
	withOverflow.Overflow, withOverflow.StartBudget = "fargate", berth.Duration(time.Minute)
	noBudget := withOverflow
	noBudget.StartBudget = 0
	fargate := (&berth.PoolSpec{Name: "fargate", Provider: berth.ProviderFakeServerless, Serverless: &berth.Serverless{}}).WithDefaults()
	local := &berth.PoolSpec{Name: "local", Provider: berth.ProviderLocal}
	all := []*poolView{{Name: "spot", Spec: spot}, {Name: "fargate", Spec: &fargate}}
	tests := []struct {
		name   string
		pool   *berth.PoolSpec
		cpu    float64
		mem    int64
		budget string // the job's start budget, if set
		want   string // "" when held
	}{
		{"fits a type", spot, 4, 8192, "", ""},
		{"fits by memory", spot, 2, 16384, "", ""},
		{"no type has both", spot, 4, 16384, "", "pool spot cannot hold a job of 4 vCPU/16 GiB: its largest instance type is c5.xlarge (4 vCPU/8 GiB), by memory r5.large (2 vCPU/16 GiB); the job would never run"},
		{"the overflow holds it", &withOverflow, 8, 16384, "", ""},
		{"nor the overflow", &withOverflow, 64, 1024, "", "pool spot cannot hold"},
		{"an overflow, but no start budget to send it there", &noBudget, 8, 16384, "", "pool spot cannot hold"},
		{"a budget of its own sends it to the overflow", &noBudget, 8, 16384, "30s", ""},
		{"a budget of 0 of its own does not", &withOverflow, 8, 16384, "0s", "pool spot cannot hold"},
		{"a serverless pool", &fargate, 64, 1024, "", "pool fargate cannot hold a job of 64 vCPU/1 GiB: its largest task is 16 vCPU/120 GiB"},
		{"a local pool: a larger node may join", local, 64, 1024, "", ""},
		{"an agents' pool, not configured", nil, 64, 1024, "", ""},
	}
	for _, tt := range tests {
		j := berth.JobSpec{CPU: tt.cpu, MemoryMB: tt.mem}
		if tt.budget != "" {
			d, err := time.ParseDuration(tt.budget)
			if err != nil {
				t.Fatal(err)
			}
			b := berth.Duration(d)
			j.StartBudget = &b
		}
		err := holds(tt.pool, all, j, "job.")
		switch fe, _ := err.(*berth.FieldError); {
		case tt.want == "" && err != nil:
			t.Errorf("%s: holds() = %v, want nil", tt.name, err)
		case tt.want != "" && (fe == nil || fe.Field != "job.pool" || !strings.HasPrefix(fe.Problem, tt.want)):
			t.Errorf("%s: holds() = %#v, want job.pool: %q...", tt.name, err, tt.want)
		}
	}
}
