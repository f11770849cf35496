package dynamofake_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/berth-run/berth/internal/awsfake/dynamofake"
	"github.com/berth-run/berth/internal/npmtest"
)

// backend is a DynamoDB the behavioural tests run against.
type backend struct {
	name   string
	client *dynamodb.Client
	fake   *dynamofake.Fake // nil for dynalite
}

// onBackends runs test against the fake, and against dynalite (an
// emulator from the npm registry) when BERTH_DYNALITE names its installed
// package:
//
//	npm install --prefix /tmp/dynalite dynalite@4.0.0
//	BERTH_DYNALITE=/tmp/dynalite/node_modules/dynalite go test ./internal/awsfake/dynamofake/
//
// dynalite lacks transactions, ReturnValuesOnConditionCheckFailure and
// ReturnConsumedCapacity INDEXES; the tests that need them run on the fake
// only.
func onBackends(t *testing.T, test func(t *testing.T, b backend)) {
	t.Run("fake", func(t *testing.T) {
		f := dynamofake.New(dynamofake.Config{})
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		test(t, backend{name: "fake", client: newClient(srv.URL), fake: f})
	})
	t.Run("dynalite", func(t *testing.T) {
		test(t, backend{name: "dynalite", client: newClient(startDynalite(t))})
	})
}

// onFake runs test against the fake only.
func onFake(t *testing.T, cfg dynamofake.Config) backend {
	f := dynamofake.New(cfg)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return backend{name: "fake", client: newClient(srv.URL), fake: f}
}

func newClient(endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(aws.Config{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
		HTTPClient:       http.DefaultClient,
	})
}

// startDynalite starts dynalite on a loopback port and returns its
// endpoint, or skips the test when BERTH_DYNALITE does not name it; with
// BERTH_REQUIRE_DYNALITE=1 (as in CI) it fails the test instead.
func startDynalite(t *testing.T) string {
	t.Helper()
	dynalite := npmtest.Package{Name: "dynalite", Env: "BERTH_DYNALITE", Require: "BERTH_REQUIRE_DYNALITE",
		Install: "npm install --prefix /tmp/dynalite dynalite@4.0.0", File: "index.js"}
	main := dynalite.Path(t)
	script := `const dynalite = require(process.argv[1]);
const srv = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
srv.listen(0, "127.0.0.1", () => console.log("http://127.0.0.1:" + srv.address().port));`
	return dynalite.Serve(t, "-e", script, main)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// code returns the error code of err, "" for nil.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "not an API error: " + err.Error()
	}
	return ""
}

// createJobs makes the table the tests use: jobs keyed by pk and sk,
// with a global index byState on state and at.
func createJobs(t *testing.T, c *dynamodb.Client) {
	t.Helper()
	_, err := c.CreateTable(ctx(t), &dynamodb.CreateTableInput{
		TableName:   aws.String("jobs"),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: aws.String("state"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("at"), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String("byState"),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("state"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("at"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitActive(t, c, "jobs")
}

func waitActive(t *testing.T, c *dynamodb.Client, name string) {
	t.Helper()
	for range 100 {
		out, err := c.DescribeTable(ctx(t), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("table %s did not become ACTIVE", name)
}
