package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// invocation is one berth command line and what it sees.
type invocation struct {
	vars  map[string]string // the environment
	stdin string
	width int
	clock func() time.Time // nil: always now
}

// result is what a command line did.
type result struct {
	code           int
	stdout, stderr string
}

func (in invocation) run(ctx context.Context, args ...string) result {
	var stdout, stderr bytes.Buffer
	env := &cliEnv{
		stdout: &stdout, stderr: &stderr, stdin: strings.NewReader(in.stdin),
		getenv: func(k string) string { return in.vars[k] },
		now:    in.clock,
		width:  in.width,
	}
	if env.now == nil {
		env.now = func() time.Time { return now }
	}
	code := run(ctx, env, args)
	return result{code, stdout.String(), stderr.String()}
}

// against returns an invocation that talks to f with its token.
func (f *fakeAPI) against() invocation {
	return invocation{vars: map[string]string{"BERTH_ADDR": f.srv.URL, "BERTH_TOKEN": testToken}}
}

// cli runs args against f.
func (f *fakeAPI) cli(t *testing.T, args ...string) result {
	t.Helper()
	return f.against().run(t.Context(), args...)
}

// mustSucceed fails the test unless r exited 0.
func (r result) mustSucceed(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0; stderr:\n%s", r.code, r.stderr)
	}
	return r
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/berth -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestHelp(t *testing.T) {
	in := invocation{}
	r := in.run(t.Context(), "help")
	for _, c := range commands() {
		if !strings.Contains(r.stdout, "  "+c.name+" ") {
			t.Errorf("berth help does not list %s:\n%s", c.name, r.stdout)
		}
		if c.name == "sim" {
			continue
		}
		if r := in.run(t.Context(), c.name, "-h"); r.code != 0 || !strings.HasPrefix(r.stderr, "usage: berth "+c.name) {
			t.Errorf("berth %s -h: exit %d, stderr %q", c.name, r.code, r.stderr)
		}
	}
	for _, args := range [][]string{{"schedules", "create", "-h"}, {"schedules", "delete", "-h"}} {
		if r := in.run(t.Context(), args...); r.code != 0 || !strings.HasPrefix(r.stderr, "usage: berth "+strings.Join(args[:2], " ")) {
			t.Errorf("berth %q: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
