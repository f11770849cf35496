package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/sim"
)

// simConfig is the command line of `berth sim`.
type simConfig struct {
	scenario   string
	seed       uint64
	spotTraces listFlag
	workload   string
	output     string
	deadline   string
	policy     deadline.Policy // parsed from deadline; nil for none
}

func parseSim(args []string, stderr io.Writer) (simConfig, error) {
	var c simConfig
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: berth sim --scenario FILE [flags]   simulate berth's fleet over a scenario, beside the baselines\n       berth sim deadline [flags]         compare deadline-aware Spot policies over traces\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.scenario, "scenario", "", "scenario `FILE` (YAML or JSON; see scenarios/)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the workload, the Spot generator and the start latencies")
	fs.Var(&c.spotTraces, "spot-trace", "Spot availability trace `PATH` (a file, or a folder of .json files) replacing the scenario's; repeatable")
	fs.StringVar(&c.workload, "workload", "", "workload log `PATH` (Standard Workload Format) for scenarios that replay one")
	fs.StringVar(&c.deadline, "deadline-policy", "", "run berth's jobs that have a deadline through `policy` (berth, uniform_progress or greedy), as the server does; default: deadlines met by capacity alone")
	fs.StringVar(&c.output, "output", "table", "table or json")
	fs.StringVar(&c.output, "o", "table", "table or json (as --output)")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.scenario == "":
		return c, errors.New("--scenario is required (or: berth sim deadline)")
	case c.output != "table" && c.output != "json":
		return c, fmt.Errorf("--output %q: want table or json", c.output)
	}
	if c.deadline != "" {
		var err error
		if c.policy, err = deadlinePolicy(c.deadline); err != nil {
			return c, fmt.Errorf("--deadline-policy: %v", err)
		}
	}
	return c, nil
}

// runSimScenario runs `berth sim --scenario FILE`. It fails (exit 1, after
// the report) when berth's run lost jobs.
func runSimScenario(ctx context.Context, env *cliEnv, args []string) error {
	c, err := parseSim(args, env.stderr)
	if err != nil {
		return simUsage(env, "sim", err)
	}
	sc, err := sim.LoadScenario(c.scenario)
	if err != nil {
		return err
	}
	opt := sim.Options{Seed: c.seed, SpotTraces: c.spotTraces, Workload: c.workload, Baselines: true, DeadlinePolicy: c.policy}
	bar := newProgressBar(env.stderr, sc.Name)
	if bar != nil {
		opt.Progress = bar.set
	}
	rep, err := sim.Run(ctx, sc, opt)
	if bar != nil {
		bar.done()
	}
	if err != nil {
		return err
	}
	if c.output == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep.JSON())
	} else {
		err = rep.WriteTable(env.stdout)
	}
	if err != nil {
		return err
	}
	if b := rep.Berth; b.JobsLost > 0 {
		// Every job must succeed: a run that lost some failed, whatever
		// it cost.
		return fmt.Errorf("berth lost %d of %d jobs; every job must succeed", b.JobsLost, b.JobsTotal)
	}
	return nil
}

// progressBar draws the progress of a long run on a terminal.
type progressBar struct {
	w     io.Writer
	label string
	width int
	last  int // percent drawn
}

// newProgressBar returns a bar on w if w is a terminal, else nil.
func newProgressBar(w io.Writer, label string) *progressBar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	width := 80
	if n, _, err := term.GetSize(int(f.Fd())); err == nil && n > 0 {
		width = n
	}
	return &progressBar{w: w, label: label, width: width, last: -1}
}

func (b *progressBar) set(frac float64) {
	pct := int(frac * 100)
	if pct == b.last {
		return
	}
	b.last = pct
	fmt.Fprint(b.w, "\r"+renderBar(b.label, frac, b.width))
}

func (b *progressBar) done() {
	fmt.Fprint(b.w, "\r"+strings.Repeat(" ", b.width-1)+"\r")
}

// renderBar is a bar of at most width columns: "label [=====>    ]  42%".
func renderBar(label string, frac float64, width int) string {
	frac = min(max(frac, 0), 1)
	if len(label) > width/3 {
		label = label[:width/3]
	}
	n := max(width-len(label)-10, 10)
	full := int(frac * float64(n))
	bar := strings.Repeat("=", full)
	if full < n {
		bar += ">" + strings.Repeat(" ", n-full-1)
	}
	return fmt.Sprintf("%s [%s] %3d%%", label, bar, int(frac*100))
}

// simUsage turns a problem with a sim command line into exit code 2 (0 for
// -h), printing it unless parseFlags has.
func simUsage(env *cliEnv, name string, err error) error {
	var ee exitError
	if errors.As(err, &ee) {
		return err
	}
	fmt.Fprintf(env.stderr, "berth %s: %v\nsee berth %[1]s -h\n", name, err)
	return exitError{2}
}
