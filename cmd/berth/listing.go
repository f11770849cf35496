package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/berth-run/berth/client"
)

// listing is what the list commands (jobs, nodes, pools, schedules) share:
// flags with -o, at most a few arguments, a fetch of one page or of every
// page, and the items printed as the API's JSON list or as a table. The
// hooks hold what differs.
type listing[T any] struct {
	name     string // the command, as usage errors name it: "nodes"
	synopsis string // its usage after "berth "
	args     int    // how many arguments it takes at most
	key      string // the JSON field of the items: "nodes"
	// paged lists come from the API a page at a time: --limit, --cursor and
	// --all choose the pages, the JSON has the next page's "next_cursor",
	// and the table is followed by a hint when more pages remain.
	paged  bool
	header []string
	row    func(now time.Time, item T) []string
	// fit cuts the table's last column to the terminal's width; the others
	// are printed whole (their columns are ids and short values).
	fit bool
	// flags adds the command's own flags; check, when set, looks at them
	// once parsed and returns a problem with the command line.
	flags func(fs *flag.FlagSet)
	check func() error
	// fetch reads one page of items from the API, starting at cursor and
	// holding limit items (0: the server's default), and returns the cursor
	// of the next page ("" on the last). Lists that are not paged get ""
	// and 0, and return "".
	fetch func(ctx context.Context, c *client.Client, args []string, cursor string, limit int) ([]T, string, error)
	// notes, when set, returns lines printed after the table: what is
	// too long for a column, such as a pool's problem.
	notes func(item T) []string
}

// run runs the command with the command line args.
func (l listing[T]) run(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, l.name, l.synopsis)
	var out output
	var cursor string
	var limit int
	var all bool
	if l.paged {
		fs.IntVar(&limit, "limit", 0, l.key+" per page (default: the server's)")
		fs.StringVar(&cursor, "cursor", "", "start at this page `cursor` of an earlier listing")
		fs.BoolVar(&all, "all", false, "list every page, not just the first")
	}
	if l.flags != nil {
		l.flags(fs)
	}
	addOutputFlag(fs, &out)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > l.args {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(l.args))
	}
	if l.check != nil {
		if err := l.check(); err != nil {
			return usageError(env, fs, "%v", err)
		}
	}
	c, err := newClient(env)
	if err != nil {
		return err
	}
	var items []T
	for {
		page, next, err := l.fetch(ctx, c, fs.Args(), cursor, limit)
		if err != nil {
			return err
		}
		items = append(items, page...)
		cursor = next
		if !all || next == "" {
			break
		}
	}
	return l.print(env, out, items, cursor)
}

// print writes items (and, for a paged list, the cursor of the next page)
// as JSON or as a table.
func (l listing[T]) print(env *cliEnv, out output, items []T, next string) error {
	if items == nil {
		items = []T{}
	}
	if out.json() {
		// A map's keys are written sorted: the items' key comes before
		// "next_cursor" for every list berth has.
		doc := map[string]any{l.key: items}
		if l.paged {
			doc["next_cursor"] = next
		}
		return printJSON(env.stdout, doc)
	}
	now := env.clock()
	t := newTable(l.header...)
	for _, item := range items {
		t.add(l.row(now, item)...)
	}
	width := 0
	if l.fit {
		width = env.width
	}
	if err := t.write(env.stdout, width); err != nil {
		return err
	}
	if l.notes != nil {
		for _, item := range items {
			for _, n := range l.notes(item) {
				fmt.Fprintln(env.stdout, escape(n))
			}
		}
	}
	if l.paged && next != "" {
		fmt.Fprintf(env.stderr, "more %s: add --all, or --cursor %s\n", l.key, next)
	}
	return nil
}
