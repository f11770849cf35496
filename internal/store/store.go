// Package store keeps berth's durable state: jobs, attempts, schedules,
// nodes and the callback outbox, in SQLite (pure Go, WAL; the default) or
// PostgreSQL (pgx). *Store is the one type the rest of berth calls, on
// either engine, and tests hold both to one contract: every store test
// runs on each (forEachStore).
//
// Every method that changes state does so in one transaction and re-checks,
// inside it, what the caller computed from (job versions, current attempts,
// schedule times): a stale request changes nothing and returns
// berth.ErrStale. Time is passed in (now), never read from the database.
// The errors callers branch on are berth.ErrNotFound, berth.ErrStale,
// berth.ErrConflict, *berth.FieldError, ErrUnavailable (the database is
// out of reach: nothing was written, try again), ErrSchemaTooNew and
// ErrUnknownScheme (from Open).
//
// Writes go through one connection (SQLite serialises writers anyway);
// reads use a pool of read-only connections that WAL lets run beside the
// writer. Concurrent CreateJob calls are committed together, in one
// transaction and one fsync (group commit).
//
// On PostgreSQL the same code runs with the same single writer per server,
// and every write transaction first takes one advisory lock
// (pg_advisory_xact_lock), so that writers also take turns across servers:
// the re-checks inside transactions stay as safe as on SQLite without a
// FOR UPDATE in each of them, and group commit still amortises commits.
// Reads run at REPEATABLE READ (one snapshot, as in SQLite). The SQL is
// written once, in the subset both engines share, and the PostgreSQL
// connections rewrite what remains of SQLite's dialect (pgSQL). Schema
// steps that must differ live in migrations/postgres/ under the same
// versions; migrations run under an advisory lock.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is berth's store, on SQLite or PostgreSQL. It is safe for
// concurrent use.
type Store struct {
	dialect Dialect
	w       *sql.DB // the one writer connection
	r       *sql.DB // read-only connections

	sealer Sealer // seals secret_env; nil: jobs with secret_env are refused

	insJob   *sql.Stmt // prepared on w
	insLabel *sql.Stmt
	jobByKey *sql.Stmt

	creates  chan *createReq // to the group-commit loop; unbuffered
	groups   atomic.Int64    // groups committed by the loop
	quit     chan struct{}   // closed by Close
	loopDone chan struct{}   // closed when the group-commit loop returns
	close    sync.Once
	closeErr error

	onEnd func(jobID string) // set by OnEnd before use
}

// errClosed is returned by calls made after Close.
var errClosed = errors.New("store is closed")

// busyTimeoutMS is how long a connection waits for a lock held by another
// process before it gives up.
const busyTimeoutMS = 10000

// Open opens the store at loc and applies pending schema migrations (see
// parseLocator for what loc may be: a file path or sqlite:/// URL for
// SQLite, a postgres:// URL for PostgreSQL). An SQLite database is created
// if needed, in WAL mode with synchronous=FULL (and, when new,
// auto_vacuum=INCREMENTAL). The store refuses jobs with secret_env:
// OpenWith gives it the key to seal them with.
func Open(ctx context.Context, loc string) (*Store, error) {
	return OpenWith(ctx, loc, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, loc string, opts Options) (*Store, error) {
	l, err := parseLocator(loc)
	if err != nil {
		return nil, err
	}
	s := &Store{dialect: l.dialect, sealer: opts.Secrets}
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	switch l.dialect {
	case Postgres:
		s.w, s.r, err = openPostgres(ctx, l.dsn, readers)
	default:
		s.w, s.r, err = openSQLite(ctx, l.dsn, readers)
	}
	if err != nil {
		return nil, err
	}
	if err := s.openWriter(ctx, redact(loc)); err != nil {
		s.r.Close()
		s.w.Close()
		return nil, err
	}
	s.creates = make(chan *createReq)
	s.quit = make(chan struct{})
	s.loopDone = make(chan struct{})
	go s.commitLoop()
	return s, nil
}

// Dialect returns the engine the store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// openSQLite opens the writer connection and the readers of an SQLite
// database.
func openSQLite(ctx context.Context, path string, readers int) (w, r *sql.DB, err error) {
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", busyTimeoutMS)
	// auto_vacuum before journal_mode: it takes only on a database that
	// has nothing yet, and lets Compact return freed pages.
	w, err = sql.Open("sqlite", path+"?"+common+
		"&_pragma=auto_vacuum(INCREMENTAL)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, nil, fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	var mode string
	if err := w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, nil, fmt.Errorf("open store %s: journal mode is %s, want wal", path, mode)
	}
	r, err = sql.Open("sqlite", path+"?"+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("open store %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, nil, fmt.Errorf("open store %s for reading: %w", path, err)
	}
	return w, r, nil
}

// openWriter migrates the schema and prepares the statements of the group
// commit.
func (s *Store) openWriter(ctx context.Context, path string) error {
	ms, err := loadMigrations(migrations, s.dialect)
	if err != nil {
		return err
	}
	if _, err := migrate(ctx, s.w, s.dialect, ms, time.Now()); err != nil {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.insJob, insertJobSQL},
		{&s.insLabel, `INSERT INTO job_labels (key, value, job_id) VALUES (?, ?, ?)`},
		{&s.jobByKey, `SELECT id FROM jobs WHERE idempotency_key = ?`},
	} {
		st, err := s.w.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("open store %s: prepare: %w", path, err)
		}
		*p.stmt = st
	}
	return nil
}

// Close closes the database. Calls in flight finish first; later calls fail.
func (s *Store) Close() error {
	s.close.Do(func() {
		close(s.quit)
		<-s.loopDone
		s.closeErr = errors.Join(s.r.Close(), s.w.Close())
	})
	return s.closeErr
}

// querier is what reads need: a transaction or a pool.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// write runs fn in one write transaction (BEGIN IMMEDIATE on the writer;
// on PostgreSQL, one that holds the write lock) and commits it if fn
// returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if s.dialect == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, writeLockKey); err != nil {
			tx.Rollback() //nolint:errcheck // the lock's error is the one to report
			return fmt.Errorf("write lock: %w", err)
		}
	}
	if err := fn(tx); err != nil {
		tx.Rollback() //nolint:errcheck // the error of fn is the one to report
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// read runs fn in one read transaction, so that its queries see one
// snapshot of the database.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead // one snapshot, as SQLite's
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	return fn(tx)
}
