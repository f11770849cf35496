package sim

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// JSON is the report for scripts, with exactly these fields.
type JSON struct {
	CostUSD        float64                 `json:"cost_usd"`
	LowerBoundUSD  float64                 `json:"lower_bound_usd"`
	Baselines      map[string]BaselineJSON `json:"baselines"`
	JobsTotal      int                     `json:"jobs_total"`
	JobsSucceeded  int                     `json:"jobs_succeeded"`
	JobsLost       int                     `json:"jobs_lost"`
	DeadlineMisses int                     `json:"deadline_misses"`
	Interruptions  int                     `json:"interruptions"`
	WaitP50S       float64                 `json:"wait_p50_s"`
	WaitP99S       float64                 `json:"wait_p99_s"`
	IdleNodeHours  float64                 `json:"idle_node_hours"`
}

// BaselineJSON is one baseline in the report for scripts: its cost beside
// the deadlines it missed and the jobs it lost, as the table gives them,
// so that a cost is never read without the work it left undone.
type BaselineJSON struct {
	CostUSD        float64 `json:"cost_usd"`
	DeadlineMisses int     `json:"deadline_misses"`
	JobsLost       int     `json:"jobs_lost"`
}

// JSON returns the report for scripts: berth's run, the bound and the
// baselines' costs, deadline misses and lost jobs.
func (r *Report) JSON() JSON {
	b := r.Berth
	out := JSON{
		CostUSD: round(b.CostUSD, 4), LowerBoundUSD: round(r.LowerBoundUSD, 4), Baselines: map[string]BaselineJSON{},
		JobsTotal: b.JobsTotal, JobsSucceeded: b.JobsSucceeded, JobsLost: b.JobsLost, DeadlineMisses: b.DeadlineMisses,
		Interruptions: b.Interruptions, WaitP50S: round(b.WaitP50.Seconds(), 3), WaitP99S: round(b.WaitP99.Seconds(), 3),
		IdleNodeHours: round(b.IdleNodeHours, 3),
	}
	for _, x := range r.Baselines {
		out.Baselines[x.Name] = BaselineJSON{CostUSD: round(x.CostUSD, 4), DeadlineMisses: x.DeadlineMisses, JobsLost: x.JobsLost}
	}
	return out
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// WriteTable writes the report for people: one row per policy, then
// berth's cost against the bound and the baselines.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "scenario %s, seed %d\n\n", r.Scenario, r.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POLICY\tCOST USD\tJOBS\tSUCCEEDED\tLOST\tDEADLINE MISSES\tINTERRUPTIONS\tWAIT P50\tWAIT P99\tWARM START P99\tIDLE NODE-H\tHOST USE\tMAX HOSTS\t")
	row := func(x Result) {
		fmt.Fprintf(tw, "%s\t%.2f\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%.1f\t%s\t%d\t\n", x.Name, x.CostUSD, x.JobsTotal, x.JobsSucceeded,
			x.JobsLost, x.DeadlineMisses, x.Interruptions, dur(x.WaitP50), dur(x.WaitP99), dur(x.WarmStartP99), x.IdleNodeHours, use(x), x.MaxHosts)
	}
	row(r.Berth)
	for _, x := range r.Baselines {
		row(x)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s\n", r.summary())
	_, err := fmt.Fprintf(w, "berth's spend: %s\n", r.Berth.Spend)
	return err
}

// summary compares berth's cost with the bound and the baselines. A run
// that lost jobs did less work than the others: its cost is compared with
// none, and a baseline's only when berth, which lost none, costs less.
func (r *Report) summary() string {
	b := r.Berth
	if b.JobsLost > 0 {
		return fmt.Sprintf("%s: its cost is not comparable with the lower bound (%.2f USD) or the baselines", lost(b), r.LowerBoundUSD)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "lower bound %.2f USD", r.LowerBoundUSD)
	if r.LowerBoundUSD > 0 {
		fmt.Fprintf(&s, ": berth costs %.2f× the bound", b.CostUSD/r.LowerBoundUSD)
	}
	for _, x := range r.Baselines {
		s.WriteString("; ")
		s.WriteString(compare(b.CostUSD, x))
	}
	return s.String()
}

// compare says how usd compares with x's cost.
func compare(usd float64, x Result) string {
	d := 0.0 // percent below x
	if x.CostUSD > 0 {
		d = 100 * (1 - usd/x.CostUSD)
	}
	switch {
	case x.JobsLost > 0 && math.Round(d) > 0:
		return fmt.Sprintf("%.0f%% below %s, which %s", d, x.Name, lostJobs(x))
	case x.JobsLost > 0:
		return fmt.Sprintf("%s: its cost is not comparable", lost(x))
	case x.CostUSD <= 0 && usd > 0:
		return fmt.Sprintf("above %s, which cost nothing", x.Name)
	case math.Round(d) > 0:
		return fmt.Sprintf("%.0f%% below %s", d, x.Name)
	case math.Round(d) < 0:
		return fmt.Sprintf("%.0f%% above %s", -d, x.Name)
	}
	return "even with " + x.Name
}

// lost says how many jobs x lost: "aws-batch lost 3 of 100 jobs".
func lost(x Result) string { return x.Name + " " + lostJobs(x) }

func lostJobs(x Result) string { return fmt.Sprintf("lost %d of %d jobs", x.JobsLost, x.JobsTotal) }

// String tells where the money and the host time went.
func (s Spend) String() string {
	out := fmt.Sprintf("Spot %.2f USD, on-demand %.2f, serverless %.2f", s.SpotUSD, s.OnDemandUSD, s.ServerlessUSD)
	if s.Paid == 0 {
		return out
	}
	pct := func(v float64) float64 { return 100 * v / s.Paid }
	return out + fmt.Sprintf("; of %.1f vCPU-hours of hosts, %.0f%% ran jobs that succeeded, %.0f%% attempts Spot took back, "+
		"%.0f%% boots, %.0f%% idle before scale-in, %.0f%% free on hosts kept up (room beside work, minimum hosts between jobs)",
		s.Paid, pct(s.Work), pct(s.Lost), pct(s.Booting), pct(s.IdleEnd), pct(s.Free()))
}

// use is the hosts' utilization as a percentage, "-" for a run with no
// hosts.
func use(x Result) string {
	if len(x.Hosts) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*x.Spend.Use())
}

func dur(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
