package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
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

// parseFlags parses args into fs. Flags may come before, between and after
// the other arguments (berth logs ID -f), up to a "--", after which
// everything is an argument. It prints any problem with the command line
// and returns an error that only carries the exit code: 0 for -h, 2
// otherwise.
func parseFlags(fs *flag.FlagSet, args []string) error {
	return parse(fs, reorder(args, valueFlags(fs), -1))
}

// parseCommandFlags parses the flags of a command line of the form IMAGE
// [-- CMD ARGS...]: flags may come before and after IMAGE, but the first
// argument after IMAGE that is not a flag starts the container's command,
// and everything from it (or after a "--") belongs to the container.
func parseCommandFlags(fs *flag.FlagSet, args []string) error {
	return parse(fs, reorder(args, valueFlags(fs), 1))
}

// parse parses args, which reorder has put in order, into fs. The flag
// package's own messages are replaced by one line naming the flag at fault
// (and, for a mistyped one, the closest flag there is); -h prints the
// usage.
func parse(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp) && usage != nil:
		usage()
		return exitError{0}
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(out, "usage: berth %s [flags]\n\nflags:\n", fs.Name())
		fs.PrintDefaults()
		return exitError{0}
	}
	fmt.Fprintf(out, "berth %s: %s\n", fs.Name(), flagProblem(fs, err))
	return exitError{2}
}

// flagProblem words a parse error of the flag package: "unknown flag
// --retires; did you mean --retries?".
func flagProblem(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimPrefix(name, "-")
		typed := "--" + name
		if len(name) == 1 {
			typed = "-" + name
		}
		if near := closestFlag(fs, name); near != "" {
			return fmt.Sprintf("unknown flag %s; did you mean %s?", typed, dashed(near))
		}
		return fmt.Sprintf("unknown flag %s; see berth %s -h", typed, fs.Name())
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return fmt.Sprintf("flag %s needs a value; see berth %s -h", dashed(name), fs.Name())
	}
	// invalid value "x" for flag -cpu: parse error
	if rest, ok := strings.CutPrefix(msg, "invalid value "); ok {
		if i := strings.Index(rest, " for flag -"); i >= 0 {
			value, tail := rest[:i], rest[i+len(" for flag -"):]
			name, why, _ := strings.Cut(tail, ": ")
			if f := fs.Lookup(name); f != nil {
				value = shownValue(f, value)
			}
			return fmt.Sprintf("%s %s: %s", dashed(name), value, valueProblem(fs.Lookup(name), why))
		}
	}
	// invalid boolean value "x" for -d: parse error
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		if value, tail, ok := strings.Cut(rest, " for -"); ok {
			name, _, _ := strings.Cut(tail, ": ")
			return fmt.Sprintf("%s %s: want true or false", dashed(name), value)
		}
	}
	return msg + "; see berth " + fs.Name() + " -h"
}

// valueProblem says what a flag wants when the flag package could only say
// "parse error".
func valueProblem(f *flag.Flag, why string) string {
	if f == nil || why != "parse error" && why != "value out of range" {
		return why
	}
	switch fmt.Sprintf("%T", f.Value) {
	case "*flag.durationValue":
		return "want a duration such as 90s or 10m"
	case "*flag.intValue", "*flag.int64Value", "*flag.uintValue", "*flag.uint64Value":
		if why == "value out of range" {
			return "out of range"
		}
		return "want a whole number"
	case "*flag.float64Value":
		return "want a number"
	}
	return why
}

// dashed writes a flag's name as it is typed: -d, --retries.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// closestFlag returns the flag of fs that name most likely misspells, or "":
// one that name starts or that starts name, or one a small edit away (a
// letter wrong, missing, extra, or two swapped; one edit for short names,
// two for longer ones).
func closestFlag(fs *flag.FlagSet, name string) string {
	name = strings.ToLower(name)
	best, bestDist := "", 3
	limit := 2
	switch {
	case len(name) <= 2:
		limit = 0
	case len(name) <= 5:
		limit = 1
	}
	fs.VisitAll(func(f *flag.Flag) {
		flagName := strings.ToLower(f.Name)
		d := editDistance(name, flagName)
		if len(name) >= 3 && strings.HasPrefix(flagName, name) || len(flagName) >= 3 && strings.HasPrefix(name, flagName) {
			d = min(d, 1) // --mem for --memory, --memory-mb for --memory
		}
		if d <= limit && (d < bestDist || d == bestDist && len(f.Name) > len(best)) {
			best, bestDist = f.Name, d
		}
	})
	return best
}

// editDistance counts the edits that turn a into b: a byte replaced,
// inserted or deleted, or two adjacent bytes swapped.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
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

