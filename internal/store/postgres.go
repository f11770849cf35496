package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// ErrUnavailable wraps the errors of a database that cannot be reached: a
// refused or broken connection. The API answers it with 503; the call
// changed nothing that was not rolled back, and may be made again.
var ErrUnavailable = errors.New("database unavailable")

// connectTimeout bounds a connection attempt whose URL sets none
// (connect_timeout).
const connectTimeout = 10 * time.Second

// writeLockKey is the PostgreSQL advisory lock every write transaction
// holds: berth's writers take turns, across servers, as SQLite's do.
const writeLockKey = 0x6265727468 // "berth"

// migrateLockKey is the advisory lock a server holds while it migrates.
const migrateLockKey = writeLockKey + 1

// openPostgres opens the connection pools of a PostgreSQL store.
func openPostgres(ctx context.Context, dsn string, readers int) (w, r *sql.DB, err error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("open store %s: %w", redact(dsn), err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	open := func() *sql.DB {
		return sql.OpenDB(pgConnector{stdlib.GetConnector(*cfg)})
	}
	w, r = open(), open()
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, nil, fmt.Errorf("open store %s: %w", redact(dsn), err)
	}
	return w, r, nil
}

// pgConnector makes connections that speak the store's SQL (pgSQL) and
// mark lost connections ErrUnavailable.
type pgConnector struct{ driver.Connector }

func (c pgConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return &pgConn{conn.(*stdlib.Conn)}, nil
}

// pgConn is a pgx connection that rewrites each statement with pgSQL. The
// methods it does not name are stdlib.Conn's.
type pgConn struct{ *stdlib.Conn }

func (c *pgConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *pgConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.PrepareContext(ctx, pgSQL(query))
	if err != nil {
		return nil, c.classify(err)
	}
	return &pgStmt{st.(*stdlib.Stmt), c}, nil
}

func (c *pgConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.Conn.ExecContext(ctx, pgSQL(query), args)
	return res, c.classify(err)
}

func (c *pgConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.Conn.QueryContext(ctx, pgSQL(query), args)
	if err != nil {
		return nil, c.classify(err)
	}
	return &pgRows{rows.(*stdlib.Rows), c}, nil
}

func (c *pgConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, c.classify(err)
	}
	return pgTx{tx, c}, nil
}

// pgStmt, pgRows and pgTx classify the errors of statements, rows and
// transactions as pgConn does its own.
type pgStmt struct {
	*stdlib.Stmt
	c *pgConn
}

func (s *pgStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	res, err := s.Stmt.ExecContext(ctx, args)
	return res, s.c.classify(err)
}

func (s *pgStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := s.Stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, s.c.classify(err)
	}
	return &pgRows{rows.(*stdlib.Rows), s.c}, nil
}

type pgRows struct {
	*stdlib.Rows
	c *pgConn
}

func (r *pgRows) Next(dest []driver.Value) error {
	err := r.Rows.Next(dest)
	if err == io.EOF {
		return err
	}
	return r.c.classify(err)
}

type pgTx struct {
	driver.Tx
	c *pgConn
}

func (t pgTx) Commit() error   { return t.c.classify(t.Tx.Commit()) }
func (t pgTx) Rollback() error { return t.c.classify(t.Tx.Rollback()) }

// classify marks the error of a connection that is gone as ErrUnavailable.
// (Not as driver.ErrBadConn: database/sql would run the statement again,
// and a write may have reached the server. A closed connection is dropped
// from the pool anyway: stdlib.Conn.IsValid.)
func (c *pgConn) classify(err error) error {
	if err == nil || !lostConnection(c.Conn.Conn(), err) {
		return err
	}
	return unavailable{err}
}

// lostConnection reports whether err means the server is out of reach.
func lostConnection(conn *pgx.Conn, err error) bool {
	if conn.IsClosed() {
		return true
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// The server is shutting down or starting: admin_shutdown,
		// crash_shutdown, cannot_connect_now.
		return pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03"
	}
	return errors.As(err, &ne) || errors.As(err, &ce)
}

// unavailable is a lost connection's error.
type unavailable struct{ err error }

func (u unavailable) Error() string { return ErrUnavailable.Error() + ": " + u.err.Error() }
func (u unavailable) Unwrap() []error {
	return []error{ErrUnavailable, u.err}
}

// pgLock takes a session-level advisory lock on conn; the returned func
// lets it go.
func pgLock(ctx context.Context, conn *sql.Conn, key int64) (func(), error) {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?)`, key); err != nil {
		return nil, fmt.Errorf("advisory lock: %w", err)
	}
	return func() {
		conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?)`, key) //nolint:errcheck // closing the session lets it go too
	}, nil
}
