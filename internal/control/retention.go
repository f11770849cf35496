package control

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/berth-run/berth/internal/store"
)

// DefaultRetain is how long a finished job is kept by default: 30 days.
const DefaultRetain = 30 * 24 * time.Hour

// Forever, as RetentionConfig.Retain, keeps finished jobs (but for those
// with a retention of their own).
const Forever time.Duration = math.MaxInt64

// RetentionConfig says how long finished jobs are kept and how they are
// deleted; zero fields mean the default.
type RetentionConfig struct {
	// Retain is how long a job is kept after it finished (succeeded,
	// failed or cancelled), unless it has a retention of its own.
	Retain time.Duration // default DefaultRetain; Forever keeps them
	// Interval is how often the loop looks for jobs to delete.
	Interval time.Duration // default 1m
	// Batch is how many jobs one transaction deletes at most, so that
	// the store's writer is never held for long.
	Batch int // default 1000
}

func (c RetentionConfig) withDefaults() RetentionConfig {
	if c.Retain <= 0 { // never "delete at once"
		c.Retain = DefaultRetain
	}
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
	if c.Batch == 0 {
		c.Batch = 1000
	}
	return c
}

// LogRemover removes the logs of a job (logstore.Store does).
type LogRemover interface {
	Remove(jobID string) error
}

// Retention is the loop that deletes finished jobs once their retention
// has ended: their logs, then, in one transaction per batch, their rows
// (attempts, labels, callbacks), with what their attempts cost rolled up
// for the cost reports. After a round that deleted jobs it compacts the
// store.
type Retention struct {
	cfg   RetentionConfig
	store *store.Store
	logs  LogRemover
	log   *slog.Logger
}

// NewRetention returns the retention loop over st and its jobs' logs.
func NewRetention(cfg RetentionConfig, st *store.Store, logs LogRemover, log *slog.Logger) *Retention {
	return &Retention{cfg: cfg.withDefaults(), store: st, logs: logs, log: log}
}

// Run deletes expired jobs every Interval until ctx ends.
func (r *Retention) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := r.Round(ctx, time.Now()); err != nil && ctx.Err() == nil {
			r.log.Error("retention round", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Round deletes the jobs whose retention ended by now, Batch at a time,
// and returns how many it deleted. A job whose logs cannot be removed is
// left for a later round.
func (r *Retention) Round(ctx context.Context, now time.Time) (int, error) {
	cutoff := retentionCutoff(now, r.cfg.Retain)
	total := 0
	for {
		ids, err := r.store.ExpiredJobs(ctx, cutoff, now, r.cfg.Batch)
		if err != nil || len(ids) == 0 {
			return total, r.compact(ctx, total, err)
		}
		gone := ids[:0:0]
		for _, id := range ids {
			if err := r.logs.Remove(id); err != nil {
				r.log.Warn("retention: remove logs", "job", id, "err", err)
				continue
			}
			gone = append(gone, id)
		}
		deleted, err := r.store.DeleteJobs(ctx, gone, cutoff, now)
		total += len(deleted)
		if err != nil || len(ids) < r.cfg.Batch || len(deleted) == 0 {
			return total, r.compact(ctx, total, err)
		}
	}
}

// compact compacts the store after a round that deleted jobs, and returns
// err, the round's error, if there was one.
func (r *Retention) compact(ctx context.Context, deleted int, err error) error {
	if deleted == 0 {
		return err
	}
	pages, cerr := r.store.Compact(ctx)
	r.log.Info("retention: deleted finished jobs", "jobs", deleted, "pages freed", pages)
	if err != nil {
		return err
	}
	return cerr
}

// retentionCutoff is the moment before which the jobs under the server's
// retention finished, at now, to be deleted: zero (none) when they are
// kept for ever.
func retentionCutoff(now time.Time, retain time.Duration) time.Time {
	if retain == Forever {
		return time.Time{}
	}
	return now.Add(-retain)
}
