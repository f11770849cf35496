package dynamofake

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// action is one action of an update expression.
type action struct {
	verb string // "SET", "REMOVE", "ADD", "DELETE"
	path docPath
	val  *operand // nil for REMOVE
}

// parseUpdate parses an UpdateExpression.
func parseUpdate(src string, x *exprs) ([]action, error) {
	p, err := newParser("UpdateExpression", src, x)
	if err != nil {
		return nil, err
	}
	var acts []action
	seen := map[string]bool{}
	for p.peek().kind != "eof" {
		t := p.peek()
		verb := strings.ToUpper(t.text)
		if t.kind != "name" || !slices.Contains([]string{"SET", "REMOVE", "ADD", "DELETE"}, verb) {
			return nil, p.syntax()
		}
		if seen[verb] {
			return nil, validation(fmt.Sprintf("Invalid UpdateExpression: The %q section can only be used once in an update expression;", verb))
		}
		seen[verb] = true
		p.next()
		for {
			a, err := p.updateAction(verb)
			if err != nil {
				return nil, err
			}
			acts = append(acts, a)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
	}
	var paths []docPath
	for _, a := range acts {
		paths = append(paths, a.path)
	}
	return acts, checkOverlap("UpdateExpression", paths)
}

func (p *parser) updateAction(verb string) (action, error) {
	path, err := p.path()
	if err != nil {
		return action{}, err
	}
	a := action{verb: verb, path: path}
	switch verb {
	case "SET":
		if err := p.expectOp("="); err != nil {
			return action{}, err
		}
		a.val, err = p.setValue()
	case "ADD", "DELETE":
		if p.peek().kind != ":" {
			return action{}, p.syntax()
		}
		a.val, err = p.value()
		if err == nil {
			ok := slices.Contains([]string{"SS", "NS", "BS"}, a.val.val.t) || verb == "ADD" && a.val.val.t == "N"
			if !ok {
				err = validation(fmt.Sprintf("Invalid UpdateExpression: Incorrect operand type for operator or function; operator: %s, operand type: %s", verb, longType(a.val.val.t)))
			}
		}
	}
	return a, err
}

// longType is how DynamoDB names a type in ADD and DELETE errors.
func longType(t string) string {
	return map[string]string{"S": "STRING", "N": "NUMBER", "B": "BINARY", "BOOL": "BOOLEAN", "NULL": "NULL",
		"M": "MAP", "L": "LIST", "SS": "STRING SET", "NS": "NUMBER SET", "BS": "BINARY SET"}[t]
}

// setValue reads the right-hand side of SET: an operand, or two joined by
// + or -.
func (p *parser) setValue() (*operand, error) {
	a, err := p.setOperand()
	if err != nil {
		return nil, err
	}
	if p.isOp("+") || p.isOp("-") {
		op := p.next().text
		b, err := p.setOperand()
		if err != nil {
			return nil, err
		}
		for _, o := range []*operand{a, b} {
			if o.kind == "value" && o.val.t != "N" {
				return nil, p.operandError(op, o.val)
			}
		}
		return &operand{kind: op, args: []*operand{a, b}}, nil
	}
	return a, nil
}

func (p *parser) setOperand() (*operand, error) {
	t := p.peek()
	if t.kind == "name" && p.toks[p.i+1].text == "(" {
		if t.text != "if_not_exists" && t.text != "list_append" {
			return nil, validation(fmt.Sprintf("Invalid UpdateExpression: Invalid function name; function: %s", t.text))
		}
		p.next()
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var args []*operand
		for {
			a, err := p.setValue()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if !p.isOp(",") {
				break
			}
			p.next()
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		if len(args) != 2 {
			return nil, validation(fmt.Sprintf("Invalid UpdateExpression: Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", t.text, len(args)))
		}
		if t.text == "if_not_exists" && args[0].kind != "path" {
			return nil, validation("Invalid UpdateExpression: Operator or function requires a document path; operator or function: if_not_exists")
		}
		for _, a := range args {
			if t.text == "list_append" && a.kind == "value" && a.val.t != "L" {
				return nil, p.operandError("list_append", a.val)
			}
		}
		return &operand{kind: t.text, args: args}, nil
	}
	if t.kind == ":" {
		return p.value()
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	return &operand{kind: "path", path: path}, nil
}

// errOperandType is DynamoDB's error when an item's value does not suit
// an update.
var errOperandType = validation("An operand in the update expression has an incorrect data type")

// apply runs the actions on a copy of old and returns it.
func apply(old item, acts []action) (item, error) {
	// Every value is computed from the item as it was, as DynamoDB does.
	vals := make([]value, len(acts))
	for i, a := range acts {
		if a.verb != "SET" {
			continue
		}
		v, ok, err := evalSet(old, a.val)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, validation("The provided expression refers to an attribute that does not exist in the item")
		}
		vals[i] = v
	}
	it := old.clone()
	if it == nil {
		it = item{}
	}
	root := value{t: "M", m: it}
	for i, a := range acts {
		var err error
		switch a.verb {
		case "SET":
			err = setPath(&root, a.path, vals[i])
		case "REMOVE":
			removePath(&root, a.path)
		case "ADD", "DELETE":
			err = addDelete(&root, a)
		}
		if err != nil {
			return nil, err
		}
	}
	return root.m, nil
}

// evalSet computes the right-hand side of SET.
func evalSet(it item, o *operand) (value, bool, error) {
	switch o.kind {
	case "value":
		return o.val, true, nil
	case "path":
		v, ok := resolve(it, o.path)
		return v, ok, nil
	case "if_not_exists":
		if v, ok := resolve(it, o.args[0].path); ok {
			return v, true, nil
		}
		return evalSet(it, o.args[1])
	case "list_append":
		var out []value
		for _, a := range o.args {
			v, ok, err := evalSet(it, a)
			if err != nil || !ok {
				return value{}, ok, err
			}
			if v.t != "L" {
				return value{}, false, errOperandType
			}
			out = append(out, v.l...)
		}
		return value{t: "L", l: out}, true, nil
	default: // + and -
		a, ok, err := evalSet(it, o.args[0])
		if err != nil || !ok {
			return value{}, ok, err
		}
		b, ok, err := evalSet(it, o.args[1])
		if err != nil || !ok {
			return value{}, ok, err
		}
		if a.t != "N" || b.t != "N" {
			return value{}, false, errOperandType
		}
		r := new(big.Rat)
		if o.kind == "+" {
			r.Add(num(a.s), num(b.s))
		} else {
			r.Sub(num(a.s), num(b.s))
		}
		s, err := formatNumber(r)
		return value{t: "N", s: s}, true, err
	}
}

var errBadPath = validation("The document path provided in the update expression is invalid for update")

// setPath writes v at path inside root, a map whose items were cloned.
func setPath(root *value, path docPath, v value) error {
	out, err := setIn(*root, path, v)
	if err == nil {
		*root = out
	}
	return err
}

func setIn(cur value, path docPath, v value) (value, error) {
	e := path[0]
	switch {
	case e.name != "" && cur.t == "M":
		if cur.m == nil {
			cur.m = map[string]value{}
		}
		if len(path) == 1 {
			cur.m[e.name] = v
			return cur, nil
		}
		child, ok := cur.m[e.name]
		if !ok {
			return cur, errBadPath
		}
		child, err := setIn(child, path[1:], v)
		cur.m[e.name] = child
		return cur, err
	case e.name == "" && cur.t == "L":
		if len(path) == 1 {
			if e.index >= len(cur.l) {
				cur.l = append(cur.l, v)
			} else {
				cur.l[e.index] = v
			}
			return cur, nil
		}
		if e.index >= len(cur.l) {
			return cur, errBadPath
		}
		child, err := setIn(cur.l[e.index], path[1:], v)
		cur.l[e.index] = child
		return cur, err
	}
	return cur, errBadPath
}

// removePath removes what path names inside root, if it is there.
func removePath(root *value, path docPath) {
	*root = removeIn(*root, path)
}

func removeIn(cur value, path docPath) value {
	e := path[0]
	switch {
	case e.name != "" && cur.t == "M":
		child, ok := cur.m[e.name]
		if !ok {
			return cur
		}
		if len(path) == 1 {
			delete(cur.m, e.name)
		} else {
			cur.m[e.name] = removeIn(child, path[1:])
		}
	case e.name == "" && cur.t == "L" && e.index < len(cur.l):
		if len(path) == 1 {
			cur.l = slices.Delete(cur.l, e.index, e.index+1)
		} else {
			cur.l[e.index] = removeIn(cur.l[e.index], path[1:])
		}
	}
	return cur
}

func addDelete(root *value, a action) error {
	v := a.val.val
	cur, exists := resolve(root.m, a.path)
	if !exists {
		if a.verb == "DELETE" {
			return nil
		}
		return setPath(root, a.path, v)
	}
	if a.verb == "ADD" && v.t == "N" {
		if cur.t != "N" {
			return errOperandType
		}
		s, err := formatNumber(new(big.Rat).Add(num(cur.s), num(v.s)))
		if err != nil {
			return err
		}
		return setPath(root, a.path, value{t: "N", s: s})
	}
	if cur.t != v.t {
		return errOperandType
	}
	out := value{t: v.t}
	if a.verb == "ADD" {
		out.set = slices.Clone(cur.set)
		for _, e := range v.set {
			if !setHas(v.t, out.set, e) {
				out.set = append(out.set, e)
			}
		}
	} else {
		for _, e := range cur.set {
			if !setHas(v.t, v.set, e) {
				out.set = append(out.set, e)
			}
		}
		if len(out.set) == 0 {
			removePath(root, a.path)
			return nil
		}
	}
	return setPath(root, a.path, out)
}
