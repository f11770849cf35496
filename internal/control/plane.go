package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/berth-run/berth/internal/store"
)

// PlaneConfig wires a control plane; zero fields mean the default.
type PlaneConfig struct {
	Dispatch  DispatchConfig
	Fleet     FleetConfig
	Lease     LeaseConfig
	Retention RetentionConfig
	// Pools are the configured pools, as the fleet runs them.
	Pools []FleetPool
	// CallbackAllow are the addresses job callbacks and webhooks may
	// reach though the guard refuses them by default (see CallbackGuard).
	CallbackAllow []netip.Prefix
	// CallbackURL is where the local node's containers reach the API for
	// their callbacks.
	CallbackURL string
	// InterruptionQueues are the SQS queues of EC2's interruption events
	// to read, each with its client; none by default.
	InterruptionQueues []InterruptionQueueConfig
	// Intakes are the SQS queues of jobs to read, each with its client;
	// none by default. Their jobs are submitted through the JobSubmitter
	// given to UseSubmitter.
	Intakes []IntakeConfig
	// CloudWatch, when set, publishes the fleet's figures to CloudWatch.
	CloudWatch *CloudWatchConfig
}

// Keys signs what the control plane sends: webhook bodies, and the
// callback tokens of attempts.
type Keys interface {
	Signer
	Tokens
}

// Plane is berth's control plane: the loops over the store (dispatch,
// schedules, callbacks, the node reaper, the fleet's autoscaler,
// retention, the interruption queues and the intake queues) and what the API and agents talk
// to (the node registry and the in-process agent server). NewPlane is the one place they are wired,
// for berth server and for the tests alike.
type Plane struct {
	Store         *store.Store
	Notifier      *Notifier
	Dispatcher    *Dispatcher
	Registry      *Registry
	Fleet         *Fleet
	Schedules     *Schedules
	Callbacks     *Callbacks
	CallbackGuard *CallbackGuard
	Reaper        *Reaper
	Retention     *Retention
	Local         *Local
	// Interruptions read the interruption queues, one loop each.
	Interruptions []*InterruptionQueue
	// Intakes read the SQS queues of jobs, one loop each.
	Intakes []*Intake
	// CloudWatch publishes the fleet's figures; nil without one.
	CloudWatch *CloudWatch

	log *slog.Logger
}

// NewPlane wires a control plane over st. keys must not be nil.
func NewPlane(cfg PlaneConfig, st *store.Store, keys Keys, logs LogRemover, log *slog.Logger) *Plane {
	p := &Plane{Store: st, Notifier: NewNotifier(), CallbackGuard: NewCallbackGuard(cfg.CallbackAllow), log: log}
	p.Dispatcher = NewDispatcher(cfg.Dispatch, st, p.Notifier, log)
	p.Callbacks = NewCallbacks(st, keys, p.CallbackGuard.Client(10*time.Second), log)
	p.Schedules = NewSchedules(st, p.Notifier, p.Kick, log)
	p.Registry = NewRegistry(st, p.Notifier, p.Kick, log)
	p.Reaper = NewReaper(cfg.Lease, p.Registry, log)
	p.Fleet = NewFleet(cfg.Fleet, cfg.Pools, st, p.Registry, log.With("component", "autoscale"))
	p.Dispatcher.UseFleet(p.Fleet)
	p.Retention = NewRetention(cfg.Retention, st, logs, log.With("component", "retention"))
	p.Local = NewLocal(st, p.Notifier, p.Registry, p.Kick, keys, cfg.CallbackURL)
	for _, q := range cfg.InterruptionQueues {
		p.Interruptions = append(p.Interruptions, NewInterruptionQueue(q, p.Registry, p.Fleet, log.With("component", "interruptions")))
	}
	for _, q := range cfg.Intakes {
		p.Intakes = append(p.Intakes, NewIntake(q, st, nil, log.With("component", "intake")))
	}
	if cfg.CloudWatch != nil {
		p.CloudWatch = NewCloudWatch(*cfg.CloudWatch, p.Fleet, log.With("component", "cloudwatch"))
	}
	return p
}

// UseSubmitter sets what the intake queues submit their jobs through (the
// API's function, which needs the plane to be built first). Call it before
// Run.
func (p *Plane) UseSubmitter(s JobSubmitter) {
	for _, q := range p.Intakes {
		q.submit = s
	}
}

// Kick wakes the loops that act on jobs: dispatch and callbacks. It never
// blocks.
func (p *Plane) Kick() {
	p.Dispatcher.Kick()
	p.Callbacks.Kick()
}

// Changed is told of a change made through the API: the loops wake, and
// node's agent, if one is named, is told at once.
func (p *Plane) Changed(node string) {
	p.Kick()
	p.Schedules.Kick()
	if node != "" {
		p.Notifier.Notify(node)
	}
}

// Run runs every loop until ctx ends, or until one fails: then the others
// are stopped and the failure returned, naming the loop.
func (p *Plane) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type loop struct {
		name string
		run  func(context.Context) error
	}
	loops := []loop{
		{"dispatch", p.Dispatcher.Run},
		{"schedules", p.Schedules.Run},
		{"callbacks", p.Callbacks.Run},
		{"reaper", p.Reaper.Run},
		{"autoscale", p.Fleet.Run},
		{"retention", p.Retention.Run},
	}
	for _, q := range p.Interruptions {
		loops = append(loops, loop{"interruption queue " + q.cfg.URL, q.Run})
	}
	for _, q := range p.Intakes {
		if q.submit == nil {
			return fmt.Errorf("intake queue %s: no job submitter (Plane.UseSubmitter)", q.cfg.URL)
		}
		loops = append(loops, loop{"intake queue " + q.cfg.URL, q.Run})
	}
	if p.CloudWatch != nil {
		loops = append(loops, loop{"cloudwatch", p.CloudWatch.Run})
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, l := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.run(ctx); err != nil && ctx.Err() == nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", l.name, err))
				mu.Unlock()
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
