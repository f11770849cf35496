package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/strict"
)

// Scenario is a simulated situation: pools, a Spot market, a workload and
// how long it lasts. It is read from YAML or JSON (see scenarios/).
type Scenario struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Start is the virtual time the simulation begins at; windows and
	// traces are read from it. Default 2026-03-02T00:00:00Z, a Monday.
	Start time.Time `json:"start,omitzero"`
	// Horizon is the simulated period: the fixed fleet is paid for all of
	// it, and the simulation runs at least that long.
	Horizon berth.Duration `json:"horizon"`
	// BootTime is how long the fake cloud's instances take to join.
	// Default 60s.
	BootTime berth.Duration   `json:"boot_time,omitempty"`
	Pools    []berth.PoolSpec `json:"pools"`
	Spot     SpotSpec         `json:"spot,omitzero"`
	Jobs     []Group          `json:"jobs"`
	// Reclaims take Spot instances back at given moments, beyond what the
	// traces do.
	Reclaims []Reclaim `json:"reclaims,omitempty"`

	dir string // the folder of the file, for relative paths
}

// SpotSpec says how the fake cloud's Spot markets behave.
type SpotSpec struct {
	// Traces are Spot availability traces (the published JSON format),
	// given to the Spot instance types in order, round robin, unless a
	// type names its own spot_trace. Paths are relative to the scenario.
	Traces []string `json:"traces,omitempty"`
	// Inverted reads the traces' 1 as "preempted" (SkyNomad's converted_*
	// files).
	Inverted bool `json:"inverted,omitempty"`
	// Offset starts the traces this far in.
	Offset berth.Duration `json:"offset,omitempty"`
	// Generator makes a trace per type from the seed when no trace is
	// given.
	Generator *Generator `json:"generator,omitempty"`
}

// Generator is the seeded Spot market: up and down spells of exponential
// length.
type Generator struct {
	MeanUp   berth.Duration `json:"mean_up"`
	MeanDown berth.Duration `json:"mean_down"`
}

// Reclaim takes a fraction of the live Spot instances at At.
type Reclaim struct {
	At       berth.Duration `json:"at"`
	Fraction float64        `json:"fraction"`
}

// Group is a part of the workload: jobs of some shapes and run times that
// arrive together (a burst), in bursts at random moments, or steadily
// (Poisson), or the jobs of a workload log.
type Group struct {
	Name string `json:"name"`
	// Count is the number of jobs per burst; with CountMax, each burst
	// draws its size from [Count, CountMax].
	Count    int `json:"count,omitempty"`
	CountMax int `json:"count_max,omitempty"`
	// At is when the single burst arrives (with Bursts 0 or 1).
	At berth.Duration `json:"at,omitempty"`
	// Bursts arrive at random moments in [From, Until).
	Bursts int `json:"bursts,omitempty"`
	// Rate, in jobs per hour, makes arrivals steady (Poisson) in
	// [From, Until).
	Rate  float64        `json:"rate,omitempty"`
	From  berth.Duration `json:"from,omitempty"`
	Until berth.Duration `json:"until,omitempty"` // default: the horizon
	// Every repeats the group's pattern with that period (24h: every day)
	// over the horizon.
	Every berth.Duration `json:"every,omitempty"`
	// Shapes are drawn by weight.
	Shapes []Shape `json:"shapes,omitempty"`
	// Run is the run time, drawn uniformly.
	Run Range `json:"run,omitzero"`
	// Deadline is the time after submission by which a job must have
	// finished; 0 means none.
	Deadline    berth.Duration  `json:"deadline,omitempty"`
	Pool        string          `json:"pool,omitempty"`
	StartBudget *berth.Duration `json:"start_budget,omitempty"`
	Priority    int             `json:"priority,omitempty"`
	// SWF replays a workload log in the Standard Workload Format instead.
	SWF *SWF `json:"swf,omitempty"`
}

// Shape is a job size and how often it is drawn.
type Shape struct {
	CPU      float64 `json:"cpu"`
	MemoryMB int64   `json:"memory_mb"`
	Weight   float64 `json:"weight,omitempty"` // default 1
}

