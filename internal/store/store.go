// Package store keeps berth's durable state in SQLite (pure Go, WAL): jobs,
// attempts, schedules, nodes and the callback outbox.
//
// Every method that changes state does so in one transaction and re-checks,
// inside it, what the caller computed from (job versions, current attempts,
// schedule times): a stale request changes nothing and returns
// berth.ErrStale. Time is passed in (now), never read from the database.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	berth "github.com/berth-run/berth"
)

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	// implementation fields
}

var errUnimplemented = errors.New("store: not implemented")

// Open opens (creating if needed) the database at path, sets WAL mode and
// synchronous=FULL, and applies pending schema migrations.
func Open(ctx context.Context, path string) (*Store, error) { return nil, errUnimplemented }

// Close closes the database.
func (s *Store) Close() error { return nil }

// CreateJob stores a new job from spec (validated, with defaults applied) and
// returns it with created=true once it is durably committed. Its state is
// Scheduled (NotBefore = RunAt) when RunAt is after now, else Queued, with a
// reason. When spec.IdempotencyKey names an existing job, that job comes back
// with created=false and nothing is written. Concurrent calls are committed
// together (group commit) so that thousands per second stay durable.
func (s *Store) CreateJob(ctx context.Context, spec berth.JobSpec, now time.Time) (j berth.Job, created bool, err error) {
	return berth.Job{}, false, errUnimplemented
}

// Job returns the job with its attempts, oldest first, or berth.ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) (berth.Job, error) {
	return berth.Job{}, errUnimplemented
}

// JobFilter selects jobs for ListJobs. Zero fields select everything.
type JobFilter struct {
	State      berth.State
	Labels     map[string]string // all must match
	ScheduleID string
	Cursor     string // the next cursor of a previous page
	Limit      int    // default 50, at most 1000
}

// ListJobs returns one page of jobs, newest first, with their attempts, and
// the cursor of the next page ("" at the end). It reads only the page.
func (s *Store) ListJobs(ctx context.Context, f JobFilter) (jobs []berth.Job, next string, err error) {
	return nil, "", errUnimplemented
}

// CancelJob marks a non-terminal job Cancelled with the given reason and
// queues its callback. Its active attempt, if any, stays active until the
// executor reports it finished (the executor sees Stop on its assignment).
// A terminal job returns berth.ErrConflict; an unknown one berth.ErrNotFound.
func (s *Store) CancelJob(ctx context.Context, id, reason string, now time.Time) (berth.Job, error) {
	return berth.Job{}, errUnimplemented
}

// ReleaseDue moves Scheduled jobs whose NotBefore is at or before now to
// Queued, and returns how many moved.
func (s *Store) ReleaseDue(ctx context.Context, now time.Time) (int, error) {
	return 0, errUnimplemented
}

// NextDue returns the earliest NotBefore of a Scheduled job, and false if
// there is none.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	return time.Time{}, false, errUnimplemented
}

// Queued returns up to limit Queued jobs in dispatch order: priority
// descending, then oldest first. Attempts are not loaded.
func (s *Store) Queued(ctx context.Context, limit int) ([]berth.Job, error) {
	return nil, errUnimplemented
}

// SetReasons updates the reason of Queued jobs (job id → reason), skipping
// jobs that are no longer Queued and writing only reasons that changed. It
// does not bump versions.
func (s *Store) SetReasons(ctx context.Context, reasons map[string]string, now time.Time) error {
	return errUnimplemented
}

// Placement puts one Queued job on one node.
type Placement struct {
	JobID      string
	JobVersion int64 // the version the decision read
	NodeID     string
	AttemptID  string // new, from berth.NewID("att", now)
}

// Place commits placements, each in the same transaction but each checked on
// its own: the job is still Queued at JobVersion, the node is still ready and
// healthy, and the job's cpu and memory still fit the node's free capacity
// (capacity minus its active attempts). Each placement that holds creates
// the attempt and moves its job to Starting; the others are skipped. Place
// returns the placements that were committed.
func (s *Store) Place(ctx context.Context, ps []Placement, now time.Time) ([]Placement, error) {
	return nil, errUnimplemented
}

// Assignment is one active attempt on a node, as its executor sees it.
type Assignment = berth.Assignment

// Assignments returns every active attempt placed on the node.
func (s *Store) Assignments(ctx context.Context, nodeID string) ([]Assignment, error) {
	return nil, errUnimplemented
}

