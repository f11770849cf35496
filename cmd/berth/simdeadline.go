package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/deadline/evaluate"
)

// paperPriceRatio is the on-demand/Spot price ratio of a p3.2xlarge (one
// V100) in the Can't Be Late simulator: $3.06 / $0.9731 per hour.
const paperPriceRatio = 3.06 / 0.9731

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// simDeadlineConfig is the command line of `berth sim deadline`.
type simDeadlineConfig struct {
	traces        listFlag
	jobHours      float64
	deadlineHours float64
	fractions     string
	changeover    time.Duration
	starts        int
	seed          uint64
	priceRatio    float64
	prices        listFlag
	onDemandPrice float64
	checkpoint    string
	gang          int
	inverted      bool
	history       time.Duration
	subTicks      int
	output        string
	perTrace      bool
}

func parseSimDeadline(args []string, stderr io.Writer) (simDeadlineConfig, error) {
	var c simDeadlineConfig
	fs := flag.NewFlagSet("sim deadline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&c.traces, "trace", "Spot availability trace `PATH` (JSON); repeatable")
	fs.Float64Var(&c.jobHours, "job-hours", 48, "expected run time of the job, hours")
	fs.Float64Var(&c.deadlineHours, "deadline-hours", 0, "deadline, hours after the start (instead of --job-fraction)")
	fs.StringVar(&c.fractions, "job-fraction", "", "job run time over deadline; a comma-separated list evaluates each (default 0.8)")
	fs.DurationVar(&c.changeover, "changeover", 12*time.Minute, "changeover delay: restart, image pull, work lost since the last checkpoint")
	fs.IntVar(&c.starts, "starts", 300, "random start points per trace")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the start points")
	fs.Float64Var(&c.priceRatio, "price-ratio", 0, "on-demand price over Spot price, flat for every trace (default: each trace's per-tick Spot prices where it has them, else 3.06/0.9731)")
	fs.Var(&c.prices, "prices", "per-tick Spot prices `PATH` (JSON: one pool's {\"prices\": [...]} named after the file, or {trace name: [...]}); repeatable")
	fs.Float64Var(&c.onDemandPrice, "on-demand-price", 3.06, "hourly on-demand price for --prices files that do not give one")
	fs.StringVar(&c.checkpoint, "checkpoint", "on-sigterm", "what the job keeps on a changeover: on-sigterm or none")
	fs.IntVar(&c.gang, "gang", 1, "instances the job needs at once: a tick is available when the trace value is at least this")
	fs.BoolVar(&c.inverted, "inverted", false, "trace values are 1 for preempted, 0 for available (SkyNomad converted_* files)")
	fs.DurationVar(&c.history, "history", 7*24*time.Hour, "trace observed before a start point for the pool statistics berth's policy uses")
	fs.IntVar(&c.subTicks, "subticks", 0, "cut every trace tick into this many (0: enough to count the changeover within 10%)")
	fs.StringVar(&c.output, "output", "table", "table or json")
	fs.StringVar(&c.output, "o", "table", "table or json (as --output)")
	fs.BoolVar(&c.perTrace, "per-trace", false, "report every trace, not only every folder of traces")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case len(c.traces) == 0:
		return c, errors.New("at least one --trace is required")
	case c.output != "table" && c.output != "json":
		return c, fmt.Errorf("--output %q: want table or json", c.output)
	case c.deadlineHours > 0 && c.fractions != "":
		return c, errors.New("give --deadline-hours or --job-fraction, not both")
	case c.jobHours <= 0:
		return c, errors.New("--job-hours must be positive")
	case c.priceRatio < 0 || c.priceRatio > 0 && c.priceRatio < 1:
		return c, fmt.Errorf("--price-ratio %v: want at least 1", c.priceRatio)
	case c.priceRatio > 0 && len(c.prices) > 0:
		return c, errors.New("give --price-ratio or --prices, not both")
	}
	return c, nil
}

