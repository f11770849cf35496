package dynamofake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
)

type queryInput struct {
	TableName                 string
	IndexName                 string
	KeyConditionExpression    *string
	FilterExpression          *string
	ProjectionExpression      *string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]json.RawMessage
	ScanIndexForward          *bool
	Limit                     *int
	ExclusiveStartKey         map[string]json.RawMessage
	Select                    string
	ConsistentRead            bool
	ReturnConsumedCapacity    string
	Segment                   *int
	TotalSegments             *int
}

// keyCond is a checked KeyConditionExpression.
type keyCond struct {
	hash value
	rng  *cond // on the sort key, nil for none
}

// readKeyCond checks that c is what DynamoDB takes as a key condition
// for key.
func readKeyCond(c *cond, key keySchema, attrs map[string]string) (keyCond, *Error) {
	var parts []*cond
	switch c.op {
	case "AND":
		parts = c.subs
	default:
		parts = []*cond{c}
	}
	var kc keyCond
	found := map[string]bool{}
	for _, p := range parts {
		switch p.op {
		case "=", "<", "<=", ">", ">=", "BETWEEN", "begins_with":
		default:
			return kc, validation("Invalid operator used in KeyConditionExpression: " + p.op)
		}
		if p.args[0].kind != "path" || len(p.args[0].path) != 1 || p.args[0].path[0].name == "" {
			return kc, validation("Query key condition not supported")
		}
		name := p.args[0].path[0].name
		for _, a := range p.args[1:] {
			if a.kind != "value" {
				return kc, validation("Query key condition not supported")
			}
			if a.val.t != attrs[name] && attrs[name] != "" {
				return kc, validation("One or more parameter values were invalid: Condition parameter type does not match schema type")
			}
		}
		switch {
		case name == key.hash && p.op == "=" && !found[name]:
			kc.hash = p.args[1].val
		case name == key.rng && key.rng != "" && !found[name]:
			if p.op == "begins_with" && attrs[name] == "N" {
				return kc, validation("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N")
			}
			kc.rng = p
		case name == key.hash:
			return kc, validation("Query key condition not supported")
		default:
			return kc, validation("Query condition missed key schema element: " + key.rng)
		}
		found[name] = true
	}
	if !found[key.hash] {
		return kc, validation("Query condition missed key schema element: " + key.hash)
	}
	return kc, nil
}

func (f *Fake) query(r *request) (any, *Error) { return f.read(r, true) }
func (f *Fake) scan(r *request) (any, *Error)  { return f.read(r, false) }

