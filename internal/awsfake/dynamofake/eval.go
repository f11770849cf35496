package dynamofake

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// resolve finds the value at path in it.
func resolve(it item, path docPath) (value, bool) {
	cur := value{t: "M", m: it}
	for _, e := range path {
		switch {
		case e.name != "" && cur.t == "M":
			v, ok := cur.m[e.name]
			if !ok {
				return value{}, false
			}
			cur = v
		case e.name == "" && cur.t == "L" && e.index < len(cur.l):
			cur = cur.l[e.index]
		default:
			return value{}, false
		}
	}
	return cur, true
}

// operandValue computes an operand of a condition against it.
func operandValue(it item, o *operand) (value, bool) {
	switch o.kind {
	case "value":
		return o.val, true
	case "path":
		return resolve(it, o.path)
	case "size":
		v, ok := resolve(it, o.args[0].path)
		if !ok {
			return value{}, false
		}
		var n int
		switch v.t {
		case "S":
			n = utf8.RuneCountInString(v.s)
		case "B":
			n = len(v.s)
		case "M":
			n = len(v.m)
		case "L":
			n = len(v.l)
		case "SS", "NS", "BS":
			n = len(v.set)
		default:
			return value{}, false
		}
		s, _ := canonicalNumber(strconv.Itoa(n))
		return value{t: "N", s: s}, true
	}
	return value{}, false
}

// scalar tells whether v can be ordered.
func scalar(v value) bool { return v.t == "S" || v.t == "N" || v.t == "B" }

// eval tells whether it (nil for no item) meets c.
func eval(it item, c *cond) bool {
	switch c.op {
	case "AND":
		return eval(it, c.subs[0]) && eval(it, c.subs[1])
	case "OR":
		return eval(it, c.subs[0]) || eval(it, c.subs[1])
	case "NOT":
		return !eval(it, c.subs[0])
	case "attribute_exists", "attribute_not_exists":
		_, ok := resolve(it, c.args[0].path)
		return ok == (c.op == "attribute_exists")
	}
	vals := make([]value, len(c.args))
	for i, a := range c.args {
		v, ok := operandValue(it, a)
		if !ok {
			// A missing attribute differs from every value.
			return c.op == "<>"
		}
		vals[i] = v
	}
	a := vals[0]
	switch c.op {
	case "=":
		return equal(a, vals[1])
	case "<>":
		return !equal(a, vals[1])
	case "<", "<=", ">", ">=":
		b := vals[1]
		if !scalar(a) || a.t != b.t {
			return false
		}
		n := compare(a, b)
		return c.op == "<" && n < 0 || c.op == "<=" && n <= 0 || c.op == ">" && n > 0 || c.op == ">=" && n >= 0
	case "BETWEEN":
		lo, hi := vals[1], vals[2]
		if !scalar(a) || a.t != lo.t || a.t != hi.t {
			return false
		}
		return compare(a, lo) >= 0 && compare(a, hi) <= 0
	case "IN":
		return slices.ContainsFunc(vals[1:], func(v value) bool { return equal(a, v) })
	case "attribute_type":
		return vals[1].t == "S" && a.t == vals[1].s
	case "begins_with":
		b := vals[1]
		return (a.t == "S" || a.t == "B") && a.t == b.t && strings.HasPrefix(a.s, b.s)
	case "contains":
		b := vals[1]
		switch a.t {
		case "S", "B":
			return a.t == b.t && bytes.Contains([]byte(a.s), []byte(b.s))
		case "SS", "NS", "BS":
			return a.t == b.t+"S" && setHas(a.t, a.set, b.s)
		case "L":
			return slices.ContainsFunc(a.l, func(v value) bool { return equal(v, b) })
		}
	}
	return false
}

// project keeps of it only what paths name.
func project(it item, paths []docPath) item {
	if paths == nil {
		return it
	}
	out := value{t: "M", m: item{}}
	for _, p := range paths {
		if v, ok := resolve(it, p); ok {
			out = projectIn(out, p, v, value{t: "M", m: it})
		}
	}
	return out.m
}

// projectIn copies v into out at path, making the maps and lists on the
// way as src has them.
func projectIn(out value, path docPath, v, src value) value {
	e := path[0]
	if e.name != "" {
		child := src.m[e.name]
		if len(path) == 1 {
			out.m[e.name] = v.clone()
			return out
		}
		next, ok := out.m[e.name]
		if !ok {
			next = value{t: child.t}
			if child.t == "M" {
				next.m = map[string]value{}
			}
		}
		out.m[e.name] = projectIn(next, path[1:], v, child)
		return out
	}
	// List elements projected keep their order, not their indexes.
	child := src.l[e.index]
	if len(path) == 1 {
		out.l = append(out.l, v.clone())
		return out
	}
	next := value{t: child.t}
	if child.t == "M" {
		next.m = map[string]value{}
	}
	out.l = append(out.l, projectIn(next, path[1:], v, child))
	return out
}