// AttemptStarted records that the attempt's container runs: it sets the
// container id and started_at, and moves the job from Starting to Running.
// It returns berth.ErrStale if the attempt is not active or not its job's
// current attempt, and berth.ErrNotFound if there is no such attempt.
// Reporting twice is harmless.
func (s *Store) AttemptStarted(ctx context.Context, attemptID, containerID string, now time.Time) (berth.Job, error) {
	return berth.Job{}, errUnimplemented
}

// FinishAttempt records how an active attempt ended and closes it. If the
// job is not terminal and the attempt is its current one, the job moves as
// berth.Next decides (retry, re-queue, succeed, fail), and a terminal job
// gets its callback queued. If the job is already terminal (cancelled, or
// finished by its callback) only the attempt is closed. A finished or
// unknown attempt returns berth.ErrStale or berth.ErrNotFound.
func (s *Store) FinishAttempt(ctx context.Context, attemptID string, out berth.Outcome, now time.Time) (berth.Job, error) {
	return berth.Job{}, errUnimplemented
}

// ReportResult applies a result the job reported about itself (out.Kind is
// berth.Reported) to the job whose current, active attempt is attemptID:
// the job moves as berth.Next decides and records out.Result. The attempt
// stays active until its executor reports it finished. A terminal job
// returns berth.ErrConflict; a non-current attempt berth.ErrStale.
func (s *Store) ReportResult(ctx context.Context, attemptID string, out berth.Outcome, now time.Time) (berth.Job, error) {
	return berth.Job{}, errUnimplemented
}

// UpsertNode registers a node or updates its name, pool, capacity, health
// and last_seen, keeping its state unless n.State is set. It returns the
// node with its used capacity.
func (s *Store) UpsertNode(ctx context.Context, n berth.Node, now time.Time) (berth.Node, error) {
	return berth.Node{}, errUnimplemented
}

// Nodes returns every node that is not gone, with the capacity its active
// attempts use.
func (s *Store) Nodes(ctx context.Context) ([]berth.Node, error) {
	return nil, errUnimplemented
}

// Callback is a job's terminal state waiting to be POSTed to its callback_url.
type Callback struct {
	JobID    string
	URL      string
	Tries    int
	NextAt   time.Time
	LastErr  string
	Snapshot json.RawMessage // the job as JSON when it turned terminal
}

// DueCallbacks returns up to limit callbacks whose NextAt is at or before now.
func (s *Store) DueCallbacks(ctx context.Context, now time.Time, limit int) ([]Callback, error) {
	return nil, errUnimplemented
}

// CallbackDelivered removes the job's callback from the outbox and marks
// the job's callback_sent.
func (s *Store) CallbackDelivered(ctx context.Context, jobID string, now time.Time) error {
	return errUnimplemented
}

// CallbackFailed counts a failed delivery and sets when to try again;
// a zero next gives up (the callback leaves the outbox, last error kept on
// the job's reason is not changed).
func (s *Store) CallbackFailed(ctx context.Context, jobID string, next time.Time, lastErr string) error {
	return errUnimplemented
}

// CreateSchedule stores a validated schedule whose first run is at next.
func (s *Store) CreateSchedule(ctx context.Context, spec berth.ScheduleSpec, next, now time.Time) (berth.Schedule, error) {
	return berth.Schedule{}, errUnimplemented
}

// Schedule returns one schedule, or berth.ErrNotFound.
func (s *Store) Schedule(ctx context.Context, id string) (berth.Schedule, error) {
	return berth.Schedule{}, errUnimplemented
}

// Schedules returns every schedule, oldest first.
func (s *Store) Schedules(ctx context.Context) ([]berth.Schedule, error) {
	return nil, errUnimplemented
}

// DeleteSchedule deletes a schedule; the jobs it created stay. An unknown
// schedule returns berth.ErrNotFound.
func (s *Store) DeleteSchedule(ctx context.Context, id string) error {
	return errUnimplemented
}

// DueSchedules returns the schedules whose NextRunAt is at or before now.
func (s *Store) DueSchedules(ctx context.Context, now time.Time) ([]berth.Schedule, error) {
	return nil, errUnimplemented
}

// FireSchedule runs a due schedule once, in one transaction: it checks that
// its NextRunAt still equals due (else berth.ErrStale: another loop fired
// it), sets NextRunAt to next and LastRunAt to now, and applies the
// schedule's concurrency policy against its earlier jobs that are not
// terminal: allow creates a job; forbid creates none if one is active;
// replace cancels the active ones (reason "replaced by the next run of
// schedule ID") and creates a job. The new job is Queued, created from the
// template with schedule_id set. It returns the job, or nil when skipped.
func (s *Store) FireSchedule(ctx context.Context, id string, due, next, now time.Time) (*berth.Job, error) {
	return nil, errUnimplemented
}
