package dynamofake

import (
	"encoding/json"
	"fmt"
)

// itemInput is what the single-item operations share.
type itemInput struct {
	TableName                           string
	Item                                map[string]json.RawMessage
	Key                                 map[string]json.RawMessage
	ConditionExpression                 *string
	UpdateExpression                    *string
	ProjectionExpression                *string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]json.RawMessage
	ReturnValues                        string
	ReturnValuesOnConditionCheckFailure string
	ReturnConsumedCapacity              string
	ConsistentRead                      bool
}

// readExprs decodes a request's placeholders.
func readExprs(names map[string]string, raw map[string]json.RawMessage) (*exprs, error) {
	if names != nil && len(names) == 0 {
		return nil, validation("ExpressionAttributeNames must not be empty")
	}
	if raw != nil && len(raw) == 0 {
		return nil, validation("ExpressionAttributeValues must not be empty")
	}
	vals := map[string]value{}
	for k, r := range raw {
		v, err := decodeValue(r)
		if err != nil {
			return nil, err
		}
		vals[k] = v
	}
	return newExprs(names, vals), nil
}

// checkKey checks a Key parameter against the table's key schema.
func (t *table) checkKey(key item) *Error {
	if len(key) != len(t.key.attrs()) {
		return validation("The provided key element does not match the schema")
	}
	for _, a := range t.key.attrs() {
		v, ok := key[a]
		if !ok || v.t != t.attrs[a] {
			return validation("The provided key element does not match the schema")
		}
		if v.s == "" {
			return validation(fmt.Sprintf("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s", map[string]string{"S": "string", "B": "binary"}[v.t], a))
		}
	}
	return nil
}

// checkItem checks an item to be written: its keys, its index keys, its
// size.
func (t *table) checkItem(it item) *Error {
	for _, a := range t.key.attrs() {
		v, ok := it[a]
		if !ok {
			return validation("One or more parameter values were invalid: Missing the key " + a + " in the item")
		}
		if v.t != t.attrs[a] {
			return validation(fmt.Sprintf("One or more parameter values were invalid: Type mismatch for key %s expected: %s actual: %s", a, t.attrs[a], v.t))
		}
		if v.s == "" {
			return validation(fmt.Sprintf("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %s", map[string]string{"S": "string", "B": "binary"}[v.t], a))
		}
	}
	for _, ix := range t.indexes {
		for _, a := range ix.key.attrs() {
			if v, ok := it[a]; ok && v.t != t.attrs[a] {
				return validation(fmt.Sprintf("One or more parameter values were invalid: Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s", a, t.attrs[a], v.t, ix.name))
			}
			if v, ok := it[a]; ok && v.s == "" {
				return validation(fmt.Sprintf("One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: %s, IndexKey: %s", ix.name, a))
			}
		}
	}
	if it.size() > maxItemBytes {
		return validation("Item size has exceeded the maximum allowed size")
	}
	return nil
}

// condFailed is DynamoDB's error for a failed ConditionExpression.
func condFailed(old item, returnOld string) *Error {
	e := &Error{Status: 400, Code: "ConditionalCheckFailedException", Message: "The conditional request failed"}
	if returnOld == "ALL_OLD" && old != nil {
		e.Fields = map[string]any{"Item": old}
	}
	return e
}

// prepared is a single-item write, parsed and checked, ready to run
// against the item as it is.
type prepared struct {
	t      *table
	key    item
	cond   *cond
	acts   []action // UpdateItem's
	put    item     // PutItem's
	delete bool
	x      *exprs
	onFail string
}

