package dynamofake

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// keySchema names a table's or an index's key attributes.
type keySchema struct {
	hash, rng string // rng is "" without a sort key
}

func (k keySchema) attrs() []string {
	if k.rng == "" {
		return []string{k.hash}
	}
	return []string{k.hash, k.rng}
}

func (k keySchema) wire() []map[string]string {
	out := []map[string]string{{"AttributeName": k.hash, "KeyType": "HASH"}}
	if k.rng != "" {
		out = append(out, map[string]string{"AttributeName": k.rng, "KeyType": "RANGE"})
	}
	return out
}

// index is a secondary index.
type index struct {
	name     string
	global   bool
	key      keySchema
	projType string   // ALL, KEYS_ONLY, INCLUDE
	nonKey   []string // INCLUDE's attributes
}

// table is a table and its items.
type table struct {
	name    string
	created time.Time
	billing string
	attrs   map[string]string // attribute name → S, N or B
	key     keySchema
	indexes []*index
	items   map[string]item // by keyString
	ttl     map[string]any  // TimeToLiveDescription, nil when never set
	input   map[string]json.RawMessage
	ready   time.Time // when it becomes ACTIVE
}

// keyString encodes the key attributes of it, which must have them.
func keyString(it item, k keySchema) string {
	var b strings.Builder
	for _, a := range k.attrs() {
		v := it[a]
		fmt.Fprintf(&b, "%s:%d:%s|", v.t, len(v.s), v.s)
	}
	return b.String()
}

// keyOf returns just the table's key attributes of it.
func (t *table) keyOf(it item) item {
	out := item{}
	for _, a := range t.key.attrs() {
		out[a] = it[a]
	}
	return out
}

func (t *table) index(name string) *index {
	for _, ix := range t.indexes {
		if ix.name == name {
			return ix
		}
	}
	return nil
}

var tableName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

type keyElem struct{ AttributeName, KeyType string }

type createTableInput struct {
	TableName              string
	BillingMode            string
	AttributeDefinitions   []struct{ AttributeName, AttributeType string }
	KeySchema              []keyElem
	GlobalSecondaryIndexes []indexInput
	LocalSecondaryIndexes  []indexInput
}

type indexInput struct {
	IndexName  string
	KeySchema  []keyElem
	Projection struct {
		ProjectionType   string
		NonKeyAttributes []string
	}
}

func readKeySchema(ks []keyElem) (keySchema, *Error) {
	if len(ks) == 0 || len(ks) > 2 || ks[0].KeyType != "HASH" || len(ks) == 2 && ks[1].KeyType != "RANGE" {
		return keySchema{}, validation("1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null")
	}
	k := keySchema{hash: ks[0].AttributeName}
	if len(ks) == 2 {
		k.rng = ks[1].AttributeName
	}
	return k, nil
}

