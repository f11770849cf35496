package ec2fake

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// params reads the parameters of a request, or of one member of a list in
// it: the member LaunchTemplateConfigs.1 has base "LaunchTemplateConfigs.1.".
// EC2 numbers list members from 1: InstanceId.1, InstanceId.2, and
// Filter.1.Name, Filter.1.Value.1 for lists of structures.
type params struct {
	form url.Values
	base string
}

// get returns the value of name, "" if absent.
func (p params) get(name string) string { return p.form.Get(p.base + name) }

// indices returns the numbers N of the members name.N, in order.
func (p params) indices(name string) []int {
	prefix := p.base + name + "."
	seen := map[int]bool{}
	for k := range p.form {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		if n, err := strconv.Atoi(num); err == nil && n > 0 {
			seen[n] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// members returns the members of the list of structures name.
func (p params) members(name string) []params {
	var out []params
	for _, n := range p.indices(name) {
		out = append(out, params{p.form, fmt.Sprintf("%s%s.%d.", p.base, name, n)})
	}
	return out
}

// strings returns the values of the list name.N, in order.
func (p params) strings(name string) []string {
	var out []string
	for _, n := range p.indices(name) {
		if v := p.get(fmt.Sprintf("%s.%d", name, n)); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// int returns the integer name, and whether it is present.
func (p params) int(name string) (int, bool, error) {
	s := p.get(name)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, invalidValue(name, s)
	}
	return n, true, nil
}

// float returns the number name, and whether it is present.
func (p params) float(name string) (float64, bool, error) {
	s := p.get(name)
	if s == "" {
		return 0, false, nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, invalidValue(p.base+name, s)
	}
	return x, true, nil
}

// filter is one Filter.N of a Describe action.
type filter struct {
	name   string
	values []string
}

// filters returns the request's Filter.N; known says which names the
// action takes ("tag:KEY" is passed whole).
func (p params) filters(known func(name string) bool) ([]filter, error) {
	var out []filter
	for _, m := range p.members("Filter") {
		f := filter{name: m.get("Name"), values: m.strings("Value")}
		switch {
		case f.name == "":
			return nil, missing("Filter.Name")
		case !known(f.name):
			return nil, badRequest("InvalidParameterValue", "The filter '%s' is invalid", f.name)
		case len(f.values) == 0:
			return nil, badRequest("InvalidParameterValue", "The filter '%s' requires at least one value", f.name)
		}
		out = append(out, f)
	}
	return out, nil
}

// match reports whether s matches one of the filter's values, which may
// use the wildcards * and ?, as EC2's do.
func (f filter) match(s string) bool {
	for _, v := range f.values {
		if glob(v, s) {
			return true
		}
	}
	return false
}

// glob reports whether s matches pattern, where * matches any run of
// characters and ? any one.
func glob(pattern, s string) bool {
	star, resume := -1, 0
	i, j := 0, 0
	for j < len(s) {
		switch {
		case i < len(pattern) && (pattern[i] == '?' || pattern[i] == s[j]):
			i++
			j++
		case i < len(pattern) && pattern[i] == '*':
			star, resume = i, j
			i++
		case star >= 0:
			resume++
			i, j = star+1, resume
		default:
			return false
		}
	}
	for i < len(pattern) && pattern[i] == '*' {
		i++
	}
	return i == len(pattern)
}

// page is what a request asks of a paginated list.
type page struct {
	size  int    // 0: all
	after string // the key to start at; "": the first
}

// page reads MaxResults, which must lie in [lo, hi] (def when absent),
// and NextToken.
func (p params) page(lo, hi, def int) (page, error) {
	n, ok, err := p.int("MaxResults")
	if err != nil {
		return page{}, err
	}
	if !ok {
		n = def
	} else if n < lo || n > hi {
		return page{}, badRequest("InvalidParameterValue",
			"Value ( %d ) for parameter maxResults is invalid. Expecting a value between %d and %d.", n, lo, hi)
	}
	pg := page{size: n}
	if tok := p.get("NextToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		key, ok := strings.CutPrefix(string(raw), "ec2fake:")
		if err != nil || !ok || key == "" {
			return page{}, badRequest("InvalidPaginationToken", "The pagination token '%s' is invalid or expired.", tok)
		}
		pg.after = key
	}
	return pg, nil
}

// paginate returns the items of the page, from items sorted by key, and
// the token of the next page ("" when this one is the last).
func paginate[T any](items []T, key func(T) string, pg page) ([]T, string) {
	if pg.after != "" {
		i, _ := slices.BinarySearchFunc(items, pg.after, func(it T, k string) int { return cmp.Compare(key(it), k) })
		items = items[i:]
	}
	if pg.size <= 0 || len(items) <= pg.size {
		return items, ""
	}
	return items[:pg.size], base64.RawURLEncoding.EncodeToString([]byte("ec2fake:" + key(items[pg.size])))
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