// prepare parses a write of op ("Put", "Update", "Delete",
// "ConditionCheck") and checks all that does not need the item.
func (f *Fake) prepare(op string, in *itemInput) (*prepared, *Error) {
	t, err := f.activeTable(in.TableName)
	if err != nil {
		return nil, err
	}
	x, e := readExprs(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	if e != nil {
		return nil, asError(e)
	}
	p := &prepared{t: t, x: x, onFail: in.ReturnValuesOnConditionCheckFailure, delete: op == "Delete"}
	if op == "Put" {
		if p.put, e = decodeItem(in.Item); e != nil {
			return nil, asError(e)
		}
		if err := t.checkItem(p.put); err != nil {
			return nil, err
		}
		p.key = t.keyOf(p.put)
	} else {
		if p.key, e = decodeItem(in.Key); e != nil {
			return nil, asError(e)
		}
		if err := t.checkKey(p.key); err != nil {
			return nil, err
		}
	}
	if op == "Update" {
		if in.UpdateExpression == nil {
			return nil, validation("Invalid UpdateExpression: The expression can not be empty;")
		}
		if p.acts, e = parseUpdate(*in.UpdateExpression, x); e != nil {
			return nil, asError(e)
		}
		for _, a := range p.acts {
			if _, isKey := p.key[a.path[0].name]; isKey {
				return nil, validation(fmt.Sprintf("One or more parameter values were invalid: Cannot update attribute %s. This attribute is part of the key", a.path[0].name))
			}
		}
	}
	if in.ConditionExpression != nil {
		if p.cond, e = parseCondition("ConditionExpression", *in.ConditionExpression, x); e != nil {
			return nil, asError(e)
		}
	} else if op == "ConditionCheck" {
		return nil, validation("The ConditionExpression parameter is required for ConditionCheck")
	}
	if e := x.unused(); e != nil {
		return nil, asError(e)
	}
	return p, nil
}

// run computes the item after the write: old is the item as stored (nil
// for none); it returns the new item (nil for none) or the condition's
// failure.
func (p *prepared) run(old item) (item, *Error) {
	if p.cond != nil && !eval(old, p.cond) {
		return nil, condFailed(old, p.onFail)
	}
	switch {
	case p.put != nil:
		return p.put, nil
	case p.acts != nil:
		base := old
		if base == nil {
			base = p.key
		}
		next, err := apply(base, p.acts)
		if err != nil {
			return nil, asError(err)
		}
		if err := p.t.checkItem(next); err != nil {
			return nil, err
		}
		return next, nil
	case p.delete:
		return nil, nil
	}
	return old, nil // ConditionCheck
}

// store writes new (nil to delete) at key.
func (t *table) store(key, new item) {
	k := keyString(key, t.key)
	if new == nil {
		delete(t.items, k)
	} else {
		t.items[k] = new
	}
}

func (f *Fake) write(op string, r *request) (any, *Error) {
	var in itemInput
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	allowed := map[string][]string{"Put": {"NONE", "ALL_OLD"}, "Delete": {"NONE", "ALL_OLD"},
		"Update": {"NONE", "ALL_OLD", "ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"}}[op]
	if in.ReturnValues != "" && !contains(allowed, in.ReturnValues) {
		return nil, validation("ReturnValues can only be ALL_OLD or NONE")
	}
	p, err := f.prepare(op, &in)
	if err != nil {
		return nil, err
	}
	old := p.t.items[keyString(p.key, p.t.key)]
	next, err := p.run(old)
	if err != nil {
		if err.Code == "ConditionalCheckFailedException" {
			r.charge(p.t.writeUsage(old, nil, 1).tableOnly())
		}
		return nil, err
	}
	p.t.store(p.key, next)
	u := p.t.writeUsage(old, next, 1)
	r.charge(u)
	out := map[string]any{}
	if c := u.report(in.ReturnConsumedCapacity); c != nil {
		out["ConsumedCapacity"] = c
	}
	var ret item
	switch in.ReturnValues {
	case "ALL_OLD":
		ret = old
	case "ALL_NEW":
		ret = next
	case "UPDATED_OLD", "UPDATED_NEW":
		var paths []docPath
		for _, a := range p.acts {
			paths = append(paths, a.path)
		}
		src := old
		if in.ReturnValues == "UPDATED_NEW" {
			src = next
		}
		if src != nil {
			ret = project(src, paths)
		}
	}
	if len(ret) > 0 {
		out["Attributes"] = ret
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// tableOnly keeps the table's units: a failed condition writes no index.
func (u *usage) tableOnly() *usage {
	u.indexes = map[string]float64{}
	return u
}

func (f *Fake) putItem(r *request) (any, *Error)    { return f.write("Put", r) }
func (f *Fake) updateItem(r *request) (any, *Error) { return f.write("Update", r) }
func (f *Fake) deleteItem(r *request) (any, *Error) { return f.write("Delete", r) }

func (f *Fake) getItem(r *request) (any, *Error) {
	var in itemInput
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	t, err := f.activeTable(in.TableName)
	if err != nil {
		return nil, err
	}
	it, u, err := t.get(&in)
	if err != nil {
		return nil, err
	}
	r.charge(u)
	out := map[string]any{}
	if it != nil {
		out["Item"] = it
	}
	if c := u.report(in.ReturnConsumedCapacity); c != nil {
		out["ConsumedCapacity"] = c
	}
	return out, nil
}

// get reads one item, projected, and what reading it cost.
func (t *table) get(in *itemInput) (item, *usage, *Error) {
	x, e := readExprs(in.ExpressionAttributeNames, in.ExpressionAttributeValues)
	if e != nil {
		return nil, nil, asError(e)
	}
	key, e := decodeItem(in.Key)
	if e != nil {
		return nil, nil, asError(e)
	}
	if err := t.checkKey(key); err != nil {
		return nil, nil, err
	}
	var paths []docPath
	if in.ProjectionExpression != nil {
		if paths, e = parseProjection(*in.ProjectionExpression, x); e != nil {
			return nil, nil, asError(e)
		}
	}
	if e := x.unused(); e != nil {
		return nil, nil, asError(e)
	}
	it := t.items[keyString(key, t.key)]
	u := newUsage(t.name, false)
	u.units = readUnits(it.size(), in.ConsistentRead)
	if it == nil {
		return nil, u, nil
	}
	return project(it, paths), u, nil
}
