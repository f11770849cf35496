package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cost"
	"github.com/berth-run/berth/internal/store"
)

// jobView is a job as the API shows it: with what each attempt held and
// what the job cost so far.
type jobView struct {
	berth.Job
	Attempts []attemptView `json:"attempts"`
	// CostUSD sums its attempts' costs; a running attempt counts up to now.
	CostUSD float64 `json:"cost_usd"`
}

// attemptView is an attempt with what it held and cost.
type attemptView = berth.PricedAttempt

// viewJobs prices the jobs' attempts.
func (s *Server) viewJobs(ctx context.Context, jobs []berth.Job) ([]jobView, error) {
	ids := make([]string, 0, len(jobs))
	for _, j := range jobs {
		if len(j.Attempts) > 0 {
			ids = append(ids, j.ID)
		}
	}
	costs, err := s.d.Store.AttemptCosts(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]jobView, len(jobs))
	for i, j := range jobs {
		byAttempt := make(map[string]store.AttemptCost, len(costs[j.ID]))
		for _, c := range costs[j.ID] {
			byAttempt[c.AttemptID] = c
		}
		j.JobSpec = j.JobSpec.WithSecretsHidden() // as stored already; never a value, whatever the caller held
		v := jobView{Job: j, Attempts: make([]attemptView, len(j.Attempts))}
		for k, a := range j.Attempts {
			c := byAttempt[a.ID]
			av := attemptView{Attempt: a, Pool: c.Pool, Market: c.Market, PriceUSDHour: c.Price, Share: c.Share, CostUSD: c.USD(now)}
			v.Attempts[k] = av
			v.CostUSD += av.CostUSD
		}
		v.Job.Attempts = nil
		out[i] = v
	}
	return out, nil
}

// writeJob answers one job, priced.
func (s *Server) writeJob(w http.ResponseWriter, r *http.Request, status int, j berth.Job) {
	vs, err := s.viewJobs(r.Context(), []berth.Job{j})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, status, vs[0])
}

// costLine is one sum of the cost report: CostUSD in all, of which
// IdleUSD hosts stood idle.
type costLine struct {
	Key     string  `json:"key"`
	CostUSD float64 `json:"cost_usd"`
	IdleUSD float64 `json:"idle_usd"`
}

// costReport answers GET /v1/cost.
type costReport struct {
	By       string     `json:"by"`
	TotalUSD float64    `json:"total_usd"`
	IdleUSD  float64    `json:"idle_usd"`
	Lines    []costLine `json:"lines"`
}

// getCost sums what the attempts held by pool, market, label:KEY or day
// (UTC), since an optional time.
func (s *Server) getCost(w http.ResponseWriter, r *http.Request) {
	by, since := "pool", time.Time{}
	for key, vals := range r.URL.Query() {
		v := vals[len(vals)-1]
		switch key {
		case "by":
			by = v
		case "since":
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				s.fail(w, r, &berth.FieldError{Field: "since", Problem: fmt.Sprintf("%q is not an RFC 3339 time", v)})
				return
			}
			since = t
		default:
			s.fail(w, r, &berth.FieldError{Field: key, Problem: "unknown query parameter (by, since)"})
			return
		}
	}
	l, err := s.d.Store.Ledger(r.Context(), since, time.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sums, ok := sumBy(l, by)
	if !ok {
		s.fail(w, r, &berth.FieldError{Field: "by", Problem: fmt.Sprintf("%q: want pool, market, day or label:KEY", by)})
		return
	}
	var idle cost.Ledger
	for _, x := range l {
		if x.Idle() {
			idle = append(idle, x)
		}
	}
	idleSums, _ := sumBy(idle, by)
	rep := costReport{By: by, TotalUSD: l.Total(), IdleUSD: idle.Total(), Lines: []costLine{}}
	for _, k := range cost.Keys(sums) {
		rep.Lines = append(rep.Lines, costLine{Key: k, CostUSD: sums[k], IdleUSD: idleSums[k]})
	}
	writeJSON(w, http.StatusOK, rep)
}

// sumBy sums l by pool, market, day (UTC) or label:KEY, and reports
// whether by is one of those.
func sumBy(l cost.Ledger, by string) (map[string]float64, bool) {
	switch {
	case by == "pool":
		return l.By(cost.ByPool), true
	case by == "market":
		return l.By(cost.ByMarket), true
	case by == "day":
		return l.ByDay(time.UTC), true
	case strings.HasPrefix(by, "label:") && len(by) > len("label:"):
		return l.By(cost.ByLabel(strings.TrimPrefix(by, "label:"))), true
	}
	return nil, false
}
