package dynamofake

import (
	"encoding/json"
	"sort"
)

type batchGetTable struct {
	Keys                     []map[string]json.RawMessage
	ProjectionExpression     *string
	ExpressionAttributeNames map[string]string
	ConsistentRead           bool
}

func sortedTables[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (f *Fake) batchGetItem(r *request) (any, *Error) {
	var in struct {
		RequestItems           map[string]batchGetTable
		ReturnConsumedCapacity string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	n := 0
	for _, bt := range in.RequestItems {
		n += len(bt.Keys)
	}
	if n > 100 {
		return nil, validation("Too many items requested for the BatchGetItem call")
	}
	if n == 0 {
		return nil, validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	responses := map[string][]item{}
	unprocessed := map[string]any{}
	var consumed []map[string]any
	for _, name := range sortedTables(in.RequestItems) {
		bt := in.RequestItems[name]
		t, err := f.activeTable(name)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		u := newUsage(name, false)
		var left []map[string]json.RawMessage
		responses[name] = []item{}
		for _, k := range bt.Keys {
			gi := itemInput{Key: k, ProjectionExpression: bt.ProjectionExpression, ExpressionAttributeNames: bt.ExpressionAttributeNames, ConsistentRead: bt.ConsistentRead}
			it, gu, err := t.get(&gi)
			if err != nil {
				return nil, err
			}
			ks, _ := decodeItem(k)
			if seen[keyString(ks, t.key)] {
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[keyString(ks, t.key)] = true
			if f.takeUnprocessed() {
				left = append(left, k)
				continue
			}
			u.units += gu.units
			if it != nil {
				responses[name] = append(responses[name], it)
			}
		}
		if left != nil {
			bt.Keys = left
			unprocessed[name] = bt
		}
		r.charge(u)
		if c := u.report(in.ReturnConsumedCapacity); c != nil {
			consumed = append(consumed, c)
		}
	}
	out := map[string]any{"Responses": responses, "UnprocessedKeys": unprocessed}
	if consumed != nil {
		out["ConsumedCapacity"] = consumed
	}
	return out, nil
}

type writeRequest struct {
	PutRequest *struct {
		Item map[string]json.RawMessage
	} `json:",omitempty"`
	DeleteRequest *struct {
		Key map[string]json.RawMessage
	} `json:",omitempty"`
}

func (f *Fake) batchWriteItem(r *request) (any, *Error) {
	var in struct {
		RequestItems           map[string][]writeRequest
		ReturnConsumedCapacity string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	n := 0
	for _, ws := range in.RequestItems {
		n += len(ws)
	}
	if n > 25 {
		return nil, validation("Too many items requested for the BatchWriteItem call")
	}
	if n == 0 {
		return nil, validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	// Everything is checked before anything is written.
	type write struct {
		t        *table
		key, put item
		req      writeRequest
	}
	var writes []write
	for _, name := range sortedTables(in.RequestItems) {
		t, err := f.activeTable(name)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, wr := range in.RequestItems[name] {
			w := write{t: t, req: wr}
			var e error
			switch {
			case wr.PutRequest != nil && wr.DeleteRequest == nil:
				if w.put, e = decodeItem(wr.PutRequest.Item); e != nil {
					return nil, asError(e)
				}
				if err := t.checkItem(w.put); err != nil {
					return nil, err
				}
				w.key = t.keyOf(w.put)
			case wr.DeleteRequest != nil && wr.PutRequest == nil:
				if w.key, e = decodeItem(wr.DeleteRequest.Key); e != nil {
					return nil, asError(e)
				}
				if err := t.checkKey(w.key); err != nil {
					return nil, err
				}
			default:
				return nil, validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
			}
			if seen[keyString(w.key, t.key)] {
				return nil, validation("Provided list of item keys contains duplicates")
			}
			seen[keyString(w.key, t.key)] = true
			writes = append(writes, w)
		}
	}
	unprocessed := map[string][]writeRequest{}
	usages := map[string]*usage{}
	for _, w := range writes {
		if f.takeUnprocessed() {
			unprocessed[w.t.name] = append(unprocessed[w.t.name], w.req)
			continue
		}
		old := w.t.items[keyString(w.key, w.t.key)]
		w.t.store(w.key, w.put)
		wu := w.t.writeUsage(old, w.put, 1)
		u := usages[w.t.name]
		if u == nil {
			u = newUsage(w.t.name, true)
			usages[w.t.name] = u
		}
		u.add(wu)
	}
	var consumed []map[string]any
	for _, name := range sortedTables(usages) {
		r.charge(usages[name])
		if c := usages[name].report(in.ReturnConsumedCapacity); c != nil {
			consumed = append(consumed, c)
		}
	}
	out := map[string]any{"UnprocessedItems": unprocessed}
	if consumed != nil {
		out["ConsumedCapacity"] = consumed
	}
	return out, nil
}

// add adds v's units to u's.
func (u *usage) add(v *usage) {
	u.units += v.units
	for k, n := range v.indexes {
		u.indexes[k] += n
		u.local[k] = v.local[k]
	}
}
