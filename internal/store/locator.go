package store

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Dialect names the database engine behind a Store.
type Dialect string

// The engines a Store runs on.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrUnknownScheme is returned by Open for a locator whose scheme names no
// engine this store knows.
var ErrUnknownScheme = errors.New("unknown store scheme (want sqlite:///path, postgres://..., or a file path)")

// locator is a parsed store locator: which engine, and what to hand its
// driver (a file path for SQLite, a connection URL for PostgreSQL).
type locator struct {
	dialect Dialect
	dsn     string
}

// parseLocator reads what Open takes:
//
//	/var/lib/berth/berth.db            a file path: SQLite
//	sqlite:///var/lib/berth/berth.db   the same, as a URL
//	postgres://user@host/db?sslmode=disable (or postgresql://)
//
// Any other scheme is ErrUnknownScheme. A path may not carry a query or a
// fragment, nor be an SQLite URI (file:...): the store sets the pragmas.
func parseLocator(s string) (locator, error) {
	scheme, rest, isURL := strings.Cut(s, "://")
	if !isURL || strings.ContainsAny(scheme, `/\`) {
		return sqlitePath(s, s)
	}
	switch strings.ToLower(scheme) {
	case "sqlite", "sqlite3":
		u, err := url.Parse(s)
		if err != nil {
			return locator{}, fmt.Errorf("store %q: %w", s, err)
		}
		if u.Host != "" {
			return locator{}, fmt.Errorf("store %q: want sqlite:///path (three slashes), not a host", s)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return locator{}, fmt.Errorf("store %q: want a plain file path", s)
		}
		return sqlitePath(s, u.Path)
	case "postgres", "postgresql":
		if rest == "" {
			return locator{}, fmt.Errorf("store %q: want postgres://user@host/db", s)
		}
		return locator{dialect: Postgres, dsn: s}, nil
	default:
		return locator{}, fmt.Errorf("store %q: %w", redact(s), ErrUnknownScheme)
	}
}

// sqlitePath checks a file path for SQLite; s is what the caller gave.
func sqlitePath(s, path string) (locator, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return locator{}, fmt.Errorf("open store %q: want a plain file path", s)
	}
	return locator{dialect: SQLite, dsn: path}, nil
}

// redact hides a password in a locator, for errors and logs.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
