package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
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

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

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

// cpu formats a number of vCPUs: 0.5, 2.
func cpu(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// mem formats a number of MB the way docker writes sizes: 256M, 16G, 1.5G.
func mem(mb int64) string {
	switch {
	case mb < 1024:
		return fmt.Sprintf("%dM", mb)
	case mb%1024 == 0:
		return fmt.Sprintf("%dG", mb/1024)
	default:
		return strconv.FormatFloat(float64(mb)/1024, 'f', 1, 64) + "G"
	}
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
