package evaluate

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/deadline"
)

// paperFractions are the job fractions (run time / deadline) of the paper's
// table.
var paperFractions = []float64{0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95}

// paperGrid returns the grid of the paper's table on the traces in dir.
func paperGrid(tb testing.TB, dir string) Grid {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no traces in %s (set BERTH_TRACES_0215 to the aws-02-15-2023 folder): %v", dir, err)
	}
	g := Grid{
		Work: 48 * time.Hour, Changeover: 12 * time.Minute, Starts: 300, Seed: 1,
		PriceRatio: 3.06 / 0.9731, History: 7 * 24 * time.Hour,
		Policies: []deadline.Policy{deadline.Greedy{}, deadline.UniformProgress{}, deadline.Adaptive{}},
	}
	for _, f := range paperFractions {
		g.Deadlines = append(g.Deadlines, time.Duration(float64(g.Work)/f))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		tr, err := ParseTrace(bytes.NewReader(b), TraceOptions{})
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		tr.Name = filepath.Base(f)
		g.Traces = append(g.Traces, tr)
	}
	return g
}

// BenchmarkPaperGrid evaluates the whole grid of the paper's table: the nine
// 2023-02-15 V100 traces × job fractions 0.6..0.95 × 300 start points × the
// three policies and the omniscient bound. The traces are read from
// $BERTH_TRACES_0215 (default: the shared data folder beside the repository).
func BenchmarkPaperGrid(b *testing.B) {
	dir := os.Getenv("BERTH_TRACES_0215")
	if dir == "" {
		dir = "../../../../shared/data/spot-traces-cantbelate/availability/1-node/aws-02-15-2023"
	}
	g := paperGrid(b, dir)
	b.ResetTimer()
	for b.Loop() {
		if _, err := g.Evaluate(); err != nil {
			b.Fatal(err)
		}
	}
}
