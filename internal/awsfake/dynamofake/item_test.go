package dynamofake_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-run/berth/internal/awsfake/dynamofake"
)

// job is an item of the jobs table.
type job struct {
	PK    string         `dynamodbav:"pk"`
	SK    int            `dynamodbav:"sk"`
	State string         `dynamodbav:"state,omitempty"`
	At    int            `dynamodbav:"at,omitempty"`
	Tries int            `dynamodbav:"tries,omitempty"`
	Tags  []string       `dynamodbav:"tags,omitempty,stringset"`
	Meta  map[string]any `dynamodbav:"meta,omitempty"`
}

func put(t *testing.T, c *dynamodb.Client, j job) {
	t.Helper()
	it, err := attributevalue.MarshalMap(j)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutItem(ctx(t), &dynamodb.PutItemInput{TableName: aws.String("jobs"), Item: it}); err != nil {
		t.Fatal(err)
	}
}

func key(pk string, sk int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberN{Value: fmt.Sprint(sk)},
	}
}

func get(t *testing.T, c *dynamodb.Client, pk string, sk int) (job, bool) {
	t.Helper()
	out, err := c.GetItem(ctx(t), &dynamodb.GetItemInput{TableName: aws.String("jobs"), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var j job
	if err := attributevalue.UnmarshalMap(out.Item, &j); err != nil {
		t.Fatal(err)
	}
	return j, out.Item != nil
}

// TestItems: a job is put only if new, claimed by an update whose
// condition holds, refused a second claim, and deleted.
func TestItems(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := b.client
		createJobs(t, c)
		it, _ := attributevalue.MarshalMap(job{PK: "j1", SK: 1, State: "queued", At: 10, Tags: []string{"a"}})
		create := &dynamodb.PutItemInput{TableName: aws.String("jobs"), Item: it, ConditionExpression: aws.String("attribute_not_exists(pk)")}
		if _, err := c.PutItem(ctx(t), create); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutItem(ctx(t), create); code(err) != "ConditionalCheckFailedException" {
			t.Fatalf("second create: %v, want ConditionalCheckFailedException", err)
		}
		claim := &dynamodb.UpdateItemInput{
			TableName:                aws.String("jobs"),
			Key:                      key("j1", 1),
			UpdateExpression:         aws.String("SET #s = :running, tries = if_not_exists(tries, :zero) + :one ADD tags :b REMOVE #at"),
			ConditionExpression:      aws.String("#s = :queued AND size(tags) < :three"),
			ExpressionAttributeNames: map[string]string{"#s": "state", "#at": "at"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":running": &types.AttributeValueMemberS{Value: "running"},
				":queued":  &types.AttributeValueMemberS{Value: "queued"},
				":zero":    &types.AttributeValueMemberN{Value: "0"},
				":one":     &types.AttributeValueMemberN{Value: "1"},
				":three":   &types.AttributeValueMemberN{Value: "3"},
				":b":       &types.AttributeValueMemberSS{Value: []string{"b"}},
			},
			ReturnValues: types.ReturnValueUpdatedNew,
		}
		out, err := c.UpdateItem(ctx(t), claim)
		if err != nil {
			t.Fatal(err)
		}
		var updated job
		attributevalue.UnmarshalMap(out.Attributes, &updated)
		if updated.State != "running" || updated.Tries != 1 || len(updated.Tags) != 2 || updated.PK != "" {
			t.Errorf("UPDATED_NEW = %+v, want state, tries and tags only", updated)
		}
		if _, err := c.UpdateItem(ctx(t), claim); code(err) != "ConditionalCheckFailedException" {
			t.Fatalf("second claim: %v, want ConditionalCheckFailedException", err)
		}
		j, _ := get(t, c, "j1", 1)
		if want := (job{PK: "j1", SK: 1, State: "running", Tries: 1, Tags: []string{"a", "b"}}); !cmp.Equal(j, want) {
			t.Errorf("after the claim: %s", cmp.Diff(want, j))
		}
		del, err := c.DeleteItem(ctx(t), &dynamodb.DeleteItemInput{TableName: aws.String("jobs"), Key: key("j1", 1), ReturnValues: types.ReturnValueAllOld})
		if err != nil {
			t.Fatal(err)
		}
		if del.Attributes["state"] == nil {
			t.Errorf("DeleteItem ALL_OLD = %v, want the item", del.Attributes)
		}
		if _, ok := get(t, c, "j1", 1); ok {
			t.Error("the item is still there after DeleteItem")
		}
	})
}

