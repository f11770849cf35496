package main

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// newFlagSet returns a flag set for `berth synopsis` that reports to stderr.
func newFlagSet(env *cliEnv, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: berth %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs. The flag package has already printed any
// problem; the error only carries the exit code: 0 for -h, 2 otherwise.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitError{0}
	case err != nil:
		return exitError{2}
	}
	return nil
}

// usageError prints a problem with the command line and returns exit code 2.
func usageError(env *cliEnv, fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(env.stderr, "berth %s: %s\nsee berth %[1]s -h\n", fs.Name(), fmt.Sprintf(format, args...))
	return exitError{2}
}

// addOutputFlag registers -o and --output.
func addOutputFlag(fs *flag.FlagSet, o *output) {
	fs.Var(o, "o", "output `format`: text or json")
	fs.Var(o, "output", "output `format`: text or json")
}

// mapFlag collects repeated KEY=VALUE flags. With lookup set, a bare KEY
// takes its value from lookup (as docker run -e does).
type mapFlag struct {
	m      map[string]string
	lookup func(string) string
}

func (f *mapFlag) String() string {
	if f == nil || len(f.m) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(f.m)) {
		parts = append(parts, k+"="+f.m[k])
	}
	return strings.Join(parts, ",")
}

func (f *mapFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", s)
	}
	if !ok {
		if f.lookup == nil {
			return fmt.Errorf("%q is not KEY=VALUE", s)
		}
		if v = f.lookup(k); v == "" {
			return fmt.Errorf("%s is not set here; write %[1]s=VALUE", k)
		}
	}
	if f.m == nil {
		f.m = map[string]string{}
	}
	f.m[k] = v
	return nil
}

// intsFlag is a comma-separated list of integers: 1,2,137.
type intsFlag []int

func (f *intsFlag) String() string {
	if f == nil {
		return ""
	}
	s := make([]string, len(*f))
	for i, n := range *f {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func (f *intsFlag) Set(s string) error {
	*f = nil
	for p := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return fmt.Errorf("%q is not a list of numbers such as 1,2", s)
		}
		*f = append(*f, n)
	}
	return nil
}

// interspersed moves the flags in args ahead of the other arguments, so
// that `berth node drain ID --deadline 5m` parses like `berth node drain
// --deadline 5m ID`. withValue names the flags that take a value (the next
// argument unless written -flag=value). Everything after "--" stays put.
func interspersed(args []string, withValue map[string]bool) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && withValue[name] && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return append(flags, rest...)
}
