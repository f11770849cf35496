// Package pgtest gives tests a PostgreSQL database of their own: a new,
// empty database on one server per test process.
//
// The server is the one BERTH_POSTGRES_URL names (a superuser's URL; .ci/run
// starts one and sets it), or else one this package starts from Debian's
// postgresql package (/usr/lib/postgresql/*/bin) in a temporary directory,
// on a Unix socket, as the postgres user when the tests run as root, without
// fsync (its data need not survive a crash). Main stops that server when
// the tests end.
//
// Without PostgreSQL, tests that ask for a database are skipped, or fail
// when BERTH_REQUIRE_POSTGRES=1.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// server is the process's one PostgreSQL server, started on first use.
// The test process is the unit of its life, so it is package state.
var server struct {
	once  sync.Once
	admin string    // URL of a superuser on the maintenance database
	tests string    // URL of the same superuser on the database berth_test
	cmd   *exec.Cmd // the server this package started; nil for BERTH_POSTGRES_URL
	dir   string    // its data and socket directory
	err   error
	dbs   atomic.Int64 // databases made, for their names
}

// Required reports whether tests must fail without PostgreSQL.
func Required() bool { return os.Getenv("BERTH_REQUIRE_POSTGRES") == "1" }

// Main runs the tests and then stops the server Main's package started, if
// any: call it from TestMain as os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the server this package started. Later calls to URL fail.
func Stop() {
	server.once.Do(func() { server.err = errors.New("pgtest: stopped") })
	if server.cmd == nil {
		return
	}
	server.cmd.Process.Signal(os.Interrupt) //nolint:errcheck // it may have gone
	done := make(chan struct{})
	go func() { server.cmd.Wait(); close(done) }() //nolint:errcheck // a signalled server exits non-zero
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		server.cmd.Process.Kill() //nolint:errcheck // last resort
	}
	os.RemoveAll(server.dir)
	server.cmd = nil
}

// URL returns the URL of a new, empty database for t, dropped when t ends:
// a schema of its own in the database berth_test (the URL sets the
// connections' search_path to it), which is much quicker to make than a
// database. It skips t when there is no PostgreSQL (fails it with
// BERTH_REQUIRE_POSTGRES=1).
func URL(t testing.TB) string {
	t.Helper()
	_, err := Admin()
	if err != nil {
		if Required() {
			t.Fatalf("PostgreSQL (BERTH_REQUIRE_POSTGRES=1): %v", err)
		}
		t.Skipf("no PostgreSQL: %v", err)
	}
	name := fmt.Sprintf("berth_test_%d_%d", os.Getpid(), server.dbs.Add(1))
	ctx := context.Background()
	db, err := sql.Open("pgx", server.tests)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", server.tests)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(context.Background(), `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withSearchPath(server.tests, name)
}

// withSearchPath returns u with its connections' search_path set to schema.
func withSearchPath(u, schema string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	q.Set("search_path", schema)
	p.RawQuery = q.Encode()
	return p.String()
}

// WithDatabase returns the URL u with its database replaced by name.
func WithDatabase(u, name string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	p.Path = "/" + name
	return p.String()
}

// Admin returns the URL of a superuser on the server's maintenance
// database, starting the server if need be.
func Admin() (string, error) {
	server.once.Do(func() {
		if u := os.Getenv("BERTH_POSTGRES_URL"); u != "" {
			server.admin, server.err = u, ping(u, 10*time.Second)
		} else {
			server.admin, server.err = start()
		}
		if server.err == nil {
			server.tests, server.err = testDatabase(server.admin)
		}
	})
	return server.admin, server.err
}

// testDatabase makes the database berth_test unless it is there, and
// returns its URL.
func testDatabase(admin string) (string, error) {
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", err
	}
	defer db.Close()
	ctx := context.Background()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_database WHERE datname = 'berth_test'`).Scan(&n); err != nil {
		return "", err
	}
	if n == 0 {
		_, err := db.ExecContext(ctx, `CREATE DATABASE berth_test TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`)
		var pe *pgconn.PgError
		if err != nil && !(errors.As(err, &pe) && pe.Code == "42P04") { // made meanwhile by another process
			return "", fmt.Errorf("create database berth_test: %w", err)
		}
	}
	return WithDatabase(admin, "berth_test"), nil
}

// start runs initdb and postgres in a new temporary directory.
func start() (string, error) {
	bin, err := binDir()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "berth-pgtest-")
	if err != nil {
		return "", err
	}
	data := filepath.Join(dir, "data")
	asUser, err := runAs(dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	initdb := asUser(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	cmd := asUser(filepath.Join(bin, "postgres"), "-D", data, "-k", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=", "-c", "max_connections=200",
		// A server for tests: what it holds need not survive a crash.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("start postgres: %w", err)
	}
	server.cmd, server.dir = cmd, dir
	u := fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d&sslmode=disable", url.QueryEscape(dir), port)
	if err := ping(u, 30*time.Second); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "log"))
		Stop()
		return "", fmt.Errorf("postgres did not start: %v: %s", err, b)
	}
	return u, nil
}

// binDir finds the newest of Debian's PostgreSQL installations.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var ok []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return "", errors.New("no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)")
	}
	sort.Slice(ok, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(ok[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(ok[j])))
		return vi < vj
	})
	return ok[len(ok)-1], nil
}

// runAs returns how to run PostgreSQL's programs: as ourselves, or, as
// root (which PostgreSQL refuses), as the postgres user, who is given dir.
func runAs(dir string) (func(name string, args ...string) *exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return exec.Command, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and there is no postgres user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(name, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		cmd.Dir = dir
		return cmd
	}, nil
}

// freePort returns a TCP port nothing listens on now (postgres names its
// socket after it).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping waits until the server at u answers, for up to wait.
func ping(u string, wait time.Duration) error {
	db, err := sql.Open("pgx", u)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(wait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		if strings.Contains(err.Error(), "password authentication failed") {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}