// TestConditionFailureReturnsItem: ALL_OLD on a failed condition puts the
// item in the error (dynalite lacks it).
func TestConditionFailureReturnsItem(t *testing.T) {
	b := onFake(t, dynamofake.Config{})
	createJobs(t, b.client)
	put(t, b.client, job{PK: "j", SK: 1, State: "done"})
	_, err := b.client.DeleteItem(ctx(t), &dynamodb.DeleteItemInput{
		TableName: aws.String("jobs"), Key: key("j", 1),
		ConditionExpression:                 aws.String("#s <> :done"),
		ExpressionAttributeNames:            map[string]string{"#s": "state"},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":done": &types.AttributeValueMemberS{Value: "done"}},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("DeleteItem: %v, want ConditionalCheckFailedException", err)
	}
	if s, ok := ccf.Item["state"].(*types.AttributeValueMemberS); !ok || s.Value != "done" {
		t.Errorf("the error's item = %v, want the stored item", ccf.Item)
	}
}

// TestExpressions: valid expressions pass and invalid ones are refused
// with ValidationException, on the fake with DynamoDB's messages.
func TestExpressions(t *testing.T) {
	tests := []struct {
		update, cond string
		names        map[string]string
		values       []string // names of :placeholders, all N 1
		code, msg    string   // msg: a part of the fake's message
	}{
		{update: "SET a = :v", values: []string{":v"}},
		{update: "SET a.b = :v", values: []string{":v"}, code: "ValidationException", msg: "The document path provided in the update expression is invalid for update"},
		{update: "SET a = :v, a = :v", values: []string{":v"}, code: "ValidationException", msg: "Two document paths"},
		{update: "SET a = :v", values: []string{":v", ":w"}, code: "ValidationException", msg: "unused in expressions: keys: {:w}"},
		{update: "SET a = :v", names: map[string]string{"#n": "n"}, values: []string{":v"}, code: "ValidationException", msg: "ExpressionAttributeNames unused"},
		{update: "SET a = :w", values: []string{":v"}, code: "ValidationException", msg: "An expression attribute value used in expression is not defined; attribute value: :w"},
		{update: "SET #x = :v", values: []string{":v"}, code: "ValidationException", msg: "An expression attribute name used in the document path is not defined; attribute name: #x"},
		{update: "SET status = :v", values: []string{":v"}, code: "ValidationException", msg: "Attribute name is a reserved keyword; reserved keyword: status"},
		{update: "SET a = = :v", values: []string{":v"}, code: "ValidationException", msg: `Syntax error; token: "=", near: "= ="`},
		{update: "SET a = :v SET b = :v", values: []string{":v"}, code: "ValidationException", msg: `The "SET" section can only be used once`},
		{update: "SET pk = :v", values: []string{":v"}, code: "ValidationException", msg: "Cannot update attribute pk. This attribute is part of the key"},
		{update: "SET a = :v", cond: "attribute_not_exists(a) AND (a < :v OR NOT a BETWEEN :v AND :v) AND NOT a IN (:v, :v)", values: []string{":v"}},
		{update: "SET a = :v", cond: "a <", values: []string{":v"}, code: "ValidationException", msg: `Syntax error; token: "<EOF>"`},
		{update: "SET a = :v", cond: "nope(a)", values: []string{":v"}, code: "ValidationException", msg: "Invalid function name; function: nope"},
		{update: "SET a = :v", cond: "begins_with(a, :v)", values: []string{":v"}, code: "ValidationException", msg: "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"},
		{update: "SET a = :v", cond: "attribute_exists(a, a)", values: []string{":v"}, code: "ValidationException", msg: "Incorrect number of operands"},
		{update: "SET a = list_append(:v, a)", values: []string{":v"}, code: "ValidationException", msg: "operator or function: list_append, operand type: N"},
		{update: "ADD a :v DELETE b :v", values: []string{":v"}, code: "ValidationException", msg: "operator: DELETE, operand type: NUMBER"},
		{update: "SET a[0].b = :v", values: []string{":v"}, code: "ValidationException", msg: "The document path provided in the update expression is invalid for update"},
	}
	onBackends(t, func(t *testing.T, b backend) {
		createJobs(t, b.client)
		for _, tt := range tests {
			vals := map[string]types.AttributeValue{}
			for _, v := range tt.values {
				vals[v] = &types.AttributeValueMemberN{Value: "1"}
			}
			in := &dynamodb.UpdateItemInput{
				TableName: aws.String("jobs"), Key: key("e", 1), UpdateExpression: aws.String(tt.update),
				ExpressionAttributeNames: tt.names, ExpressionAttributeValues: vals,
			}
			if tt.cond != "" {
				in.ConditionExpression = aws.String(tt.cond)
			}
			_, err := b.client.UpdateItem(ctx(t), in)
			if code(err) != tt.code {
				t.Errorf("UpdateItem(%q, %q) = %v, want %s", tt.update, tt.cond, err, tt.code)
				continue
			}
			if b.fake != nil && err != nil && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("UpdateItem(%q, %q) = %v, want a message with %q", tt.update, tt.cond, err, tt.msg)
			}
			b.client.DeleteItem(ctx(t), &dynamodb.DeleteItemInput{TableName: aws.String("jobs"), Key: key("e", 1)})
		}
	})
}

