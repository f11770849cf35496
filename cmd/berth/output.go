package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"
)

// output is the format of a read command: "" (tables and key: value text) or
// "json" (the API's JSON, indented).
type output string

// Set implements flag.Value.
func (o *output) Set(s string) error {
	switch s {
	case "json":
		*o = "json"
	case "text", "table":
		*o = ""
	default:
		return fmt.Errorf("%q is not an output format; want json or text", s)
	}
	return nil
}

func (o *output) String() string { return string(*o) }

// json reports whether JSON was asked for.
func (o output) json() bool { return o == "json" }

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table is rows of text printed as aligned columns. Its last column is cut to
// fit width; the others never are.
type table struct {
	rows [][]string
}

// gap is the space between columns.
const gap = 3

// minLast is the fewest characters of the last column shown when cutting it.
const minLast = 20

func newTable(header ...string) *table { return &table{rows: [][]string{header}} }

// add adds a row. Its cells are escaped: see escape.
func (t *table) add(cells ...string) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = escape(c)
	}
	t.rows = append(t.rows, row)
}

// escape makes s safe to print in a table or a "key: value" line: control
// characters (a newline in a job's name, a terminal escape sequence in a
// label) and bytes that are not UTF-8 are written as Go's strconv.Quote
// writes them (\n, \x1b, \u0085, \xff); the rest, backslashes and
// non-ASCII letters included, is kept as it is.
func escape(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// write prints the table. A width of 0 means no limit.
func (t *table) write(w io.Writer, width int) error {
	cols := len(t.rows[0])
	widths := make([]int, cols)
	for _, r := range t.rows {
		for i, c := range r[:cols-1] {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	used := 0
	for _, n := range widths[:cols-1] {
		used += n + gap
	}
	var b strings.Builder
	for _, r := range t.rows {
		for i, c := range r[:cols-1] {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+gap))
		}
		last := r[cols-1]
		if width > 0 {
			last = truncate(last, max(width-used, minLast))
		}
		b.WriteString(last)
		out := strings.TrimRight(b.String(), " ")
		b.Reset()
		if _, err := fmt.Fprintln(w, out); err != nil {
			return err
		}
	}
	return nil
}

// truncate cuts s to at most n characters, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// oneLine folds s onto one line, for table cells.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// age is how long ago t was, in its largest whole unit: 45s, 12m, 5h, 3d.
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return "-"
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d/time.Second)))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// cpu formats a number of vCPUs, to two decimals at most: "0.5 vCPU",
// "1000 vCPU".
func cpu(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) + " vCPU"
}

// mem formats a number of MiB in the largest unit that keeps it at least 1,
// to one decimal at most: "256 MiB", "1.5 GiB", "9.5 TiB".
func mem(mib int64) string {
	v, unit := float64(mib), "MiB"
	for _, u := range []string{"GiB", "TiB", "PiB"} {
		if math.Abs(v) < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) + " " + unit
}

// clock returns the current time.
func (e *cliEnv) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// terminalWidth is the width of the terminal f is (COLUMNS, when set, says
// it), or 0 when f is not a terminal.
func terminalWidth(f *os.File, getenv func(string) string) int {
	if !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	if n, err := strconv.Atoi(getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	w, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}
