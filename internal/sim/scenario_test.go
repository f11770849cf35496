package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScenarioLimits: a scenario that would draw a workload it cannot
// hold, or one whose numbers make no sense, is refused with the field
// named; the shipped scenarios are not.
func TestScenarioLimits(t *testing.T) {
	const pools = "pools: [{name: p, provider: fake, max: 1, instance_types: [{name: t, cpu: 4, memory_mb: 8192, price: 1}]}]\n"
	const shape = "shapes: [{cpu: 1, memory_mb: 512}], run: {min: 1m, max: 2m}"
	group := func(fields string) string {
		return "name: x\nhorizon: 24h\n" + pools + "jobs: [{name: g, " + fields + "}]\n"
	}
	tests := []struct {
		name, doc string
		want      string // the error's start
	}{
		{"horizon too long", "name: x\nhorizon: 1000000h\n" + pools + "jobs: [{name: g, count: 1, " + shape + "}]\n", "horizon: 1000000h is longer than the limit of 9600h (400 days)"},
		{"negative boot time", "name: x\nhorizon: 1h\nboot_time: -1m\n" + pools + "jobs: [{name: g, count: 1, " + shape + "}]\n", "boot_time: must not be negative"},
		{"negative bursts", group("count: 2, bursts: -4, " + shape), "jobs[0].bursts: must not be negative"},
		{"negative every", group("count: 2, every: -1h, " + shape), "jobs[0].every: must not be negative"},
		{"every under a minute", group("count: 2, every: 1s, " + shape), "jobs[0].every: must be at least 1m"},
		{"negative deadline", group("count: 2, deadline: -1h, " + shape), "jobs[0].deadline: must not be negative"},
		{"before the start", group("count: 2, at: -1h, " + shape), "jobs[0].at: must not be negative"},
		{"negative from", group("rate: 5, from: -1h, " + shape), "jobs[0].from: must not be negative"},
		{"until before from", group("rate: 5, from: 5h, until: 2h, " + shape), "jobs[0].until: 2h is not after from 5h"},
		{"negative count with a rate", group("count: -10, rate: 5, " + shape), "jobs[0].count: must not be negative"},
		{"negative rate", group("rate: -5, " + shape), "jobs[0].rate: must not be negative"},
		{"negative start budget", group("count: 2, start_budget: -1m, " + shape), "jobs[0].start_budget: must not be negative"},
		{"priority out of range", group("count: 2, priority: 5000, " + shape), "jobs[0].priority: must be between -1000 and 1000"},
		{"too many in a burst", group("count: 2000000000, " + shape), "jobs[0]: draws about 2000000000 jobs; a workload has at most 1000000"},
		{"too many bursts", group("count: 1000, bursts: 2000, " + shape), "jobs[0]: draws about 2000000 jobs"},
		{"too many every day", "name: x\nhorizon: 9600h\n" + pools + "jobs: [{name: g, count: 5000, every: 24h, " + shape + "}]\n", "jobs[0]: draws about 2000000 jobs"},
		{"too high a rate", group("rate: 1e12, " + shape), "jobs[0]: draws about 24000000000000 jobs"},
		{"too many in all", "name: x\nhorizon: 24h\n" + pools + "jobs: [{name: a, count: 600000, " + shape + "}, {name: b, count: 600000, " + shape + "}]\n",
			"jobs[1]: draws about 600000 jobs (1200000 with the groups before it); a workload has at most 1000000"},
		{"swf: negative cpu per processor", group("swf: {path: log.swf, cpu_per_proc: -1}"), "jobs[0].swf.cpu_per_proc: must be between 0"},
		{"swf: negative memory per processor", group("swf: {path: log.swf, memory_mb_per_proc: -1}"), "jobs[0].swf.memory_mb_per_proc: must be between 0"},
		{"swf: memory per processor that overflows", group("swf: {path: log.swf, memory_mb_per_proc: 9000000000000000000}"), "jobs[0].swf.memory_mb_per_proc: must be between 0"},
		{"swf: negative max jobs", group("swf: {path: log.swf, max_jobs: -1}"), "jobs[0].swf.max_jobs: must be between 0"},
		{"swf: negative days", group("swf: {path: log.swf, days: -1}"), "jobs[0].swf.days: must be between 0"},
		{"swf: negative skip days", group("swf: {path: log.swf, skip_days: -1}"), "jobs[0].swf.skip_days: must be between 0"},
		{"swf: a pool that does not exist", group("pool: q, swf: {path: log.swf}"), `jobs[0].pool: no pool is called "q"`},
		{"swf: negative deadline", group("deadline: -1h, swf: {path: log.swf}"), "jobs[0].deadline: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tt.doc), "")
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("ParseScenario() = %v, want an error starting %q\n%s", err, tt.want, tt.doc)
			}
		})
	}
}

