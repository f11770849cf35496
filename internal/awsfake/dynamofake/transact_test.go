package dynamofake_test

import (
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/berth-run/berth/internal/awsfake/dynamofake"
)

// TestBatch: 25 writes go through and 26 are refused; keys come back from
// BatchGetItem, and the ones the knob leaves unprocessed come back as
// such.
func TestBatch(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := b.client
		createJobs(t, c)
		var writes []types.WriteRequest
		for i := range 26 {
			writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"pk": s("b"), "sk": n(i)}}})
		}
		if _, err := c.BatchWriteItem(ctx(t), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"jobs": writes}}); code(err) != "ValidationException" {
			t.Errorf("BatchWriteItem of 26: %v, want ValidationException", err)
		}
		out, err := c.BatchWriteItem(ctx(t), &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"jobs": writes[:25]}})
		if err != nil || len(out.UnprocessedItems) != 0 {
			t.Fatalf("BatchWriteItem of 25: %v, %v", out, err)
		}
		keys := []map[string]types.AttributeValue{key("b", 0), key("b", 24), key("b", 99)}
		if b.fake != nil {
			b.fake.Unprocess(1)
		}
		got, err := c.BatchGetItem(ctx(t), &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"jobs": {Keys: keys}}})
		if err != nil {
			t.Fatal(err)
		}
		want, unprocessed := 2, 0
		if b.fake != nil {
			want, unprocessed = 1, 1
		}
		if len(got.Responses["jobs"]) != want || len(got.UnprocessedKeys["jobs"].Keys) != unprocessed {
			t.Errorf("BatchGetItem: %d items and %v unprocessed, want %d and %d", len(got.Responses["jobs"]), got.UnprocessedKeys, want, unprocessed)
		}
	})
}

func condCheck(pk string, sk int, cond string) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String("jobs"), Key: key(pk, sk), ConditionExpression: aws.String(cond),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// TestTransactWriteItems: a transaction whose check fails changes
// nothing and says which action failed; one action per item; a token
// makes a retry answer without writing again. dynalite has no
// transactions.
func TestTransactWriteItems(t *testing.T) {
	b := onFake(t, dynamofake.Config{})
	c := b.client
	createJobs(t, c)
	put(t, c, job{PK: "t", SK: 1, State: "queued"})
	putNew := types.TransactWriteItem{Put: &types.Put{TableName: aws.String("jobs"), Item: key("t", 2), ConditionExpression: aws.String("attribute_not_exists(pk)")}}
	_, err := c.TransactWriteItems(ctx(t), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		putNew, condCheck("t", 1, "attribute_not_exists(pk)"),
	}})
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Fatalf("TransactWriteItems: %v, want TransactionCanceledException", err)
	}
	if len(tce.CancellationReasons) != 2 || aws.ToString(tce.CancellationReasons[0].Code) != "None" ||
		aws.ToString(tce.CancellationReasons[1].Code) != "ConditionalCheckFailed" || tce.CancellationReasons[1].Item["state"] == nil {
		t.Errorf("cancellation reasons = %+v, want None and ConditionalCheckFailed with the item", tce.CancellationReasons)
	}
	if _, ok := get(t, c, "t", 2); ok {
		t.Error("a cancelled transaction wrote its put")
	}
	_, err = c.TransactWriteItems(ctx(t), &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		condCheck("t", 1, "attribute_exists(pk)"), {Delete: &types.Delete{TableName: aws.String("jobs"), Key: key("t", 1)}},
	}})
	if code(err) != "ValidationException" {
		t.Errorf("two actions on one item: %v, want ValidationException", err)
	}
	claim := &dynamodb.TransactWriteItemsInput{ClientRequestToken: aws.String("claim-1"), TransactItems: []types.TransactWriteItem{
		putNew,
		{Update: &types.Update{TableName: aws.String("jobs"), Key: key("t", 1), UpdateExpression: aws.String("ADD tries :one"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)}}},
	}}
	for range 2 {
		if _, err := c.TransactWriteItems(ctx(t), claim); err != nil {
			t.Fatalf("TransactWriteItems with a token: %v", err)
		}
	}
	if j, _ := get(t, c, "t", 1); j.Tries != 1 {
		t.Errorf("tries = %d after a retried transaction, want 1", j.Tries)
	}
	claim.TransactItems = claim.TransactItems[1:]
	if _, err := c.TransactWriteItems(ctx(t), claim); code(err) != "IdempotentParameterMismatchException" {
		t.Errorf("the token with another request: %v, want IdempotentParameterMismatchException", err)
	}
	tg, err := c.TransactGetItems(ctx(t), &dynamodb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String("jobs"), Key: key("t", 1)}},
		{Get: &types.Get{TableName: aws.String("jobs"), Key: key("t", 3)}},
	}})
	if err != nil || len(tg.Responses) != 2 || tg.Responses[0].Item == nil || tg.Responses[1].Item != nil {
		t.Errorf("TransactGetItems = %v, %v; want the first item and no second", tg, err)
	}
}