func (f *Fake) createTable(r *request) (any, *Error) {
	var in createTableInput
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if !tableName.MatchString(in.TableName) {
		return nil, validation(fmt.Sprintf("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", in.TableName))
	}
	if _, ok := f.tables[in.TableName]; ok {
		return nil, &Error{Status: 400, Code: "ResourceInUseException", Message: "Table already exists: " + in.TableName}
	}
	t := &table{name: in.TableName, billing: in.BillingMode, attrs: map[string]string{}, items: map[string]item{}, input: r.raw}
	if t.billing == "" {
		t.billing = "PROVISIONED"
	}
	for _, d := range in.AttributeDefinitions {
		if d.AttributeType != "S" && d.AttributeType != "N" && d.AttributeType != "B" {
			return nil, validation(fmt.Sprintf("1 validation error detected: Value '%s' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", d.AttributeType))
		}
		t.attrs[d.AttributeName] = d.AttributeType
	}
	var err *Error
	if t.key, err = readKeySchema(in.KeySchema); err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, a := range t.key.attrs() {
		used[a] = true
	}
	for i, list := range [][]indexInput{in.GlobalSecondaryIndexes, in.LocalSecondaryIndexes} {
		for _, ii := range list {
			ix := &index{name: ii.IndexName, global: i == 0, projType: ii.Projection.ProjectionType, nonKey: ii.Projection.NonKeyAttributes}
			if ix.key, err = readKeySchema(ii.KeySchema); err != nil {
				return nil, err
			}
			if !ix.global && (ix.key.hash != t.key.hash || ix.key.rng == "" || t.key.rng == "") {
				return nil, validation("One or more parameter values were invalid: Table KeySchema does not have a range key, which is required when specifying a LocalSecondaryIndex")
			}
			if t.index(ix.name) != nil {
				return nil, validation("One or more parameter values were invalid: Duplicate index name: " + ix.name)
			}
			if ix.projType == "" {
				ix.projType = "ALL"
			}
			for _, a := range ix.key.attrs() {
				used[a] = true
			}
			t.indexes = append(t.indexes, ix)
		}
	}
	var defined, keys []string
	for a := range t.attrs {
		defined = append(defined, a)
	}
	for a := range used {
		keys = append(keys, a)
		if t.attrs[a] == "" {
			sort.Strings(defined)
			return nil, validation(fmt.Sprintf("One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]", a, strings.Join(defined, ", ")))
		}
	}
	if len(keys) != len(defined) {
		return nil, validation("One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	t.created = time.Now()
	t.ready = t.created.Add(f.cfg.CreateDelay)
	f.tables[t.name] = t
	return map[string]any{"TableDescription": t.describe()}, nil
}

func (t *table) status() string {
	if time.Now().Before(t.ready) {
		return "CREATING"
	}
	return "ACTIVE"
}

func (t *table) describe() map[string]any {
	var defs []map[string]string
	names := make([]string, 0, len(t.attrs))
	for a := range t.attrs {
		names = append(names, a)
	}
	sort.Strings(names)
	for _, a := range names {
		defs = append(defs, map[string]string{"AttributeName": a, "AttributeType": t.attrs[a]})
	}
	size := 0
	for _, it := range t.items {
		size += it.size()
	}
	d := map[string]any{
		"TableName": t.name, "TableStatus": t.status(), "TableArn": tableARN(t.name),
		"TableId":              fmt.Sprintf("00000000-0000-0000-0000-%012d", len(t.name)),
		"CreationDateTime":     float64(t.created.UnixMilli()) / 1000,
		"KeySchema":            t.key.wire(),
		"AttributeDefinitions": defs,
		"ItemCount":            len(t.items),
		"TableSizeBytes":       size,
		"ProvisionedThroughput": map[string]any{
			"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0,
		},
		"DeletionProtectionEnabled": false,
	}
	if t.billing == "PAY_PER_REQUEST" {
		d["BillingModeSummary"] = map[string]any{"BillingMode": "PAY_PER_REQUEST", "LastUpdateToPayPerRequestDateTime": d["CreationDateTime"]}
	}
	var gsis, lsis []map[string]any
	for _, ix := range t.indexes {
		proj := map[string]any{"ProjectionType": ix.projType}
		if len(ix.nonKey) > 0 {
			proj["NonKeyAttributes"] = ix.nonKey
		}
		count, bytes := 0, 0
		for _, it := range t.items {
			if p := t.projectIndex(ix, it); p != nil {
				count++
				bytes += p.size()
			}
		}
		desc := map[string]any{
			"IndexName": ix.name, "KeySchema": ix.key.wire(), "Projection": proj,
			"IndexArn": tableARN(t.name) + "/index/" + ix.name, "ItemCount": count, "IndexSizeBytes": bytes,
		}
		if ix.global {
			desc["IndexStatus"] = "ACTIVE"
			desc["ProvisionedThroughput"] = map[string]any{"ReadCapacityUnits": 0, "WriteCapacityUnits": 0, "NumberOfDecreasesToday": 0}
			gsis = append(gsis, desc)
		} else {
			lsis = append(lsis, desc)
		}
	}
	if gsis != nil {
		d["GlobalSecondaryIndexes"] = gsis
	}
	if lsis != nil {
		d["LocalSecondaryIndexes"] = lsis
	}
	return d
}

// projectIndex returns what ix holds of it, nil when it lacks the
// index's key (a sparse index).
func (t *table) projectIndex(ix *index, it item) item {
	for _, a := range ix.key.attrs() {
		if _, ok := it[a]; !ok {
			return nil
		}
	}
	if ix.projType == "ALL" {
		return it
	}
	out := item{}
	for _, a := range slices.Concat(t.key.attrs(), ix.key.attrs(), ix.nonKey) {
		if v, ok := it[a]; ok {
			out[a] = v
		}
	}
	return out
}

type tableNameInput struct{ TableName string }

// activeTable returns the table a data-plane call names.
func (f *Fake) activeTable(name string) (*table, *Error) {
	t, ok := f.tables[name]
	if !ok || t.status() != "ACTIVE" {
		return nil, notFound()
	}
	return t, nil
}

func (f *Fake) describeTable(r *request) (any, *Error) {
	var in tableNameInput
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	t, ok := f.tables[in.TableName]
	if !ok {
		return nil, &Error{Status: 400, Code: "ResourceNotFoundException", Message: "Requested resource not found: Table: " + in.TableName + " not found"}
	}
	return map[string]any{"Table": t.describe()}, nil
}

func (f *Fake) deleteTable(r *request) (any, *Error) {
	var in tableNameInput
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	t, ok := f.tables[in.TableName]
	if !ok {
		return nil, &Error{Status: 400, Code: "ResourceNotFoundException", Message: "Requested resource not found: Table: " + in.TableName + " not found"}
	}
	d := t.describe()
	d["TableStatus"] = "DELETING"
	delete(f.tables, in.TableName)
	return map[string]any{"TableDescription": d}, nil
}

func (f *Fake) listTables(r *request) (any, *Error) {
	var in struct {
		ExclusiveStartTableName string
		Limit                   int
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	names := []string{}
	for n := range f.tables {
		if n > in.ExclusiveStartTableName {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := map[string]any{}
	if limit := cmpOr(in.Limit, 100); len(names) > limit {
		names = names[:limit]
		out["LastEvaluatedTableName"] = names[limit-1]
	}
	out["TableNames"] = names
	return out, nil
}

func cmpOr(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

func (f *Fake) updateTTL(r *request) (any, *Error) {
	var in struct {
		TableName               string
		TimeToLiveSpecification struct {
			AttributeName string
			Enabled       bool
		}
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	t, err := f.activeTable(in.TableName)
	if err != nil {
		return nil, err
	}
	spec := in.TimeToLiveSpecification
	if t.ttl != nil && (t.ttl["TimeToLiveStatus"] == "ENABLED") == spec.Enabled {
		return nil, validation("TimeToLive is already " + map[bool]string{true: "enabled", false: "disabled"}[spec.Enabled])
	}
	status := "DISABLED"
	if spec.Enabled {
		status = "ENABLED"
	}
	t.ttl = map[string]any{"TimeToLiveStatus": status, "AttributeName": spec.AttributeName}
	return map[string]any{"TimeToLiveSpecification": map[string]any{"AttributeName": spec.AttributeName, "Enabled": spec.Enabled}}, nil
}

func (f *Fake) describeTTL(r *request) (any, *Error) {
	var in tableNameInput
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	t, ok := f.tables[in.TableName]
	if !ok {
		return nil, notFound()
	}
	desc := t.ttl
	if desc == nil {
		desc = map[string]any{"TimeToLiveStatus": "DISABLED"}
	}
	return map[string]any{"TimeToLiveDescription": desc}, nil
}