func TestShippedScenariosValid(t *testing.T) {
	paths, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil || len(paths) < 4 {
		t.Fatalf("scenarios: %v, %v; want the four shipped", paths, err)
	}
	for _, p := range paths {
		if _, err := LoadScenario(p); err != nil {
			t.Errorf("LoadScenario(%s) = %v", p, err)
		}
	}
}

// TestSpotTraceFlag: traces given as options replace every trace of the
// scenario, a type's own included, and are read from the caller's folder;
// the scenario's other paths still start from its own folder.
func TestSpotTraceFlag(t *testing.T) {
	scDir, cwd := t.TempDir(), t.TempDir()
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(scDir, "up.json"), `{"metadata": {"gap_seconds": 3600}, "data": [1]}`)
	write(filepath.Join(cwd, "down.json"), `{"metadata": {"gap_seconds": 3600}, "data": [0]}`)
	var log strings.Builder
	for i := range 6 { // six jobs of 2 processors for 10 minutes, a minute apart
		fmt.Fprintf(&log, "%d %d 0 600 2 -1 -1 2 -1 -1 1 1 1 -1 1 -1 -1 -1\n", i+1, 60*i)
	}
	write(filepath.Join(scDir, "log.swf"), log.String())
	write(filepath.Join(scDir, "scenario.yaml"), `
name: traces
horizon: 2h
pools:
  - name: spot
    provider: fake
    market: spot
    instance_types: [{name: c.large, cpu: 2, memory_mb: 4096, price: 0.08, spot_trace: up.json}]
    max: 10
  - name: on-demand
    provider: fake
    instance_types: [{name: c.large, cpu: 2, memory_mb: 4096, price: 0.08}]
    max: 10
jobs:
  - {name: log, deadline: 1h, swf: {path: log.swf}}
`)
	t.Chdir(cwd)
	spotHosts := func(opt Options) int {
		t.Helper()
		sc, err := LoadScenario(filepath.Join(scDir, "scenario.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Run(context.Background(), sc, opt)
		if err != nil {
			t.Fatalf("Run(%+v) = %v", opt, err)
		}
		if rep.Berth.JobsSucceeded != 6 {
			t.Errorf("Run(%+v): %d of 6 jobs succeeded", opt, rep.Berth.JobsSucceeded)
		}
		if len(sc.Spot.Traces) != 0 || sc.Pools[0].InstanceTypes[0].SpotTrace != "up.json" {
			t.Errorf("Run(%+v) changed the scenario's traces", opt)
		}
		n := 0
		for _, h := range rep.Berth.Hosts {
			if h.Pool == "spot" {
				n++
			}
		}
		return n
	}
	if n := spotHosts(Options{Seed: 1}); n == 0 {
		t.Errorf("with the type's own trace (always up), no Spot host ran")
	}
	if n := spotHosts(Options{Seed: 1, SpotTraces: []string{"down.json"}}); n != 0 {
		t.Errorf("with --spot-trace down.json (never up), %d Spot hosts ran: the type's own trace won", n)
	}
}

// TestSWFLimit: a workload log of more jobs than a run may hold is
// refused, not read to the end.
func TestSWFLimit(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "log.swf"), []byte("1 0 0 60 1 -1 -1 1\n2 1 0 60 1 -1 -1 1\n3 2 0 60 1 -1 -1 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sc := &Scenario{Start: DefaultStart, dir: dir}
	g := &Group{Name: "log", SWF: &SWF{Path: "log.swf"}}
	if jobs, err := sc.swfJobs(g, 3); err != nil || len(jobs) != 3 {
		t.Errorf("swfJobs(limit 3) = %d jobs, %v; want 3", len(jobs), err)
	}
	if _, err := sc.swfJobs(g, 2); err == nil || !strings.Contains(err.Error(), "more than 1000000 jobs") {
		t.Errorf("swfJobs(limit 2) = %v, want an error about the limit", err)
	}
}