// read answers Query and Scan.
func (f *Fake) read(r *request, isQuery bool) (any, *Error) {
	var in queryInput
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	t, err := f.activeTable(in.TableName)
	if err != nil {
		return nil, err
	}
	var ix *index
	key := t.key
	if in.IndexName != "" {
		if ix = t.index(in.IndexName); ix == nil {
			return nil, validation("The table does not have the specified index: " + in.IndexName)
		}
		if ix.global && in.ConsistentRead {
			return nil, validation("Consistent reads are not supported on global secondary indexes")
		}
		key = ix.key
	}
	if in.Limit != nil && *in.Limit < 1 {
		return nil, validation(fmt.Sprintf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit))
	}
	x, e := readExprs(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	if e != nil {
		return nil, asError(e)
	}
	var kc keyCond
	if isQuery {
		if in.KeyConditionExpression == nil {
			return nil, validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
		}
		c, e := parseCondition("KeyConditionExpression", *in.KeyConditionExpression, x)
		if e != nil {
			return nil, asError(e)
		}
		if kc, err = readKeyCond(c, key, t.attrs); err != nil {
			return nil, err
		}
	}
	var filter *cond
	if in.FilterExpression != nil {
		if filter, e = parseCondition("FilterExpression", *in.FilterExpression, x); e != nil {
			return nil, asError(e)
		}
		if isQuery {
			if name := keyIn(filter, key); name != "" {
				return nil, validation("Filter Expression can only contain non-primary key attributes: Primary key attribute: " + name)
			}
		}
	}
	var paths []docPath
	if in.ProjectionExpression != nil {
		if paths, e = parseProjection(*in.ProjectionExpression, x); e != nil {
			return nil, asError(e)
		}
	}
	if e := x.unused(); e != nil {
		return nil, asError(e)
	}
	switch in.Select {
	case "", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "COUNT", "SPECIFIC_ATTRIBUTES":
	default:
		return nil, validation("1 validation error detected: Value '" + in.Select + "' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]")
	}
	if in.Select == "ALL_ATTRIBUTES" && ix != nil && ix.global && ix.projType != "ALL" {
		return nil, validation("One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index " + ix.name + " because its projection type is not ALL")
	}
	if (in.Segment == nil) != (in.TotalSegments == nil) || in.TotalSegments != nil && (*in.TotalSegments < 1 || *in.Segment >= *in.TotalSegments) {
		return nil, validation("The TotalSegments parameter is required but was not present in the request when Segment parameter is present")
	}

	rows := t.rows(ix)
	if isQuery {
		rows = slices.DeleteFunc(rows, func(it item) bool {
			hv, ok := it[key.hash]
			return !ok || !equal(hv, kc.hash) || kc.rng != nil && !eval(it, kc.rng)
		})
	}
	if in.TotalSegments != nil {
		rows = slices.DeleteFunc(rows, func(it item) bool {
			h := fnv.New32a()
			h.Write([]byte(keyString(it, key.hashOnly())))
			return int(h.Sum32()%uint32(*in.TotalSegments)) != *in.Segment
		})
	}
	order := t.order(ix, isQuery)
	sort.SliceStable(rows, func(i, j int) bool { return order(rows[i], rows[j]) < 0 })
	forward := in.ScanIndexForward == nil || *in.ScanIndexForward || !isQuery
	if !forward {
		slices.Reverse(rows)
	}
	if in.ExclusiveStartKey != nil {
		esk, e := decodeItem(in.ExclusiveStartKey)
		if e != nil {
			return nil, asError(e)
		}
		for _, a := range slices.Concat(t.key.attrs(), key.attrs()) {
			if _, ok := esk[a]; !ok {
				return nil, validation("The provided starting key is invalid: The provided key element does not match the schema")
			}
		}
		rows = slices.DeleteFunc(rows, func(it item) bool {
			n := order(it, esk)
			return forward && n <= 0 || !forward && n >= 0
		})
	}
	out := map[string]any{}
	var evaluated []item
	if in.Limit != nil && len(rows) >= *in.Limit {
		evaluated = rows[:*in.Limit]
		last := evaluated[len(evaluated)-1]
		lek := item{}
		for _, a := range slices.Concat(t.key.attrs(), key.attrs()) {
			lek[a] = last[a]
		}
		out["LastEvaluatedKey"] = lek
	} else {
		evaluated = rows
	}
	size := 0
	items := []item{}
	for _, it := range evaluated {
		size += it.size()
		if filter == nil || eval(it, filter) {
			items = append(items, project(it, paths))
		}
	}
	u := newUsage(t.name, false)
	units := readUnits(size, in.ConsistentRead)
	if ix != nil {
		u.indexes[ix.name], u.local[ix.name] = units, !ix.global
	} else {
		u.units = units
	}
	r.charge(u)
	out["Count"], out["ScannedCount"] = len(items), len(evaluated)
	if in.Select != "COUNT" {
		out["Items"] = items
	}
	if c := u.report(in.ReturnConsumedCapacity); c != nil {
		out["ConsumedCapacity"] = c
	}
	return out, nil
}

func (k keySchema) hashOnly() keySchema { return keySchema{hash: k.hash} }

// keyIn returns a key attribute c names at its top, "" for none.
func keyIn(c *cond, key keySchema) string {
	for _, s := range c.subs {
		if n := keyIn(s, key); n != "" {
			return n
		}
	}
	for _, a := range c.args {
		if a.kind == "path" && (a.path[0].name == key.hash || a.path[0].name == key.rng) {
			return a.path[0].name
		}
	}
	return ""
}

// rows returns what the table or the index holds.
func (t *table) rows(ix *index) []item {
	var rows []item
	for _, it := range t.items {
		if ix == nil {
			rows = append(rows, it)
		} else if p := t.projectIndex(ix, it); p != nil {
			rows = append(rows, p)
		}
	}
	return rows
}

// order compares two rows of the table or the index: in a query, by
// sort key then table key; in a scan, by partition key then the rest.
func (t *table) order(ix *index, isQuery bool) func(a, b item) int {
	key := t.key
	if ix != nil {
		key = ix.key
	}
	return func(a, b item) int {
		if !isQuery {
			if n := cmpStr(keyString(a, key.hashOnly()), keyString(b, key.hashOnly())); n != 0 {
				return n
			}
		}
		if key.rng != "" {
			if n := compare(a[key.rng], b[key.rng]); n != 0 {
				return n
			}
		}
		return cmpStr(keyString(a, t.key), keyString(b, t.key))
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
