package store

import (
	"errors"
	"testing"
)

func TestParseLocator(t *testing.T) {
	for _, c := range []struct {
		in      string
		dialect Dialect
		dsn     string
	}{
		{"/var/lib/berth/berth.db", SQLite, "/var/lib/berth/berth.db"},
		{"berth.db", SQLite, "berth.db"},
		{"sqlite:///var/lib/berth/berth.db", SQLite, "/var/lib/berth/berth.db"},
		{"postgres://berth@db.internal/berth?sslmode=require", Postgres, "postgres://berth@db.internal/berth?sslmode=require"},
		{"postgresql://berth@/berth?host=/run/postgresql", Postgres, "postgresql://berth@/berth?host=/run/postgresql"},
	} {
		got, err := parseLocator(c.in)
		if err != nil || got.dialect != c.dialect || got.dsn != c.dsn {
			t.Errorf("parseLocator(%q) = %+v, %v; want %s %q", c.in, got, err, c.dialect, c.dsn)
		}
	}
	for _, in := range []string{"", "file:x.db", "x.db?mode=memory", "sqlite://host/x.db", "sqlite:///x.db?mode=memory", "postgres://"} {
		if got, err := parseLocator(in); err == nil {
			t.Errorf("parseLocator(%q) = %+v, want an error", in, got)
		}
	}
	if _, err := parseLocator("mysql://root:hunter2@db/berth"); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("parseLocator(mysql://...) = %v, want %v", err, ErrUnknownScheme)
	} else if s := err.Error(); s != `store "mysql://root:xxxxx@db/berth": `+ErrUnknownScheme.Error() {
		t.Errorf("parseLocator(mysql://...) = %q, want the password hidden", s)
	}
}

func TestPgSQL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT id FROM jobs WHERE a = ? AND b = ?`, `SELECT id FROM jobs WHERE a = $1 AND b = $2`},
		{`SELECT '?' || ? FROM "x?" -- what?` + "\nWHERE y = ?", `SELECT '?' || $1 FROM "x?" -- what?` + "\nWHERE y = $2"},
		{`SELECT x FROM jobs j INDEXED BY jobs_queued WHERE j.state = ?`, `SELECT x FROM jobs j WHERE j.state = $1`},
		{`COALESCE(json_extract(n.facts, '$.instance_type'), '')`, `COALESCE((n.facts::jsonb #>> '{instance_type}'), '')`},
		{`json_extract(spec, '$.labels.team')`, `(spec::jsonb #>> '{labels,team}')`},
	} {
		if got := pgSQL(c.in); got != c.want {
			t.Errorf("pgSQL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
