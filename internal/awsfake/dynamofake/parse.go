package dynamofake

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// pathElem is one step of a document path: a map key or a list index.
type pathElem struct {
	name  string
	index int // when name is ""
}

type docPath []pathElem

func (p docPath) String() string {
	var b strings.Builder
	for i, e := range p {
		switch {
		case e.name == "":
			fmt.Fprintf(&b, "[%d]", e.index)
		case i > 0:
			b.WriteString(", " + e.name)
		default:
			b.WriteString(e.name)
		}
	}
	return "[" + b.String() + "]"
}

// operand is a value in an expression: a path, a placeholder's value, or
// a function or arithmetic over operands.
type operand struct {
	kind string // "path", "value", "size", "if_not_exists", "list_append", "+", "-"
	path docPath
	val  value
	args []*operand
}

// cond is a condition: a comparison, a function, or logic over conditions.
type cond struct {
	op   string // "AND", "OR", "NOT", "=", "<>", "<", "<=", ">", ">=", "BETWEEN", "IN", or a function name
	subs []*cond
	args []*operand
}

// exprs holds a request's ExpressionAttributeNames and Values and which
// of them its expressions used.
type exprs struct {
	names     map[string]string
	values    map[string]value
	usedNames map[string]bool
	usedVals  map[string]bool
}

func newExprs(names map[string]string, vals map[string]value) *exprs {
	return &exprs{names: names, values: vals, usedNames: map[string]bool{}, usedVals: map[string]bool{}}
}

// unused is DynamoDB's error for names or values no expression used.
func (x *exprs) unused() error {
	var names, vals []string
	for k := range x.names {
		if !x.usedNames[k] {
			names = append(names, k)
		}
	}
	for k := range x.values {
		if !x.usedVals[k] {
			vals = append(vals, k)
		}
	}
	sort.Strings(names)
	sort.Strings(vals)
	if len(names) > 0 {
		return validation("Value provided in ExpressionAttributeNames unused in expressions: keys: {" + strings.Join(names, ", ") + "}")
	}
	if len(vals) > 0 {
		return validation("Value provided in ExpressionAttributeValues unused in expressions: keys: {" + strings.Join(vals, ", ") + "}")
	}
	return nil
}

// parser reads one expression.
type parser struct {
	kind string // "ConditionExpression", for messages
	src  string
	toks []token
	i    int
	x    *exprs
}

func newParser(kind, src string, x *exprs) (*parser, error) {
	if strings.TrimSpace(src) == "" {
		return nil, validation(fmt.Sprintf("Invalid %s: The expression can not be empty;", kind))
	}
	toks, err := lex(kind, src)
	if err != nil {
		return nil, err
	}
	return &parser{kind: kind, src: src, toks: toks, x: x}, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i = min(p.i+1, len(p.toks)-1); return t }

func (p *parser) syntax() error {
	return syntaxAt(p.kind, p.src, p.toks[:p.i], p.peek())
}

func (p *parser) isKeyword(word string) bool {
	t := p.peek()
	return t.kind == "name" && strings.EqualFold(t.text, word)
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == "op" && t.text == op
}

func (p *parser) expectOp(op string) error {
	if !p.isOp(op) {
		return p.syntax()
	}
	p.next()
	return nil
}

func (p *parser) end() error {
	if p.peek().kind != "eof" {
		return p.syntax()
	}
	return nil
}

// parseCondition parses a whole condition expression.
func parseCondition(kind, src string, x *exprs) (*cond, error) {
	p, err := newParser(kind, src, x)
	if err != nil {
		return nil, err
	}
	c, err := p.or()
	if err != nil {
		return nil, err
	}
	return c, p.end()
}

func (p *parser) or() (*cond, error) {
	c, err := p.and()
	for err == nil && p.isKeyword("OR") {
		p.next()
		var r *cond
		if r, err = p.and(); err == nil {
			c = &cond{op: "OR", subs: []*cond{c, r}}
		}
	}
	return c, err
}

func (p *parser) and() (*cond, error) {
	c, err := p.not()
	for err == nil && p.isKeyword("AND") {
		p.next()
		var r *cond
		if r, err = p.not(); err == nil {
			c = &cond{op: "AND", subs: []*cond{c, r}}
		}
	}
	return c, err
}

func (p *parser) not() (*cond, error) {
	if p.isKeyword("NOT") {
		p.next()
		c, err := p.not()
		if err != nil {
			return nil, err
		}
		return &cond{op: "NOT", subs: []*cond{c}}, nil
	}
	return p.primary()
}

