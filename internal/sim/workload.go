package sim

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
)

// Job is one job of a workload.
type Job struct {
	ID       string
	Group    string
	Submit   time.Time
	CPU      float64
	MemoryMB int64
	Run      time.Duration
	Deadline time.Time // zero: none
	Pool     string
	// StartBudget, when set, overrides the pools' start budget.
	StartBudget *time.Duration
	Priority    int
}

// Workload draws the scenario's jobs from seed, in order of submission.
func (sc *Scenario) Workload(seed uint64) ([]Job, error) {
	var jobs []Job
	for i := range sc.Jobs {
		g := &sc.Jobs[i]
		r := rand.New(rand.NewPCG(seed, uint64(i)+1))
		var got []Job
		if g.SWF != nil {
			var err error
			if got, err = sc.swfJobs(g, maxWorkload-len(jobs)); err != nil {
				return nil, fmt.Errorf("jobs[%d]: %w", i, err)
			}
		} else {
			got = sc.groupJobs(g, r)
		}
		jobs = append(jobs, got...)
	}
	slices.SortStableFunc(jobs, func(a, b Job) int { return a.Submit.Compare(b.Submit) })
	for i := range jobs {
		jobs[i].ID = fmt.Sprintf("job-%06d", i)
	}
	return jobs, nil
}

// groupJobs draws the jobs of a generated group.
func (sc *Scenario) groupJobs(g *Group, r *rand.Rand) []Job {
	horizon := time.Duration(sc.Horizon)
	period := time.Duration(g.Every)
	if period <= 0 {
		period = horizon + 1
	}
	until := time.Duration(g.Until)
	if until <= 0 {
		until = min(period, horizon)
	}
	from := time.Duration(g.From)
	var jobs []Job
	for base := time.Duration(0); base < horizon; base += period {
		var times []time.Duration
		switch {
		case g.Rate > 0:
			mean := float64(time.Hour) / g.Rate
			for t := from + time.Duration(r.ExpFloat64()*mean); t < until; t += time.Duration(r.ExpFloat64() * mean) {
				times = append(times, t)
			}
		case g.Bursts > 1:
			for range g.Bursts {
				at := from + time.Duration(r.Int64N(int64(max(until-from, 1))))
				for range g.burstSize(r) {
					times = append(times, at)
				}
			}
		default:
			for range g.burstSize(r) {
				times = append(times, time.Duration(g.At))
			}
		}
		for _, t := range times {
			if base+t >= horizon {
				continue
			}
			jobs = append(jobs, g.job(r, sc.Start.Add(base+t)))
		}
	}
	return jobs
}

func (g *Group) burstSize(r *rand.Rand) int {
	if g.CountMax > g.Count {
		return g.Count + r.IntN(g.CountMax-g.Count+1)
	}
	return g.Count
}

// job draws one job of the group submitted at t.
func (g *Group) job(r *rand.Rand, t time.Time) Job {
	total := 0.0
	for _, s := range g.Shapes {
		total += weight(s)
	}
	pick, x := g.Shapes[0], r.Float64()*total
	for _, s := range g.Shapes {
		if x -= weight(s); x < 0 {
			pick = s
			break
		}
	}
	run := time.Duration(g.Run.Min)
	if g.Run.Max > g.Run.Min {
		run += time.Duration(r.Int64N(int64(g.Run.Max - g.Run.Min)))
	}
	j := Job{Group: g.Name, Submit: t, CPU: pick.CPU, MemoryMB: pick.MemoryMB, Run: run.Round(time.Second), Pool: g.Pool, Priority: g.Priority}
	if g.Deadline > 0 {
		j.Deadline = t.Add(time.Duration(g.Deadline))
	}
	if g.StartBudget != nil {
		d := time.Duration(*g.StartBudget)
		j.StartBudget = &d
	}
	return j
}

func weight(s Shape) float64 {
	if s.Weight == 0 {
		return 1
	}
	return s.Weight
}

// swfJobs reads the jobs of a Standard Workload Format log, at most
// limit of them.
func (sc *Scenario) swfJobs(g *Group, limit int) ([]Job, error) {
	s := g.SWF
	if s.Path == "" {
		return nil, fmt.Errorf("swf.path: no workload log; give its path (--workload PATH)")
	}
	f, err := os.Open(sc.path(s.Path))
	if err != nil {
		return nil, fmt.Errorf("read workload log: %w", err)
	}
	defer f.Close()
	var rd io.Reader = f
	if strings.HasSuffix(s.Path, ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("read workload log %s: %w", s.Path, err)
		}
		defer z.Close()
		rd = z
	}
	cpuPer, memPer := s.CPUPerProc, s.MemoryMBPerProc
	if cpuPer == 0 {
		cpuPer = 1
	}
	if memPer == 0 {
		memPer = 2048
	}
	skip := time.Duration(s.SkipDays * 24 * float64(time.Hour))
	window := time.Duration(s.Days * 24 * float64(time.Hour))
	var jobs []Job
	first := int64(-1)
	sc2 := bufio.NewScanner(rd)
	for sc2.Scan() {
		line := strings.TrimSpace(sc2.Text())
		if line == "" || line[0] == ';' {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) < 8 {
			return nil, fmt.Errorf("read workload log %s: a line has %d fields, want 18", s.Path, len(fs))
		}
		submit, err1 := strconv.ParseInt(fs[1], 10, 64)
		run, err2 := strconv.ParseInt(fs[3], 10, 64)
		procs, err3 := strconv.ParseInt(fs[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("read workload log %s: %q is not a job line", s.Path, line)
		}
		if procs <= 0 {
			procs, _ = strconv.ParseInt(fs[7], 10, 64)
		}
		if first < 0 {
			first = submit
		}
		at := time.Duration(submit-first) * time.Second
		if run <= 0 || procs <= 0 || at < skip {
			continue
		}
		if window > 0 && at >= skip+window {
			break
		}
		j := Job{Group: g.Name, Submit: sc.Start.Add(at - skip), Run: time.Duration(run) * time.Second,
			CPU: min(float64(procs)*cpuPer, berth.MaxCPU), MemoryMB: min(procs*memPer, berth.MaxMemoryMB),
			Pool: g.Pool, Priority: g.Priority}
		if g.Deadline > 0 {
			j.Deadline = j.Submit.Add(time.Duration(g.Deadline))
		}
		if g.StartBudget != nil {
			d := time.Duration(*g.StartBudget)
			j.StartBudget = &d
		}
		if len(jobs) >= limit {
			return nil, fmt.Errorf("read workload log %s: more than %d jobs in the workload; cut the log with swf.days or swf.max_jobs", s.Path, maxWorkload)
		}
		jobs = append(jobs, j)
		if s.MaxJobs > 0 && len(jobs) >= s.MaxJobs {
			break
		}
	}
	if err := sc2.Err(); err != nil {
		return nil, fmt.Errorf("read workload log %s: %w", s.Path, err)
	}
	return jobs, nil
}