// Range is a uniform range of durations.
type Range struct {
	Min berth.Duration `json:"min"`
	Max berth.Duration `json:"max"`
}

// SWF is a workload log in the Standard Workload Format (Parallel
// Workloads Archive), optionally gzipped. Each job's processors become
// vCPUs and memory; its submit time (relative to the log's first) its
// arrival; its run time its run time.
type SWF struct {
	Path            string  `json:"path"`
	CPUPerProc      float64 `json:"cpu_per_proc,omitempty"`       // default 1
	MemoryMBPerProc int64   `json:"memory_mb_per_proc,omitempty"` // default 2048
	// SkipDays and Days cut a window of the log.
	SkipDays float64 `json:"skip_days,omitempty"`
	Days     float64 `json:"days,omitempty"`
	// MaxJobs keeps only the first jobs of the window; 0 keeps all.
	MaxJobs int `json:"max_jobs,omitempty"`
}

// DefaultStart is when scenarios begin unless they say: a Monday.
var DefaultStart = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// LoadScenario reads a scenario file.
func LoadScenario(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", path, err)
	}
	sc, err := ParseScenario(b, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", path, err)
	}
	return sc, nil
}

// ParseScenario reads a scenario in YAML or JSON; dir is the folder
// relative paths start from.
func ParseScenario(b []byte, dir string) (*Scenario, error) {
	sc := &Scenario{}
	if err := strict.Decode(b, sc); err != nil {
		return nil, err
	}
	sc.dir = dir
	if err := sc.validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

// path resolves p against the scenario's folder.
func (sc *Scenario) path(p string) string {
	if p == "" || filepath.IsAbs(p) || sc.dir == "" {
		return p
	}
	return filepath.Join(sc.dir, p)
}

// Limits of a scenario. A run holds every job, and the bound every
// 30-second slot, in memory: a million jobs took 3.7 GB and a minute and
// a half, baselines included.
const (
	maxHorizon  = 400 * 24 * time.Hour
	maxWorkload = 1_000_000
	// maxLogDays is the longest cut of a workload log: a hundred years.
	maxLogDays = 36500
)

func (sc *Scenario) validate() error {
	if sc.Start.IsZero() {
		sc.Start = DefaultStart
	}
	if sc.BootTime == 0 {
		sc.BootTime = berth.Duration(time.Minute)
	}
	switch {
	case sc.Horizon <= 0:
		return &berth.FieldError{Field: "horizon", Problem: "is required: how long the simulated period lasts"}
	case time.Duration(sc.Horizon) > maxHorizon:
		return &berth.FieldError{Field: "horizon", Problem: fmt.Sprintf("%s is longer than the limit of %s (400 days)",
			berth.ShortDuration(time.Duration(sc.Horizon)), berth.ShortDuration(maxHorizon))}
	case sc.BootTime < 0:
		return &berth.FieldError{Field: "boot_time", Problem: "must not be negative"}
	case len(sc.Jobs) == 0:
		return &berth.FieldError{Field: "jobs", Problem: "is required"}
	case len(sc.Pools) == 0:
		return &berth.FieldError{Field: "pools", Problem: "is required"}
	case sc.Spot.Offset < 0:
		return &berth.FieldError{Field: "spot.offset", Problem: "must not be negative"}
	}
	if g := sc.Spot.Generator; g != nil {
		// Spells shorter than a minute would draw a trace of millions of
		// ticks; Spot markets change on the scale of minutes. 0 is the
		// default.
		for field, d := range map[string]berth.Duration{"mean_up": g.MeanUp, "mean_down": g.MeanDown} {
			if d != 0 && (time.Duration(d) < time.Minute || time.Duration(d) > maxHorizon) {
				return &berth.FieldError{Field: "spot.generator." + field,
					Problem: fmt.Sprintf("must be between 1m and %s (or unset: the default)", berth.ShortDuration(maxHorizon))}
			}
		}
	}
	if err := sc.validatePools(); err != nil {
		return err
	}
	drawn := 0.0 // the jobs the generated groups draw, about
	for i := range sc.Jobs {
		g := &sc.Jobs[i]
		if err := g.validate(sc); err != nil {
			var fe *berth.FieldError
			if errors.As(err, &fe) {
				fe.Field = fmt.Sprintf("jobs[%d].%s", i, fe.Field)
			}
			return err
		}
		if g.SWF != nil {
			continue // its log's jobs are counted as they are read
		}
		n := g.expectedJobs(time.Duration(sc.Horizon))
		if drawn += n; drawn > maxWorkload {
			problem := fmt.Sprintf("draws about %.0f jobs", n)
			if drawn > n {
				problem += fmt.Sprintf(" (%.0f with the groups before it)", drawn)
			}
			return &berth.FieldError{Field: fmt.Sprintf("jobs[%d]", i), Problem: problem + fmt.Sprintf("; a workload has at most %d", maxWorkload)}
		}
	}
	for i, r := range sc.Reclaims {
		if r.Fraction <= 0 || r.Fraction > 1 || r.At < 0 {
			return &berth.FieldError{Field: fmt.Sprintf("reclaims[%d]", i), Problem: "want at ≥ 0 and a fraction in (0, 1]"}
		}
	}
	return nil
}

// validatePools checks the pools as berth's configuration does, and that
// one has hosts: the fixed fleet and the ECS-like baseline need one.
func (sc *Scenario) validatePools() error {
	cfg := config.Config{Pools: sc.Pools}
	if err := cfg.Validate(); err != nil {
		return err
	}
	hosts := false
	for i := range sc.Pools {
		if sc.Pools[i].Provider == berth.ProviderLocal {
			return &berth.FieldError{Field: fmt.Sprintf("pools[%d].provider", i), Problem: "the simulator has no local engine; use fake"}
		}
		sc.Pools[i] = sc.Pools[i].WithDefaults()
		hosts = hosts || !sc.Pools[i].IsServerless()
	}
	if !hosts {
		return &berth.FieldError{Field: "pools", Problem: "needs at least one pool with hosts (provider fake): " +
			"the baselines run on hosts, and serverless pools have none"}
	}
	return nil
}

// validate checks the group; its errors name its fields.
func (g *Group) validate(sc *Scenario) error {
	spec := berth.JobSpec{Image: "x", Priority: g.Priority}
	switch {
	case g.Deadline < 0:
		return &berth.FieldError{Field: "deadline", Problem: "must not be negative"}
	case g.StartBudget != nil && *g.StartBudget < 0:
		return &berth.FieldError{Field: "start_budget", Problem: "must not be negative"}
	case spec.Validate() != nil:
		return &berth.FieldError{Field: "priority", Problem: fmt.Sprintf("must be between %d and %d", -berth.MaxPriority, berth.MaxPriority)}
	}
	if g.Pool != "" && !slices.ContainsFunc(sc.Pools, func(p berth.PoolSpec) bool { return p.Name == g.Pool }) {
		return &berth.FieldError{Field: "pool", Problem: fmt.Sprintf("no pool is called %q", g.Pool)}
	}
	if g.SWF != nil {
		// An empty path is given by Options.Workload.
		if err := g.SWF.validate(); err != nil {
			var fe *berth.FieldError
			if errors.As(err, &fe) {
				fe.Field = "swf." + fe.Field
			}
			return err
		}
		return nil
	}
	if err := g.validateArrivals(); err != nil {
		return err
	}
	switch {
	case len(g.Shapes) == 0:
		return &berth.FieldError{Field: "shapes", Problem: "is required"}
	case g.Run.Min <= 0 || g.Run.Max < g.Run.Min:
		return &berth.FieldError{Field: "run", Problem: "want 0 < min ≤ max"}
	}
	for i, s := range g.Shapes {
		spec := berth.JobSpec{Image: "x", CPU: s.CPU, MemoryMB: s.MemoryMB}
		if err := spec.Validate(); err != nil || s.CPU <= 0 || s.MemoryMB <= 0 || s.Weight < 0 {
			return &berth.FieldError{Field: fmt.Sprintf("shapes[%d]", i), Problem: "want a positive cpu and memory_mb within the limits of a job"}
		}
	}
	return nil
}

// validateArrivals checks when a generated group's jobs arrive, and how
// many.
func (g *Group) validateArrivals() error {
	neg := func(field string) error { return &berth.FieldError{Field: field, Problem: "must not be negative"} }
	switch {
	case g.Count < 0:
		return neg("count")
	case g.Rate < 0:
		return neg("rate")
	case math.IsNaN(g.Rate) || math.IsInf(g.Rate, 0):
		return &berth.FieldError{Field: "rate", Problem: "must be a finite number of jobs per hour"}
	case g.Rate == 0 && g.Count == 0:
		return &berth.FieldError{Field: "count", Problem: "is required (or a rate)"}
	case g.CountMax != 0 && g.CountMax < g.Count:
		return &berth.FieldError{Field: "count_max", Problem: "is less than count"}
	case g.Bursts < 0:
		return neg("bursts")
	case g.At < 0:
		return &berth.FieldError{Field: "at", Problem: "must not be negative: it is a time after the start"}
	case g.From < 0:
		return neg("from")
	case g.Until < 0:
		return neg("until")
	case g.Until > 0 && g.Until <= g.From:
		return &berth.FieldError{Field: "until", Problem: fmt.Sprintf("%s is not after from %s",
			berth.ShortDuration(time.Duration(g.Until)), berth.ShortDuration(time.Duration(g.From)))}
	case g.Every < 0:
		return neg("every")
	case g.Every > 0 && time.Duration(g.Every) < time.Minute:
		return &berth.FieldError{Field: "every", Problem: "must be at least 1m (for a steady stream, give a rate)"}
	}
	return nil
}

// expectedJobs is about how many jobs a generated group draws over
// horizon: its bursts at their largest, or its rate over its span, in
// every period.
func (g *Group) expectedJobs(horizon time.Duration) float64 {
	period := time.Duration(g.Every)
	if period <= 0 {
		period = horizon + 1
	}
	periods := math.Ceil(float64(horizon) / float64(period))
	if g.Rate > 0 {
		until := time.Duration(g.Until)
		if until <= 0 {
			until = min(period, horizon)
		}
		return periods * g.Rate * max(until-time.Duration(g.From), 0).Hours()
	}
	return periods * float64(max(g.Bursts, 1)) * float64(max(g.Count, g.CountMax))
}

// validate checks a workload log's settings; a zero is a default.
func (s *SWF) validate() error {
	switch {
	case !(s.CPUPerProc >= 0 && s.CPUPerProc <= berth.MaxCPU):
		return &berth.FieldError{Field: "cpu_per_proc", Problem: fmt.Sprintf("must be between 0 (the default, 1) and %d", berth.MaxCPU)}
	case s.CPUPerProc != 0 && s.CPUPerProc < 0.01:
		return &berth.FieldError{Field: "cpu_per_proc", Problem: "must be at least 0.01 vCPU"}
	case s.MemoryMBPerProc < 0 || s.MemoryMBPerProc > berth.MaxMemoryMB:
		return &berth.FieldError{Field: "memory_mb_per_proc", Problem: fmt.Sprintf("must be between 0 (the default, 2048) and %d", berth.MaxMemoryMB)}
	case s.MemoryMBPerProc != 0 && s.MemoryMBPerProc < berth.MinMemoryMB:
		return &berth.FieldError{Field: "memory_mb_per_proc", Problem: fmt.Sprintf("must be at least %d", berth.MinMemoryMB)}
	case !(s.SkipDays >= 0 && s.SkipDays <= maxLogDays):
		return &berth.FieldError{Field: "skip_days", Problem: fmt.Sprintf("must be between 0 and %d", maxLogDays)}
	case !(s.Days >= 0 && s.Days <= maxLogDays):
		return &berth.FieldError{Field: "days", Problem: fmt.Sprintf("must be between 0 (all) and %d", maxLogDays)}
	case s.MaxJobs < 0 || s.MaxJobs > maxWorkload:
		return &berth.FieldError{Field: "max_jobs", Problem: fmt.Sprintf("must be between 0 (all) and %d", maxWorkload)}
	}
	return nil
}
