package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-run/berth/client"
)

// runToken runs `berth token create|ls|revoke`: scoped API tokens.
func runToken(ctx context.Context, env *cliEnv, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "create":
			return runTokenCreate(ctx, env, args[1:])
		case "ls", "list":
			return runTokenList(ctx, env, args[1:])
		case "revoke":
			return runTokenRevoke(ctx, env, args[1:])
		}
	}
	fs := newFlagSet(env, "token", "token create --role admin|submit|read [--name N] [--expires 30d]\n       berth token ls\n       berth token revoke ID")
	if err := parseFlags(fs, args); err != nil {
		return err // -h: the usage
	}
	return usageError(env, fs, "want create, ls or revoke")
}

func runTokenCreate(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "token create", "token create --role admin|submit|read [--name N] [--expires 30d] [-o json]")
	role := fs.String("role", "", "what the token may do: read (jobs, logs, schedules, nodes, cost), submit (also submit and cancel jobs and schedules) or admin (everything)")
	name := fs.String("name", "", "a `name` to know the token by")
	expires := fs.String("expires", "", "how long the token is good for: a `duration` such as 12h or 30d (default: until revoked)")
	var out output
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	if *role == "" {
		return usageError(env, fs, "--role is required: admin, submit or read")
	}
	var exp *time.Duration
	if *expires != "" {
		d, err := parseDays(*expires)
		if err != nil || d <= 0 {
			return usageError(env, fs, "--expires %q: want a positive duration such as 12h or 30d", *expires)
		}
		exp = &d
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	t, err := c.CreateToken(ctx, *name, *role, exp)
	if err != nil {
		return err
	}
	if out.json() {
		return printJSON(env.stdout, t)
	}
	fmt.Fprintln(env.stdout, t.Token)
	fmt.Fprintf(env.stderr, "token %s (role %s) created; its secret above is shown this once\n", t.ID, t.Role)
	return nil
}

// parseDays is a duration that may also be given in whole days: "30d".
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days > 100*365 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func runTokenList(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "token ls", "token ls [-o json]")
	var out output
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	ts, err := c.Tokens(ctx)
	if err != nil {
		return err
	}
	if out.json() {
		return printJSON(env.stdout, map[string][]client.APIToken{"tokens": ts})
	}
	now := env.clock()
	t := newTable("ID", "NAME", "ROLE", "CREATED", "EXPIRES", "STATE")
	for _, tok := range ts {
		state, expires := "active", "-"
		if tok.ExpiresAt != nil {
			expires = tok.ExpiresAt.UTC().Format(time.RFC3339)
			if !now.Before(*tok.ExpiresAt) {
				state = "expired"
			}
		}
		if tok.RevokedAt != nil {
			state = "revoked"
		}
		t.add(tok.ID, orDash(oneLine(tok.Name)), tok.Role, age(now, tok.CreatedAt), expires, state)
	}
	return t.write(env.stdout, env.width)
}

func runTokenRevoke(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "token revoke", "token revoke ID")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(env, fs, "want one token ID")
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	t, err := c.RevokeToken(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "token %s revoked\n", t.ID)
	return nil
}