// condFuncs are the functions that are conditions, with their arity.
var condFuncs = map[string]int{
	"attribute_exists": 1, "attribute_not_exists": 1, "attribute_type": 2,
	"begins_with": 2, "contains": 2,
}

func (p *parser) primary() (*cond, error) {
	if p.isOp("(") {
		p.next()
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		return c, p.expectOp(")")
	}
	t := p.peek()
	if n, ok := condFuncs[t.text]; ok && t.kind == "name" && p.toks[p.i+1].text == "(" {
		p.next()
		args, err := p.args()
		if err != nil {
			return nil, err
		}
		if len(args) != n {
			return nil, validation(fmt.Sprintf("Invalid %s: Incorrect number of operands for operator or function; operator or function: %s, number of operands: %d", p.kind, t.text, len(args)))
		}
		if args[0].kind != "path" {
			return nil, validation(fmt.Sprintf("Invalid %s: Operator or function requires a document path; operator or function: %s", p.kind, t.text))
		}
		c := &cond{op: t.text, args: args}
		return c, p.checkFunc(c)
	}
	a, err := p.operand()
	if err != nil {
		return nil, err
	}
	t = p.peek()
	switch {
	case t.kind == "op" && slices.Contains([]string{"=", "<>", "<", "<=", ">", ">="}, t.text):
		p.next()
		b, err := p.operand()
		if err != nil {
			return nil, err
		}
		c := &cond{op: t.text, args: []*operand{a, b}}
		return c, p.checkCompare(c)
	case p.isKeyword("BETWEEN"):
		p.next()
		lo, err := p.operand()
		if err != nil {
			return nil, err
		}
		if !p.isKeyword("AND") {
			return nil, p.syntax()
		}
		p.next()
		hi, err := p.operand()
		if err != nil {
			return nil, err
		}
		c := &cond{op: "BETWEEN", args: []*operand{a, lo, hi}}
		return c, p.checkBetween(c)
	case p.isKeyword("IN"):
		p.next()
		args, err := p.args()
		if err != nil {
			return nil, err
		}
		return &cond{op: "IN", args: append([]*operand{a}, args...)}, nil
	}
	return nil, p.syntax()
}

// args reads a parenthesized list of operands.
func (p *parser) args() ([]*operand, error) {
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var args []*operand
	for {
		a, err := p.operand()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if p.isOp(",") {
			p.next()
			continue
		}
		return args, p.expectOp(")")
	}
}

