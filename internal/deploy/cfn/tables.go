package cfn

// table is one DynamoDB table of the store. This list is the one place
// the stack declares the store's tables: their names, keys and indexes
// follow the key design of the store's DynamoDB driver, which owns them.
type table struct {
	suffix string // the table is named PREFIX+suffix
	hash   string // partition key (S)
	rang   string // sort key (S)
	// indexes are global secondary indexes: name → hash, range key (S).
	indexes []index
	ttl     string // TTL attribute, if any
}

type index struct{ name, hash, rang string }

// storeTables are the store's tables: a single-table design whose items
// carry their kind in their keys, with one overloaded index for the
// listings (jobs by state, nodes by pool, ...), and a TTL attribute for
// what expires (leases, refused intake messages).
var storeTables = []table{{
	suffix:  "main",
	hash:    "pk",
	rang:    "sk",
	indexes: []index{{name: "gsi1", hash: "gsi1pk", rang: "gsi1sk"}},
	ttl:     "expires_at",
}}

// tablePrefix is the prefix of the store's tables: the server's --store
// dynamodb://PREFIX.
func (b *builder) tablePrefix() string { return b.stack + "-" }

// tableID is the logical id of a table of the store.
func tableID(t table) string { return "Table" + logicalPart(t.suffix) }

// tables makes the store's tables: on-demand capacity, point-in-time
// recovery, encrypted, deleted with the stack unless RetainData.
func (b *builder) tables() {
	policy := "Delete"
	if b.opt.RetainData {
		policy = "Retain"
	}
	for _, t := range storeTables {
		attrs := []string{t.hash, t.rang}
		var gsis list
		for _, ix := range t.indexes {
			attrs = append(attrs, ix.hash, ix.rang)
			gsis = append(gsis, obj{
				"IndexName":  ix.name,
				"KeySchema":  list{obj{"AttributeName": ix.hash, "KeyType": "HASH"}, obj{"AttributeName": ix.rang, "KeyType": "RANGE"}},
				"Projection": obj{"ProjectionType": "ALL"},
			})
		}
		var defs list
		for _, a := range attrs {
			defs = append(defs, obj{"AttributeName": a, "AttributeType": "S"})
		}
		props := obj{
			"TableName":                        b.tablePrefix() + t.suffix,
			"BillingMode":                      "PAY_PER_REQUEST",
			"AttributeDefinitions":             defs,
			"KeySchema":                        list{obj{"AttributeName": t.hash, "KeyType": "HASH"}, obj{"AttributeName": t.rang, "KeyType": "RANGE"}},
			"PointInTimeRecoverySpecification": obj{"PointInTimeRecoveryEnabled": true},
			"SSESpecification":                 obj{"SSEEnabled": true},
			"Tags":                             b.tags(b.tablePrefix() + t.suffix),
		}
		if len(gsis) > 0 {
			props["GlobalSecondaryIndexes"] = gsis
		}
		if t.ttl != "" {
			props["TimeToLiveSpecification"] = obj{"AttributeName": t.ttl, "Enabled": true}
		}
		b.add(tableID(t), Resource{Type: "AWS::DynamoDB::Table", Properties: props, DeletionPolicy: policy, UpdateReplacePolicy: policy})
	}
}

// tableARNs are the ARNs of the store's tables and their indexes.
func (b *builder) tableARNs() list {
	var arns list
	for _, t := range storeTables {
		arns = append(arns, getAtt(tableID(t), "Arn"))
		if len(t.indexes) > 0 {
			arns = append(arns, sub("${"+tableID(t)+".Arn}/index/*", nil))
		}
	}
	return arns
}
