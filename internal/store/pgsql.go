package store

import (
	"regexp"
	"strconv"
	"strings"
)

// The store's SQL is written once, for SQLite, in the subset both engines
// share; pgSQL turns the few SQLite spellings left into PostgreSQL's on the
// way to the server (the PostgreSQL connections do it for every statement):
//
//   - ? placeholders become $1, $2, ...;
//   - INDEXED BY hints (SQLite's planner has no statistics) are dropped;
//   - json_extract(col, '$.a.b') becomes (col::jsonb #>> '{a,b}'), which
//     answers the same: a string unquoted, an object as JSON text.
//
// Everything else is portable as written: TRUE and FALSE for booleans,
// INSERT ... ON CONFLICT, RETURNING, CASE in place of scalar min and max.
func pgSQL(q string) string {
	q = indexedBy.ReplaceAllString(q, "")
	q = jsonExtract.ReplaceAllStringFunc(q, func(m string) string {
		g := jsonExtract.FindStringSubmatch(m)
		return "(" + g[1] + "::jsonb #>> '{" + strings.ReplaceAll(g[2], ".", ",") + "}')"
	})
	return rebind(q)
}

var (
	indexedBy   = regexp.MustCompile(`\s+INDEXED BY\s+\w+`)
	jsonExtract = regexp.MustCompile(`json_extract\(([\w.]+),\s*'\$\.([\w.]+)'\)`)
)

// rebind numbers the ? placeholders of q outside string literals, quoted
// names and comments.
func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				j++
			}
			b.WriteString(q[i:min(j+1, len(q))])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j - 1
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