// TestDocumentPaths: nested maps and list indexes are read, set and
// removed; numbers add exactly.
func TestDocumentPaths(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := b.client
		createJobs(t, c)
		put(t, c, job{PK: "d", SK: 1, Meta: map[string]any{"a": map[string]any{"b": []any{"x", map[string]any{"c": 1}}}, "n": 0.1}})
		out, err := c.UpdateItem(ctx(t), &dynamodb.UpdateItemInput{
			TableName: aws.String("jobs"), Key: key("d", 1),
			UpdateExpression:    aws.String("SET meta.a.b[1].c = meta.a.b[1].c + :one, meta.n = meta.n + :tenth, meta.l = list_append(:l, :l) REMOVE meta.a.b[0]"),
			ConditionExpression: aws.String("meta.a.b[0] = :x AND attribute_type(meta.n, :num)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":one":   &types.AttributeValueMemberN{Value: "1"},
				":tenth": &types.AttributeValueMemberN{Value: "0.2"},
				":x":     &types.AttributeValueMemberS{Value: "x"},
				":num":   &types.AttributeValueMemberS{Value: "N"},
				":l":     &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "7"}}},
			},
			ReturnValues: types.ReturnValueAllNew,
		})
		if err != nil {
			t.Fatal(err)
		}
		var got job
		attributevalue.UnmarshalMap(out.Attributes, &got)
		want := map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": 2.0}}}, "n": 0.3, "l": []any{7.0, 7.0}}
		if !cmp.Equal(got.Meta, want) {
			t.Errorf("meta: %s", cmp.Diff(want, got.Meta))
		}
		if n := out.Attributes["meta"].(*types.AttributeValueMemberM).Value["n"].(*types.AttributeValueMemberN).Value; n != "0.3" {
			t.Errorf("0.1 + 0.2 = %s, want 0.3 exactly", n)
		}
		proj, err := c.GetItem(ctx(t), &dynamodb.GetItemInput{
			TableName: aws.String("jobs"), Key: key("d", 1), ProjectionExpression: aws.String("meta.a.b[0].c, pk"),
		})
		if err != nil {
			t.Fatal(err)
		}
		var projected job
		attributevalue.UnmarshalMap(proj.Item, &projected)
		if len(proj.Item) != 2 || !cmp.Equal(projected.Meta, map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": 2.0}}}}) {
			t.Errorf("projected item = %v", proj.Item)
		}
	})
}
