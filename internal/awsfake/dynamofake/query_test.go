package dynamofake_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func n(i int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: fmt.Sprint(i)} }
func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// sks returns the sort keys of items.
func sks(t *testing.T, items []map[string]types.AttributeValue) []int {
	var out []int
	for _, it := range items {
		var j job
		if err := attributevalue.UnmarshalMap(it, &j); err != nil {
			t.Fatal(err)
		}
		out = append(out, j.SK)
	}
	return out
}

// TestQuery: ten jobs of one pool; key conditions pick ranges of them,
// filters thin them, pages of three walk them both ways, and the state
// index finds the queued ones.
func TestQuery(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := b.client
		createJobs(t, c)
		for i := 1; i <= 10; i++ {
			state := "queued"
			if i%2 == 0 {
				state = "done"
			}
			put(t, c, job{PK: "pool", SK: i, State: state, At: 100 - i})
		}
		put(t, c, job{PK: "other", SK: 5, State: "queued", At: 1})
		tests := []struct {
			cond, filter string
			want         []int
		}{
			{"pk = :p", "", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
			{"pk = :p AND sk > :a", "", []int{4, 5, 6, 7, 8, 9, 10}},
			{"pk = :p AND sk <= :a", "", []int{1, 2, 3}},
			{"pk = :p AND sk BETWEEN :a AND :b", "", []int{3, 4, 5, 6}},
			{"sk >= :a AND pk = :p", "#s = :q", []int{3, 5, 7, 9}},
			{"pk = :p AND sk < :b", "#s IN (:q, :b)", []int{1, 3, 5}},
		}
		for _, tt := range tests {
			in := &dynamodb.QueryInput{
				TableName: aws.String("jobs"), KeyConditionExpression: aws.String(tt.cond),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("pool"), ":a": n(3), ":b": n(6)},
			}
			if tt.filter != "" {
				in.FilterExpression = aws.String(tt.filter)
				in.ExpressionAttributeNames = map[string]string{"#s": "state"}
				in.ExpressionAttributeValues[":q"] = s("queued")
			}
			for _, v := range []string{":a", ":b"} {
				if !strings.Contains(tt.cond+tt.filter, v) {
					delete(in.ExpressionAttributeValues, v)
				}
			}
			out, err := c.Query(ctx(t), in)
			if err != nil {
				t.Errorf("Query(%q, %q): %v", tt.cond, tt.filter, err)
				continue
			}
			if got := sks(t, out.Items); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Query(%q, %q) = %v, want %v", tt.cond, tt.filter, got, tt.want)
			}
		}

		// Pages of three, backwards.
		var got []int
		var start map[string]types.AttributeValue
		pages := 0
		for {
			out, err := c.Query(ctx(t), &dynamodb.QueryInput{
				TableName: aws.String("jobs"), KeyConditionExpression: aws.String("pk = :p"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("pool")},
				ScanIndexForward:          aws.Bool(false), Limit: aws.Int32(3), ExclusiveStartKey: start,
			})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			got = append(got, sks(t, out.Items)...)
			if start = out.LastEvaluatedKey; start == nil {
				break
			}
		}
		if fmt.Sprint(got) != "[10 9 8 7 6 5 4 3 2 1]" || pages != 4 {
			t.Errorf("paged backwards: %v in %d pages, want 10 to 1 in 4", got, pages)
		}

		// The index, oldest first, its keys only.
		out, err := c.Query(ctx(t), &dynamodb.QueryInput{
			TableName: aws.String("jobs"), IndexName: aws.String("byState"),
			KeyConditionExpression:    aws.String("#s = :q AND #at < :at"),
			ExpressionAttributeNames:  map[string]string{"#s": "state", "#at": "at"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":q": s("queued"), ":at": n(96)},
			Limit:                     aws.Int32(3),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := sks(t, out.Items); fmt.Sprint(got) != "[5 9 7]" {
			t.Errorf("byState queued at < 96 = %v, want [5 9 7] (at 1, 91, 93)", got)
		}
		if len(out.Items[0]) != 4 {
			t.Errorf("KEYS_ONLY item = %v, want its four key attributes", out.Items[0])
		}
		if len(out.LastEvaluatedKey) != 4 {
			t.Errorf("index LastEvaluatedKey = %v, want table and index keys", out.LastEvaluatedKey)
		}
		count, err := c.Query(ctx(t), &dynamodb.QueryInput{
			TableName: aws.String("jobs"), IndexName: aws.String("byState"), Select: types.SelectCount,
			KeyConditionExpression:    aws.String("#s = :q"),
			ExpressionAttributeNames:  map[string]string{"#s": "state"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":q": s("done")},
		})
		if err != nil || count.Count != 5 || count.Items != nil {
			t.Errorf("COUNT of done = %v, %v; want 5 and no items", count, err)
		}

		refused := []*dynamodb.QueryInput{
			{TableName: aws.String("jobs"), IndexName: aws.String("byState"), ConsistentRead: aws.Bool(true),
				KeyConditionExpression: aws.String("#s = :q"), ExpressionAttributeNames: map[string]string{"#s": "state"},
				ExpressionAttributeValues: map[string]types.AttributeValue{":q": s("done")}},
			{TableName: aws.String("jobs"), KeyConditionExpression: aws.String("sk = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": n(1)}},
			{TableName: aws.String("jobs"), KeyConditionExpression: aws.String("pk = :p OR sk = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("pool"), ":a": n(1)}},
			{TableName: aws.String("jobs"), KeyConditionExpression: aws.String("pk = :p"), FilterExpression: aws.String("sk = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":p": s("pool"), ":a": n(1)}},
			{TableName: aws.String("jobs"), KeyConditionExpression: aws.String("pk = :a"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":a": n(1)}},
		}
		for i, in := range refused {
			if _, err := c.Query(ctx(t), in); code(err) != "ValidationException" {
				t.Errorf("refused query %d: %v, want ValidationException", i, err)
			}
		}
	})
}

// TestScan: pages of four walk every item once, and two segments split
// them.
func TestScan(t *testing.T) {
	onBackends(t, func(t *testing.T, b backend) {
		c := b.client
		createJobs(t, c)
		for i := 1; i <= 10; i++ {
			put(t, c, job{PK: fmt.Sprint("p", i%3), SK: i, State: "queued"})
		}
		seen := map[int]int{}
		var start map[string]types.AttributeValue
		for {
			out, err := c.Scan(ctx(t), &dynamodb.ScanInput{TableName: aws.String("jobs"), Limit: aws.Int32(4), ExclusiveStartKey: start,
				FilterExpression: aws.String("sk <> :x"), ExpressionAttributeValues: map[string]types.AttributeValue{":x": n(7)}})
			if err != nil {
				t.Fatal(err)
			}
			for _, sk := range sks(t, out.Items) {
				seen[sk]++
			}
			if start = out.LastEvaluatedKey; start == nil {
				break
			}
		}
		if len(seen) != 9 || seen[7] != 0 {
			t.Errorf("scanned %v, want each of 1-10 but 7 once", seen)
		}
		total := 0
		for seg := range 2 {
			out, err := c.Scan(ctx(t), &dynamodb.ScanInput{TableName: aws.String("jobs"), Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(2)})
			if err != nil {
				t.Fatal(err)
			}
			total += len(out.Items)
		}
		if total != 10 {
			t.Errorf("two segments held %d items, want 10", total)
		}
	})
}