// secretFlag collects repeated --secret-env NAME=VALUE flags; a bare NAME
// takes its value from lookup (the caller's environment), which keeps it
// out of the shell's history. No message about it repeats a value.
type secretFlag struct{ mapFlag }

func (f *secretFlag) String() string {
	if f == nil || len(f.m) == 0 {
		return ""
	}
	return strings.Join(slices.Sorted(maps.Keys(f.m)), ",")
}

func (f *secretFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if k == "" {
		return errors.New("want NAME=VALUE, or NAME to take the value from this environment")
	}
	if !ok {
		if v = f.lookup(k); v == "" {
			return fmt.Errorf("%s is not set here; export it, or write %[1]s=VALUE", k)
		}
	}
	if f.m == nil {
		f.m = map[string]string{}
	}
	f.m[k] = v
	return nil
}

// shownValue is how a message shows the value given to flag f: as typed,
// or for --secret-env the name alone.
func shownValue(f *flag.Flag, value string) string {
	if _, ok := f.Value.(*secretFlag); !ok {
		return value
	}
	raw, err := strconv.Unquote(value)
	if err != nil {
		return "(value not shown)"
	}
	if name, _, ok := strings.Cut(raw, "="); ok {
		return strconv.Quote(name + "=...")
	}
	return value // a name alone
}

// memoryFlag is a size in MiB written as docker run --memory takes it: a
// number with a unit, b, k, m, g or t (powers of 1024, any case, "512mb"
// and "2GiB" too), or a plain number of MiB. A size that is not a whole
// number of MiB is rounded up.
type memoryFlag int64

func (f *memoryFlag) String() string {
	if f == nil || *f == 0 {
		return ""
	}
	return strconv.FormatInt(int64(*f), 10) + "m"
}

func (f *memoryFlag) Set(s string) error {
	mib, err := parseMemory(s)
	if err != nil {
		return err
	}
	*f = memoryFlag(mib)
	return nil
}

// parseMemory reads a memory size (512m, 2g, 1.5GiB, 256) into MiB.
func parseMemory(s string) (int64, error) {
	bad := fmt.Errorf("%q is not a memory size such as 512m or 2g", s)
	num := strings.TrimSpace(s)
	unit := strings.TrimLeft(strings.ToLower(num), "0123456789.")
	num = strings.TrimSpace(num[:len(num)-len(unit)])
	unit = strings.TrimSpace(unit)
	if u, ok := strings.CutSuffix(unit, "ib"); ok && u != "" {
		unit = u
	} else if u, ok := strings.CutSuffix(unit, "b"); ok && u != "" {
		unit = u
	}
	shift := map[string]int{"": 20, "b": 0, "k": 10, "m": 20, "g": 30, "t": 40}
	n, ok := shift[unit]
	if !ok || num == "" {
		return 0, bad
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, bad
	}
	mib := math.Ceil(v * math.Exp2(float64(n-20)))
	if mib > math.MaxInt32 {
		return 0, fmt.Errorf("%q is more memory than any machine has", s)
	}
	return int64(mib), nil
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
// parseFlags does this by itself.
func interspersed(args []string, withValue map[string]bool) []string {
	return reorder(args, withValue, -1)
}

// reorder moves the flags in args ahead of the other arguments, and puts
// a "--" between them, so that the flag package parses them all. withValue
// names the flags that take a value (the next argument unless written
// -flag=value). A "--" ends the flags; everything after it is an argument.
//
// With maxArgs ≥ 0 (IMAGE [-- CMD...] takes 1), the argument after the
// first maxArgs arguments ends the flags too, and a "--" after them is
// kept among the arguments, where the command line's own parsing looks
// for it.
func reorder(args []string, withValue map[string]bool, maxArgs int) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" && maxArgs >= 0 && len(rest) > 0:
			return slices.Concat(flags, []string{"--"}, rest, args[i:])
		case a == "--":
			return slices.Concat(flags, []string{"--"}, rest, args[i+1:])
		case len(a) < 2 || a[0] != '-':
			if maxArgs >= 0 && len(rest) == maxArgs {
				return slices.Concat(flags, []string{"--"}, rest, args[i:])
			}
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") || !withValue[name] {
			continue
		}
		if i+1 == len(args) {
			return flags // its value is missing: let the flag package say so
		}
		i++
		flags = append(flags, args[i])
	}
	if len(rest) == 0 {
		return flags
	}
	return slices.Concat(flags, []string{"--"}, rest)
}

// valueFlags names the flags of fs that take a value, for reorder.
func valueFlags(fs *flag.FlagSet) map[string]bool {
	m := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			m[f.Name] = true
		}
	})
	return m
}
