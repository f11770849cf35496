package sim

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