// deadlines returns the deadlines to evaluate.
func (c simDeadlineConfig) deadlines() ([]time.Duration, error) {
	work := hours(c.jobHours)
	if c.deadlineHours > 0 {
		return []time.Duration{hours(c.deadlineHours)}, nil
	}
	list := c.fractions
	if list == "" {
		list = "0.8"
	}
	var out []time.Duration
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1 {
			return nil, fmt.Errorf("--job-fraction %q: want numbers in (0, 1]", f)
		}
		out = append(out, time.Duration(float64(work)/v))
	}
	return out, nil
}

func hours(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }

// runSimDeadline runs `berth sim deadline`.
func runSimDeadline(ctx context.Context, env *cliEnv, args []string) error {
	c, err := parseSimDeadline(args, env.stderr)
	if err != nil {
		return simUsage(env, "sim deadline", err)
	}
	ck, err := deadline.ParseCheckpoint(c.checkpoint)
	if err != nil {
		return err
	}
	ds, err := c.deadlines()
	if err != nil {
		return err
	}
	g := evaluate.Grid{
		Work: hours(c.jobHours), Deadlines: ds, Changeover: c.changeover, Checkpoint: ck,
		Starts: c.starts, Seed: c.seed, PriceRatio: c.priceRatio, DefaultPriceRatio: paperPriceRatio,
		History:  c.history,
		SubTicks: c.subTicks,
		Policies: []deadline.Policy{deadline.Greedy{}, deadline.UniformProgress{}, deadline.Adaptive{}},
	}
	var prices []evaluate.Prices
	for _, p := range c.prices {
		pr, err := loadPrices(p)
		if err != nil {
			return err
		}
		prices = append(prices, pr)
	}
	priced := 0
	for _, p := range c.traces {
		tr, err := loadTrace(p, evaluate.TraceOptions{Gang: c.gang, Inverted: c.inverted})
		if err != nil {
			return err
		}
		for _, pr := range prices {
			var ok bool
			if tr, ok, err = pr.Apply(tr, c.onDemandPrice); err != nil {
				return err
			} else if ok {
				break
			}
		}
		if tr.SpotPrices != nil && tr.OnDemandPrice > 0 {
			priced++
		}
		g.Traces = append(g.Traces, tr)
	}
	if c.priceRatio > 0 {
		priced = 0
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	rep, err := g.Evaluate()
	if err != nil {
		return err
	}
	cells := rep.Groups()
	if c.perTrace {
		cells = rep.Cells
	}
	overall := evaluate.Merge("all", rep.Cells)
	if c.output == "json" {
		return writeSimJSON(env.stdout, c, cells, overall, priced)
	}
	writeSimTable(env.stdout, cells, overall)
	fmt.Fprintf(env.stdout, "\n%d traces × %d deadlines × %d starts in %v; Spot priced per tick on %d traces\n",
		len(g.Traces), len(ds), c.starts, time.Since(start).Round(time.Millisecond), priced)
	return nil
}

// loadTrace reads a trace file, named after the file and grouped by the
// folder holding it.
func loadTrace(path string, opt evaluate.TraceOptions) (evaluate.Trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return evaluate.Trace{}, fmt.Errorf("load trace: %w", err)
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	tr, err := evaluate.ParseTrace(f, opt)
	if err != nil {
		return evaluate.Trace{}, fmt.Errorf("load trace %s: %w", path, err)
	}
	tr.Name = name
	tr.Group = filepath.Base(filepath.Dir(path))
	return tr, nil
}

// loadPrices reads a prices file: either one pool's prices (named after the
// file) or an object mapping trace names to their per-tick prices.
func loadPrices(path string) (evaluate.Prices, error) {
	f, err := os.Open(path)
	if err != nil {
		return evaluate.Prices{}, fmt.Errorf("load prices: %w", err)
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	p, err := evaluate.ParsePrices(f, name)
	if err != nil {
		return evaluate.Prices{}, fmt.Errorf("load prices %s: %w", path, err)
	}
	return p, nil
}

// policyJSON is one policy's figures in the JSON output.
type policyJSON struct {
	Cost         float64 `json:"cost"`
	SpotFraction float64 `json:"spot_fraction"`
	Misses       int     `json:"deadline_misses"`
	Samples      int     `json:"samples"`
	GapClosed    float64 `json:"gap_closed"`
}

// cellJSON is one trace or group at one deadline in the JSON output.
type cellJSON struct {
	Group         string                `json:"group"`
	Trace         string                `json:"trace,omitempty"`
	DeadlineHours float64               `json:"deadline_hours,omitempty"`
	JobFraction   float64               `json:"job_fraction,omitempty"`
	Changeover    string                `json:"changeover,omitempty"`
	Policies      map[string]policyJSON `json:"policies"`
	BoundBreaches int                   `json:"bound_breaches"`
}

func toCellJSON(c evaluate.Cell) cellJSON {
	out := cellJSON{
		Group: c.Group, Trace: c.Trace, DeadlineHours: c.Deadline.Hours(), JobFraction: c.Fraction,
		Policies: map[string]policyJSON{}, BoundBreaches: c.BoundBreaches,
	}
	if c.Changeover > 0 {
		out.Changeover = c.Changeover.String()
	}
	for _, s := range c.Summaries {
		out.Policies[s.Policy] = policyJSON{
			Cost: s.Cost, SpotFraction: s.SpotFraction, Misses: s.Misses, Samples: s.Samples,
			GapClosed: c.GapClosed(s.Policy),
		}
	}
	return out
}

func writeSimJSON(w io.Writer, c simDeadlineConfig, cells []evaluate.Cell, overall evaluate.Cell, priced int) error {
	all := toCellJSON(overall)
	all.DeadlineHours, all.JobFraction, all.Changeover = 0, 0, ""
	doc := struct {
		JobHours   float64    `json:"job_hours"`
		Changeover string     `json:"changeover"`
		Starts     int        `json:"starts"`
		Seed       uint64     `json:"seed"`
		PriceRatio float64    `json:"price_ratio"` // 0: per tick where priced, else the default
		Priced     int        `json:"traces_priced_per_tick"`
		Checkpoint string     `json:"checkpoint"`
		Overall    cellJSON   `json:"overall"`
		Cells      []cellJSON `json:"cells"`
	}{
		JobHours: c.jobHours, Changeover: c.changeover.String(), Starts: c.starts, Seed: c.seed,
		PriceRatio: c.priceRatio, Priced: priced, Checkpoint: c.checkpoint, Overall: all,
	}
	for _, cell := range cells {
		doc.Cells = append(doc.Cells, toCellJSON(cell))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

func writeSimTable(w io.Writer, cells []evaluate.Cell, overall evaluate.Cell) {
	if len(cells) == 0 {
		return
	}
	names := make([]string, 0, len(cells[0].Summaries))
	for _, s := range cells[0].Summaries {
		names = append(names, s.Policy)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "cost normalised to on-demand (share of work on Spot) [share of greedy's gap to omniscient closed]")
	fmt.Fprint(tw, "group\ttrace\tfraction\tdeadline\t")
	for _, n := range names {
		fmt.Fprintf(tw, "%s\t", n)
	}
	fmt.Fprintln(tw, "misses\t")
	row := func(c evaluate.Cell, fraction, dl string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t", escape(c.Group), escape(c.Trace), fraction, dl)
		misses := 0
		for _, s := range c.Summaries {
			gap := ""
			if s.Policy != evaluate.OmniscientName && s.Policy != (deadline.Greedy{}).Name() {
				gap = fmt.Sprintf(" [%.0f%%]", 100*c.GapClosed(s.Policy))
			}
			fmt.Fprintf(tw, "%.3f (%.0f%%)%s\t", s.Cost, 100*s.SpotFraction, gap)
			misses += s.Misses
		}
		fmt.Fprintf(tw, "%d\t\n", misses)
	}
	for _, c := range cells {
		row(c, fmt.Sprintf("%.2f", c.Fraction), fmt.Sprintf("%.1fh", c.Deadline.Hours()))
	}
	row(overall, "all", "")
	tw.Flush()
}
