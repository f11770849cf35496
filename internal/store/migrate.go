package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrations holds the schema, one numbered file per step:
// migrations/0001_init.sql, migrations/0002_....sql. They are SQLite's, and
// PostgreSQL's too except where migrations/postgres/ holds a file of the
// same version: a step that must be written otherwise there (types,
// triggers, SQLite's JSON functions). Both engines know the same versions.
//
//go:embed migrations/*.sql migrations/postgres/*.sql
var migrations embed.FS

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations of dialect in version order.
func loadMigrations(fsys fs.FS, dialect Dialect) ([]migration, error) {
	ms, err := readMigrations(fsys, "migrations")
	if err != nil || dialect != Postgres {
		return ms, err
	}
	own, err := readMigrations(fsys, "migrations/postgres")
	if err != nil {
		return nil, err
	}
	for _, o := range own {
		i, ok := slices.BinarySearchFunc(ms, o.version, func(m migration, v int) int { return m.version - v })
		if !ok {
			return nil, fmt.Errorf("migration postgres/%s has no SQLite step of version %d", o.name, o.version)
		}
		ms[i].sql = o.sql
	}
	return ms, nil
}

// readMigrations reads the numbered .sql files of dir, in version order.
func readMigrations(fsys fs.FS, dir string) ([]migration, error) {
	names, err := fs.Glob(fsys, dir+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, p := range names {
		name := path.Base(p)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and _", name)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// ErrSchemaTooNew is returned by Open for a database whose schema a newer
// berth wrote: this one would not know what its columns mean.
var ErrSchemaTooNew = errors.New("database schema is newer than this berth knows")

// migrationConn is what migrating needs: a pool or one connection.
type migrationConn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// migrate applies the migrations that db has not recorded in
// schema_migrations, each in its own transaction, in order, and returns the
// versions it applied. A database that records a version this code does not
// know was written by a newer berth and is refused (ErrSchemaTooNew). On
// PostgreSQL it holds an advisory lock throughout, so that servers starting
// together migrate one after the other.
func migrate(ctx context.Context, db *sql.DB, dialect Dialect, ms []migration, now time.Time) ([]int, error) {
	if dialect != Postgres {
		return migrateOn(ctx, db, ms, now)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	unlock, err := pgLock(ctx, conn, migrateLockKey)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer unlock()
	return migrateOn(ctx, conn, ms, now)
}

// migrateOn is migrate on db, locked already if need be.
func migrateOn(ctx context.Context, db migrationConn, ms []migration, now time.Time) ([]int, error) {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`
	if _, err := db.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	var newest int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&newest); err != nil {
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if len(ms) > 0 && newest > ms[len(ms)-1].version {
		return nil, fmt.Errorf("schema version %d, this berth knows up to %d: %w", newest, ms[len(ms)-1].version, ErrSchemaTooNew)
	}
	var applied []int
	for _, m := range ms {
		done, err := applyMigration(ctx, db, m, now)
		if err != nil {
			return applied, err
		}
		if done {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// applyMigration applies m in one transaction unless it is recorded already,
// and reports whether it applied it.
func applyMigration(ctx context.Context, db migrationConn, m migration, now time.Time) (bool, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migration %s: begin: %w", m.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, ts(now)); err != nil {
		return false, fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return true, nil
}
