package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-run/berth/internal/sim"
)

// tinyScenario is a small burst on a Spot pool from zero.
const tinyScenario = `
name: tiny burst
horizon: 1h
pools:
  - name: spot
    provider: fake
    market: spot
    instance_types:
      - {name: c5a.large, cpu: 2, memory_mb: 4096, price: 0.077}
      - {name: c5a.xlarge, cpu: 4, memory_mb: 8192, price: 0.154}
    max: 10
    scale_in_delay: 1m
jobs:
  - name: burst
    count: 12
    shapes: [{cpu: 1, memory_mb: 2048}, {cpu: 2, memory_mb: 4096}]
    run: {min: 5m, max: 20m}
    deadline: 40m
`

func writeScenario(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tiny.yaml")
	if err := os.WriteFile(p, []byte(tinyScenario), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runSimCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(context.Background(), env, append([]string{"sim"}, args...))
	return out.String(), errb.String(), code
}

// TestSimJSONFields: the JSON report has exactly the documented fields.
func TestSimJSONFields(t *testing.T) {
	out, errOut, code := runSimCLI(t, "--scenario", writeScenario(t), "--seed", "3", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	var keys []string
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"baselines", "cost_usd", "deadline_misses", "idle_node_hours", "interruptions", "jobs_lost", "jobs_succeeded",
		"jobs_total", "lower_bound_usd", "wait_p50_s", "wait_p99_s"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("JSON fields (-want +got):\n%s", diff)
	}
	var rep struct {
		Cost      float64                           `json:"cost_usd"`
		Bound     float64                           `json:"lower_bound_usd"`
		Baselines map[string]map[string]json.Number `json:"baselines"`
		Total     int                               `json:"jobs_total"`
		Succeeded int                               `json:"jobs_succeeded"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Total != 12 || rep.Succeeded != 12 || !(rep.Bound > 0 && rep.Bound <= rep.Cost) || len(rep.Baselines) != 4 {
		t.Errorf("report = %+v, want 12 jobs done at a cost above a positive bound, and four baselines", rep)
	}
	for name, b := range rep.Baselines {
		keys := slices.Sorted(maps.Keys(b))
		if diff := cmp.Diff([]string{"cost_usd", "deadline_misses", "jobs_lost"}, keys); diff != "" {
			t.Errorf("baseline %s's JSON fields (-want +got):\n%s", name, diff)
		}
	}
	golden(t, "sim-tiny.json.golden", out)
	again, _, _ := runSimCLI(t, "--scenario", writeScenario(t), "--seed", "3", "--output", "json")
	if again != out {
		t.Errorf("two runs with one seed differ:\n%s\n%s", out, again)
	}
}

// TestSimDeadlinePolicy: with --deadline-policy berth's jobs that have a
// deadline go through the policy, and the run differs from one that meets
// deadlines by capacity alone; the baselines do not change.
func TestSimDeadlinePolicy(t *testing.T) {
	type report struct {
		Cost      float64                     `json:"cost_usd"`
		Misses    int                         `json:"deadline_misses"`
		Baselines map[string]sim.BaselineJSON `json:"baselines"`
	}
	// The tiny burst with an on-demand pool behind its Spot pool.
	doc := strings.Replace(tinyScenario, "jobs:", `  - name: on-demand
    provider: fake
    instance_types: [{name: c5a.large, cpu: 2, memory_mb: 4096, price: 0.077}]
    max: 10
    scale_in_delay: 1m
jobs:`, 1)
	path := filepath.Join(t.TempDir(), "tiny-od.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	runs := map[string]report{}
	for _, policy := range []string{"", "berth", "greedy"} {
		args := []string{"--scenario", path, "--seed", "3", "-o", "json"}
		if policy != "" {
			args = append(args, "--deadline-policy", policy)
		}
		out, errOut, code := runSimCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var r report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		runs[policy] = r
	}
	if runs["berth"].Cost == runs[""].Cost {
		t.Errorf("berth's deadline policy changed nothing: %.4f USD with and without", runs[""].Cost)
	}
	for _, p := range []string{"berth", "greedy"} {
		if diff := cmp.Diff(runs[""].Baselines, runs[p].Baselines); diff != "" {
			t.Errorf("--deadline-policy %s changed the baselines (-without +with):\n%s", p, diff)
		}
	}
}

func TestSimTable(t *testing.T) {
	out, errOut, code := runSimCLI(t, "--scenario", writeScenario(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"scenario tiny burst, seed 1", "POLICY", "berth", "fixed-on-demand", "ecs-managed-scaling", "aws-batch", "fargate-only", "lower bound"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestSimLostJobs: a run in which berth lost jobs prints its report, then
// fails: every job must succeed. Here the only Spot market never has
// capacity.
func TestSimLostJobs(t *testing.T) {
	dir := t.TempDir()
	doc := strings.Replace(tinyScenario, "price: 0.077}", "price: 0.077, spot_trace: dry.json}", 1)
	doc = strings.Replace(doc, "price: 0.154}", "price: 0.154, spot_trace: dry.json}", 1)
	for name, text := range map[string]string{
		"tiny.yaml": doc,
		"dry.json":  `{"metadata": {"gap_seconds": 3600}, "data": [0]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		output, want string
	}{
		{"table", "berth lost 12 of 12 jobs: its cost is not comparable"},
		{"json", `"jobs_lost": 12`},
	}
	for _, tt := range tests {
		out, errOut, code := runSimCLI(t, "--scenario", filepath.Join(dir, "tiny.yaml"), "--output", tt.output)
		if code != 1 || !strings.Contains(errOut, "berth sim: berth lost 12 of 12 jobs") {
			t.Errorf("--output %s: exit %d, %q; want exit 1 and the lost jobs told", tt.output, code, errOut)
		}
		if !strings.Contains(out, tt.want) {
			t.Errorf("--output %s: the report lacks %q:\n%s", tt.output, tt.want, out)
		}
	}
}

func TestSimUsageErrors(t *testing.T) {
	// A bad command line exits 2, as for every command; a scenario or
	// trace that cannot be read, 1.
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "--scenario is required"},
		{[]string{"--scenario", "x.yaml", "--output", "xml"}, 2, "want table or json"},
		{[]string{"--scenario", "x.yaml", "--seed", "-1"}, 2, `--seed "-1": want a whole number`},
		{[]string{"--scenario", filepath.Join(t.TempDir(), "none.yaml")}, 1, "no such file"},
		{[]string{"--scenario", writeScenario(t), "--spot-trace", filepath.Join(t.TempDir(), "none.json")}, 1, "spot trace"},
		{[]string{"--scenario", writeScenario(t), "--deadline-policy", "fastest"}, 2, `--deadline-policy: "fastest" is not one of berth, uniform_progress, greedy`},
	}
	for _, tt := range tests {
		_, errOut, code := runSimCLI(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("berth sim %v: exit %d, %q; want exit %d and an error about %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

func TestRenderBar(t *testing.T) {
	tests := []struct {
		frac float64
		want string
	}{
		{0, "run [>                   ]   0%"},
		{0.5, "run [==========>         ]  50%"},
		{1, "run [====================] 100%"},
	}
	for _, tt := range tests {
		if got := renderBar("run", tt.frac, 33); got != tt.want {
			t.Errorf("renderBar(%v) = %q, want %q", tt.frac, got, tt.want)
		}
	}
}
