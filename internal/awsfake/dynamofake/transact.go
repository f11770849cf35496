package dynamofake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// tokenTTL is how long DynamoDB remembers a ClientRequestToken.
const tokenTTL = 10 * time.Minute

// tokenUse is a successful TransactWriteItems call under a token.
type tokenUse struct {
	at   time.Time
	body []byte // the request, without its token and capacity mode
	out  map[string]any
}

type transactWriteItem struct {
	Put            *itemInput
	Update         *itemInput
	Delete         *itemInput
	ConditionCheck *itemInput
}

func (f *Fake) transactWriteItems(r *request) (any, *Error) {
	var in struct {
		TransactItems          []transactWriteItem
		ClientRequestToken     string
		ReturnConsumedCapacity string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if len(in.TransactItems) == 0 || len(in.TransactItems) > 100 {
		return nil, validation(fmt.Sprintf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100, Member must have length greater than or equal to 1 (it has %d)", len(in.TransactItems)))
	}
	body, _ := json.Marshal(in.TransactItems)
	if in.ClientRequestToken != "" {
		if use, ok := f.tokens[in.ClientRequestToken]; ok && time.Since(use.at) < tokenTTL {
			if !bytes.Equal(use.body, body) {
				return nil, &Error{Status: 400, Code: "IdempotentParameterMismatchException", Message: "The request uses the same client token as a previous, but non-identical request."}
			}
			return use.out, nil
		}
	}
	var preps []*prepared
	seen := map[string]bool{}
	for _, ti := range in.TransactItems {
		op, ii := "", (*itemInput)(nil)
		for _, c := range []struct {
			op string
			ii *itemInput
		}{{"Put", ti.Put}, {"Update", ti.Update}, {"Delete", ti.Delete}, {"ConditionCheck", ti.ConditionCheck}} {
			if c.ii != nil {
				if ii != nil {
					return nil, validation("TransactItems can only contain one of Check, Put, Update or Delete")
				}
				op, ii = c.op, c.ii
			}
		}
		if ii == nil {
			return nil, validation("TransactItems can only contain one of Check, Put, Update or Delete")
		}
		p, err := f.prepare(op, ii)
		if err != nil {
			return nil, err
		}
		id := p.t.name + "/" + keyString(p.key, p.t.key)
		if seen[id] {
			return nil, validation("Transaction request cannot include multiple operations on one item")
		}
		seen[id] = true
		preps = append(preps, p)
	}
	nexts := make([]item, len(preps))
	reasons := make([]map[string]any, len(preps))
	failed := false
	for i, p := range preps {
		old := p.t.items[keyString(p.key, p.t.key)]
		next, err := p.run(old)
		switch {
		case err == nil:
			reasons[i] = map[string]any{"Code": "None"}
			nexts[i] = next
		case err.Code == "ConditionalCheckFailedException":
			failed = true
			reasons[i] = map[string]any{"Code": "ConditionalCheckFailed", "Message": err.Message}
			if it, ok := err.Fields["Item"]; ok {
				reasons[i]["Item"] = it
			}
		default:
			failed = true
			reasons[i] = map[string]any{"Code": "ValidationError", "Message": err.Message}
		}
	}
	if failed {
		var codes []string
		for _, rs := range reasons {
			codes = append(codes, rs["Code"].(string))
		}
		return nil, &Error{Status: 400, Code: "TransactionCanceledException",
			Message: "Transaction cancelled, please refer cancellation reasons for specific reasons [" + strings.Join(codes, ", ") + "]",
			Fields:  map[string]any{"CancellationReasons": reasons}}
	}
	usages := map[string]*usage{}
	for i, p := range preps {
		if p.put == nil && p.acts == nil && !p.delete {
			// A ConditionCheck reads the item: it costs a write unit all the same.
			nexts[i] = p.t.items[keyString(p.key, p.t.key)]
		}
		old := p.t.items[keyString(p.key, p.t.key)]
		wu := p.t.writeUsage(old, nexts[i], 2)
		if p.put != nil || p.acts != nil || p.delete {
			p.t.store(p.key, nexts[i])
		} else {
			wu.tableOnly()
		}
		u := usages[p.t.name]
		if u == nil {
			u = newUsage(p.t.name, true)
			usages[p.t.name] = u
		}
		u.add(wu)
	}
	out := map[string]any{}
	var consumed []map[string]any
	for _, name := range sortedTables(usages) {
		r.charge(usages[name])
		if c := usages[name].report(in.ReturnConsumedCapacity); c != nil {
			consumed = append(consumed, c)
		}
	}
	if consumed != nil {
		out["ConsumedCapacity"] = consumed
	}
	if in.ClientRequestToken != "" {
		f.tokens[in.ClientRequestToken] = tokenUse{at: time.Now(), body: body, out: out}
	}
	return out, nil
}

func (f *Fake) transactGetItems(r *request) (any, *Error) {
	var in struct {
		TransactItems []struct {
			Get *itemInput
		}
		ReturnConsumedCapacity string
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if len(in.TransactItems) == 0 || len(in.TransactItems) > 100 {
		return nil, validation("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	var responses []map[string]any
	usages := map[string]*usage{}
	for _, ti := range in.TransactItems {
		if ti.Get == nil {
			return nil, validation("TransactItems can only contain Get")
		}
		t, err := f.activeTable(ti.Get.TableName)
		if err != nil {
			return nil, err
		}
		ti.Get.ConsistentRead = true
		it, gu, err := t.get(ti.Get)
		if err != nil {
			return nil, err
		}
		gu.units *= 2
		u := usages[t.name]
		if u == nil {
			u = newUsage(t.name, false)
			usages[t.name] = u
		}
		u.add(gu)
		resp := map[string]any{}
		if it != nil {
			resp["Item"] = it
		}
		responses = append(responses, resp)
	}
	out := map[string]any{"Responses": responses}
	var consumed []map[string]any
	for _, name := range sortedTables(usages) {
		r.charge(usages[name])
		if c := usages[name].report(in.ReturnConsumedCapacity); c != nil {
			consumed = append(consumed, c)
		}
	}
	if consumed != nil {
		out["ConsumedCapacity"] = consumed
	}
	return out, nil
}