// TestCapacity: a 5 KB item costs 5 write units to put (6 with its index
// entry), 2 read units to read strongly and 1 eventually, and twice as
// much in a transaction; the call log adds them up.
func TestCapacity(t *testing.T) {
	b := onFake(t, dynamofake.Config{})
	c := b.client
	createJobs(t, c)
	big := make([]byte, 5000)
	item := map[string]types.AttributeValue{"pk": s("c"), "sk": n(1), "state": s("q"), "at": n(1), "blob": &types.AttributeValueMemberB{Value: big}}
	out, err := c.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String("jobs"), Item: item, ReturnConsumedCapacity: types.ReturnConsumedCapacityIndexes})
	if err != nil {
		t.Fatal(err)
	}
	cc := out.ConsumedCapacity
	if aws.ToFloat64(cc.CapacityUnits) != 6 || aws.ToFloat64(cc.Table.CapacityUnits) != 5 || aws.ToFloat64(cc.GlobalSecondaryIndexes["byState"].CapacityUnits) != 1 {
		t.Errorf("PutItem consumed %v (table %v), want 6 with 5 for the table", aws.ToFloat64(cc.CapacityUnits), cc.Table)
	}
	for _, consistent := range []bool{true, false} {
		g, err := c.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: aws.String("jobs"), Key: key("c", 1), ConsistentRead: aws.Bool(consistent), ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal})
		if err != nil {
			t.Fatal(err)
		}
		want := map[bool]float64{true: 2, false: 1}[consistent]
		if got := aws.ToFloat64(g.ConsumedCapacity.CapacityUnits); got != want {
			t.Errorf("GetItem(consistent %v) consumed %v, want %v", consistent, got, want)
		}
	}
	tw, err := c.TransactWriteItems(ctx(t), &dynamodb.TransactWriteItemsInput{ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
		TransactItems: []types.TransactWriteItem{{Put: &types.Put{TableName: aws.String("jobs"), Item: item}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToFloat64(tw.ConsumedCapacity[0].CapacityUnits); got != 12 {
		t.Errorf("TransactWriteItems consumed %v, want 12", got)
	}
	item["blob"] = &types.AttributeValueMemberB{Value: make([]byte, 401*1024)}
	if _, err := c.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String("jobs"), Item: item}); code(err) != "ValidationException" {
		t.Errorf("PutItem of 401 KB: %v, want ValidationException", err)
	}
	read, write := b.fake.Units()
	if read != 3 || write != 18 {
		t.Errorf("Units() = %v read, %v write; want 3 and 18", read, write)
	}
	if n := b.fake.Count("GetItem"); n != 2 {
		t.Errorf("Count(GetItem) = %d, want 2", n)
	}
}

// TestKnobs: FailNext answers its error once; a throttle of two refuses
// two calls with ThrottlingException, and a rate lets a second's worth
// through.
func TestKnobs(t *testing.T) {
	b := onFake(t, dynamofake.Config{})
	c := b.client
	createJobs(t, c)
	b.fake.FailNext(dynamofake.Error{Status: 500, Code: "InternalServerError", Message: "boom"})
	if _, ok := getErr(c, t); ok != "InternalServerError" {
		t.Errorf("after FailNext: %s, want InternalServerError", ok)
	}
	b.fake.Throttle(dynamofake.Throttle{Next: 2})
	var te *types.ThrottlingException
	_, err := c.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: aws.String("jobs"), Key: key("k", 1)})
	if !errors.As(err, &te) || len(te.ThrottlingReasons) != 1 {
		t.Errorf("throttled GetItem: %v, want ThrottlingException with a reason", err)
	}
	for _, want := range []string{"ThrottlingException", "", ""} {
		if _, got := getErr(c, t); got != want {
			t.Errorf("GetItem: %q, want %q", got, want)
		}
	}
	b.fake.Throttle(dynamofake.Throttle{PerSecond: 3})
	refused := 0
	for range 5 {
		if _, got := getErr(c, t); got != "" {
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("at 3 per second, %d of 5 quick calls refused, want 2", refused)
	}
}

func getErr(c *dynamodb.Client, t *testing.T) (*dynamodb.GetItemOutput, string) {
	out, err := c.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: aws.String("jobs"), Key: key("k", 1)})
	return out, code(err)
}
