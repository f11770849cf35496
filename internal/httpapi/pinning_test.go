package httpapi

import (
	"encoding/json"
	"net/http"
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

// TestSubmitRefusesWhatNothingHolds: a job pinned to no pool and larger
// than every node is a 400 naming the field and the largest on offer, for
// jobs and for schedules; before any node joins nothing is judged, and a
// job pinned to an agent pool may wait for a larger node.
func TestSubmitRefusesWhatNothingHolds(t *testing.T) {
	p := startPlane(t)
	huge := berth.JobSpec{Image: "busybox", CPU: 1000, MemoryMB: 1024}
	if code, body := p.do(t, p.admin, "POST", "/v1/jobs", huge); code != http.StatusCreated {
		t.Fatalf("with no node yet: %d %s, want 201", code, body)
	}
	p.join(t, "default") // 2 vCPU, 2 GiB
	for _, tt := range []struct {
		name  string
		path  string
		body  any
		field string
	}{
		{"too many vCPUs", "/v1/jobs", huge, "cpu"},
		{"too much memory", "/v1/jobs", berth.JobSpec{Image: "busybox", CPU: 1, MemoryMB: 4096}, "memory_mb"},
		{"a schedule's job", "/v1/schedules", map[string]any{"name": "nightly", "cron": "0 3 * * *",
			"job": map[string]any{"image": "busybox", "cpu": 1000}}, "job.cpu"},
	} {
		code, body := p.do(t, p.admin, "POST", tt.path, tt.body)
		var e struct {
			Error struct {
				Field, Message string
			}
		}
		json.Unmarshal(body, &e)
		if code != http.StatusBadRequest || e.Error.Field != tt.field ||
			!strings.Contains(e.Error.Message, "nothing on offer can hold") || !strings.Contains(e.Error.Message, "node n (2 vCPU/2 GiB)") {
			t.Errorf("%s: %d %s, want 400 naming %s and the node", tt.name, code, body, tt.field)
		}
	}
	pinned := huge
	pinned.Pool = "default"
	if code, body := p.do(t, p.admin, "POST", "/v1/jobs", pinned); code != http.StatusCreated {
		t.Errorf("pinned to the agent pool: %d %s, want 201", code, body)
	}
	if code, body := p.do(t, p.admin, "POST", "/v1/jobs", berth.JobSpec{Image: "busybox", CPU: 2, MemoryMB: 2048}); code != http.StatusCreated {
		t.Errorf("a job the node holds: %d %s, want 201", code, body)
	}
}