// operand reads a path, a placeholder or size(path).
func (p *parser) operand() (*operand, error) {
	t := p.peek()
	switch {
	case t.kind == ":":
		return p.value()
	case t.kind == "name" && t.text == "size" && p.toks[p.i+1].text == "(":
		p.next()
		args, err := p.args()
		if err != nil {
			return nil, err
		}
		if len(args) != 1 {
			return nil, validation(fmt.Sprintf("Invalid %s: Incorrect number of operands for operator or function; operator or function: size, number of operands: %d", p.kind, len(args)))
		}
		if args[0].kind != "path" {
			return nil, validation(fmt.Sprintf("Invalid %s: Incorrect operand type for operator or function; operator or function: size, operand type: %s", p.kind, args[0].val.t))
		}
		return &operand{kind: "size", args: args}, nil
	case t.kind == "name" && p.toks[p.i+1].text == "(":
		return nil, validation(fmt.Sprintf("Invalid %s: Invalid function name; function: %s", p.kind, t.text))
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	return &operand{kind: "path", path: path}, nil
}

func (p *parser) value() (*operand, error) {
	t := p.next()
	v, ok := p.x.values[t.text]
	if !ok {
		return nil, validation(fmt.Sprintf("Invalid %s: An expression attribute value used in expression is not defined; attribute value: %s", p.kind, t.text))
	}
	p.x.usedVals[t.text] = true
	return &operand{kind: "value", val: v}, nil
}

// path reads a document path: a.b[1].#c.
func (p *parser) path() (docPath, error) {
	var path docPath
	name, err := p.pathName()
	if err != nil {
		return nil, err
	}
	path = append(path, pathElem{name: name})
	for {
		switch {
		case p.isOp("."):
			p.next()
			name, err := p.pathName()
			if err != nil {
				return nil, err
			}
			path = append(path, pathElem{name: name})
		case p.isOp("["):
			p.next()
			t := p.peek()
			if t.kind != "num" {
				return nil, p.syntax()
			}
			p.next()
			n, err := strconv.Atoi(t.text)
			if err != nil {
				return nil, validation(fmt.Sprintf("Invalid %s: List index is not within the allowable range; index: %s", p.kind, t.text))
			}
			path = append(path, pathElem{index: n})
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
		default:
			return path, nil
		}
	}
}

func (p *parser) pathName() (string, error) {
	t := p.peek()
	switch t.kind {
	case "#":
		p.next()
		n, ok := p.x.names[t.text]
		if !ok {
			return "", validation(fmt.Sprintf("Invalid %s: An expression attribute name used in the document path is not defined; attribute name: %s", p.kind, t.text))
		}
		p.x.usedNames[t.text] = true
		return n, nil
	case "name":
		if t.text[0] >= '0' && t.text[0] <= '9' {
			return "", p.syntax()
		}
		if reserved[strings.ToUpper(t.text)] {
			return "", validation(fmt.Sprintf("Invalid %s: Attribute name is a reserved keyword; reserved keyword: %s", p.kind, t.text))
		}
		p.next()
		return t.text, nil
	}
	return "", p.syntax()
}

// typeName is how DynamoDB names a type in operand errors.
func typeName(v value) string { return v.t }

func (p *parser) operandError(op string, v value) error {
	return validation(fmt.Sprintf("Invalid %s: Incorrect operand type for operator or function; operator or function: %s, operand type: %s", p.kind, op, typeName(v)))
}

var validTypes = []string{"S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"}

// checkFunc refuses what DynamoDB refuses before reading the item.
func (p *parser) checkFunc(c *cond) error {
	switch c.op {
	case "attribute_type":
		a := c.args[1]
		if a.kind == "value" && (a.val.t != "S" || !slices.Contains(validTypes, a.val.s)) {
			if a.val.t != "S" {
				return p.operandError("attribute_type", a.val)
			}
			return validation(fmt.Sprintf("Invalid %s: Invalid attribute type name found; type: %s, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}", p.kind, a.val.s))
		}
	case "begins_with":
		for _, a := range c.args {
			if a.kind == "value" && a.val.t != "S" && a.val.t != "B" {
				return p.operandError("begins_with", a.val)
			}
		}
	}
	return nil
}

func (p *parser) checkCompare(c *cond) error {
	if c.op == "=" || c.op == "<>" {
		return nil
	}
	for _, a := range c.args {
		if a.kind == "value" && a.val.t != "S" && a.val.t != "N" && a.val.t != "B" {
			return p.operandError(c.op, a.val)
		}
	}
	return nil
}

func (p *parser) checkBetween(c *cond) error {
	for _, a := range c.args {
		if a.kind == "value" && a.val.t != "S" && a.val.t != "N" && a.val.t != "B" {
			return p.operandError("BETWEEN", a.val)
		}
	}
	lo, hi := c.args[1], c.args[2]
	if lo.kind == "value" && hi.kind == "value" && lo.val.t == hi.val.t && compare(lo.val, hi.val) > 0 {
		return validation(fmt.Sprintf("Invalid %s: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {%s:%s}, upper bound operand: AttributeValue: {%s:%s}",
			p.kind, lo.val.t, lo.val.s, hi.val.t, hi.val.s))
	}
	return nil
}

// parseProjection parses a ProjectionExpression: paths separated by commas.
func parseProjection(src string, x *exprs) ([]docPath, error) {
	p, err := newParser("ProjectionExpression", src, x)
	if err != nil {
		return nil, err
	}
	var paths []docPath
	for {
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		paths = append(paths, path)
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return paths, checkOverlap("ProjectionExpression", paths)
}

// checkOverlap refuses two paths of which one is, or is inside, the other.
func checkOverlap(kind string, paths []docPath) error {
	for i, a := range paths {
		for _, b := range paths[:i] {
			n := min(len(a), len(b))
			if slices.Equal(a[:n], b[:n]) {
				what := "Two document paths overlap with each other; must remove or rewrite one of these paths"
				if len(a) == len(b) {
					what = "Two document paths conflict with each other; must remove or rewrite one of these paths"
				}
				return validation(fmt.Sprintf("Invalid %s: %s; path one: %s, path two: %s", kind, what, b, a))
			}
		}
	}
	return nil
}
