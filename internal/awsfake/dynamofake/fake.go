// Package dynamofake is a wire fake of Amazon DynamoDB for tests: it
// serves DynamoDB's AWS JSON 1.0 protocol over HTTP, so the real
// aws-sdk-go-v2 client reaches it through BaseEndpoint or
// AWS_ENDPOINT_URL, and answers with AWS's error shapes.
//
// It implements what berth's state driver uses: tables with a partition
// key, an optional sort key, global and local secondary indexes (on-demand
// billing); PutItem, GetItem, UpdateItem and DeleteItem with condition
// expressions; Query and Scan with filters and pagination; BatchGetItem
// and BatchWriteItem; TransactWriteItems and TransactGetItems; condition,
// update, key condition and projection expressions with their placeholders
// and DynamoDB's validation messages; numbers as exact decimals.
//
// Knobs make it misbehave as DynamoDB can: FailNext answers an error,
// Throttle refuses calls as DynamoDB throttles them, Unprocess leaves
// items of batch calls unprocessed. Calls logs every call with the read
// and write capacity units it consumed, reckoned as DynamoDB bills them,
// whether or not the caller asked for ReturnConsumedCapacity.
//
// Left out: provisioned throughput and UpdateTable, streams, PartiQL
// (ExecuteStatement), backups, exports, global tables, tags, the legacy
// parameters (Expected, AttributesToGet, KeyConditions, QueryFilter,
// ScanFilter, AttributeUpdates), TTL expiry (UpdateTimeToLive is only
// recorded), the 1 MB page limit of Query and Scan (pages end at Limit
// only), and item collection metrics.
package dynamofake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Target is the X-Amz-Target prefix of DynamoDB's operations.
const Target = "DynamoDB_20120810"

// Account and Region are what the fake puts in the ARNs it makes.
const (
	Account = "123456789012"
	Region  = "us-east-1"
)

// Config holds the fake's settings; its zero value is DynamoDB at its
// quickest.
type Config struct {
	// CreateDelay is how long a new table stays CREATING; zero makes it
	// ACTIVE at once.
	CreateDelay time.Duration
}

// Fake is an in-memory DynamoDB. Its zero value is not usable: call New.
type Fake struct {
	cfg Config

	// mu guards tables and tokens.
	mu     sync.Mutex
	tables map[string]*table
	tokens map[string]tokenUse // ClientRequestToken → its first use

	// logMu guards the knobs and the call log.
	logMu     sync.Mutex
	failNext  []Error
	throttle  Throttle
	lastTick  time.Time
	bucket    float64
	unprocess int
	calls     []Call
}

// New returns an empty fake.
func New(cfg Config) *Fake {
	return &Fake{cfg: cfg, tables: map[string]*table{}, tokens: map[string]tokenUse{}}
}

// Call is one request the fake answered.
type Call struct {
	Operation string // "PutItem"
	Table     string // the table named, "" for calls of several
	// Input is the request's body.
	Input map[string]any
	Code  string    // the error code answered, "" for success
	At    time.Time // when the request arrived
	// ReadUnits and WriteUnits are the capacity units the call consumed,
	// indexes included, as DynamoDB would bill them.
	ReadUnits, WriteUnits float64
}

// Error is an error the fake answers, in DynamoDB's shape.
type Error struct {
	Status  int    // HTTP status: 400 for the caller's faults, 500 for the service's
	Code    string // "ConditionalCheckFailedException"
	Message string
	// Fields are members of the error's shape besides its message:
	// CancellationReasons, Item, ThrottlingReasons.
	Fields map[string]any
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

func validation(msg string) *Error {
	return &Error{Status: 400, Code: "ValidationException", Message: msg}
}

func serialization() *Error {
	return &Error{Status: 400, Code: "SerializationException", Message: "Start of structure or map found where not expected"}
}

func notFound() *Error {
	return &Error{Status: 400, Code: "ResourceNotFoundException", Message: "Requested resource not found"}
}

// wireType is the __type DynamoDB gives each error code.
func wireType(code string) string {
	switch code {
	case "ValidationException":
		return "com.amazon.coral.validate#" + code
	case "SerializationException", "UnknownOperationException", "MissingAuthenticationTokenException", "UnrecognizedClientException":
		return "com.amazon.coral.service#" + code
	case "ThrottlingException":
		return "com.amazon.coral.availability#" + code
	}
	return "com.amazonaws.dynamodb.v20120810#" + code
}

// FailNext makes the next call answer err, whatever it asks.
func (f *Fake) FailNext(err Error) {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	f.failNext = append(f.failNext, err)
}

// Throttle says which calls of the data plane (the item, query and
// transaction operations) the fake refuses as throttled: on an on-demand
// table DynamoDB answers ThrottlingException, with ThrottlingReasons that
// name the table. The SDK retries them.
type Throttle struct {
	// Next is how many calls to refuse from now on.
	Next int
	// PerSecond, when not zero, is the rate of calls let through (a
	// bucket of a second's worth); the calls beyond it are refused.
	PerSecond float64
}

// Throttle sets the calls to refuse, replacing the previous setting.
func (f *Fake) Throttle(t Throttle) {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	f.throttle = t
	f.bucket = t.PerSecond
	f.lastTick = time.Now()
}

// Unprocess makes BatchGetItem and BatchWriteItem leave the next n items
// (keys or writes) they are asked for unprocessed, as DynamoDB does when
// it throttles part of a batch.
func (f *Fake) Unprocess(n int) {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	f.unprocess = n
}

// takeUnprocessed counts down the items to leave unprocessed.
func (f *Fake) takeUnprocessed() bool {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	if f.unprocess > 0 {
		f.unprocess--
		return true
	}
	return false
}

// throttled tells whether the throttle refuses a call now.
func (f *Fake) throttled() bool {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	if f.throttle.Next > 0 {
		f.throttle.Next--
		return true
	}
	if f.throttle.PerSecond == 0 {
		return false
	}
	now := time.Now()
	f.bucket = min(f.throttle.PerSecond, f.bucket+now.Sub(f.lastTick).Seconds()*f.throttle.PerSecond)
	f.lastTick = now
	if f.bucket < 1 {
		return true
	}
	f.bucket--
	return false
}

// Calls returns the calls answered so far, oldest first.
func (f *Fake) Calls() []Call {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Count returns how many calls of the operation were answered so far,
// errors included.
func (f *Fake) Count(op string) int {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Operation == op {
			n++
		}
	}
	return n
}

// Units returns the read and write capacity units consumed by the calls
// so far.
func (f *Fake) Units() (read, write float64) {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	for _, c := range f.calls {
		read += c.ReadUnits
		write += c.WriteUnits
	}
	return read, write
}

// dataPlane are the operations the throttle refuses.
var dataPlane = map[string]bool{
	"GetItem": true, "PutItem": true, "UpdateItem": true, "DeleteItem": true, "Query": true, "Scan": true,
	"BatchGetItem": true, "BatchWriteItem": true, "TransactWriteItems": true, "TransactGetItems": true,
}

// ServeHTTP implements http.Handler.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), Target+".")
	call := Call{Operation: name, At: time.Now()}
	body, _ := io.ReadAll(r.Body)
	var raw map[string]json.RawMessage
	var fail *Error
	switch {
	case r.Method != http.MethodPost || !ok:
		fail = &Error{Status: 400, Code: "UnknownOperationException", Message: "unknown operation " + r.Header.Get("X-Amz-Target")}
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.0"):
		fail = &Error{Status: 400, Code: "SerializationException", Message: "want Content-Type application/x-amz-json-1.0"}
	case !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="):
		fail = &Error{Status: 400, Code: "MissingAuthenticationTokenException", Message: "Request is missing Authentication Token"}
	case json.Unmarshal(body, &raw) != nil || raw == nil:
		fail = serialization()
	}
	json.Unmarshal(body, &call.Input)
	if s, ok := call.Input["TableName"].(string); ok {
		call.Table = s
	}
	if fail == nil {
		f.logMu.Lock()
		if len(f.failNext) > 0 {
			fail = &f.failNext[0]
			f.failNext = f.failNext[1:]
		}
		f.logMu.Unlock()
	}
	if fail == nil && dataPlane[name] && f.throttled() {
		fail = throttling(call.Table)
	}
	var out any
	if fail == nil {
		rc := &request{raw: raw}
		out, fail = f.dispatch(name, rc)
		call.ReadUnits, call.WriteUnits = rc.read, rc.write
	}
	if fail != nil {
		call.Code = fail.Code
	}
	f.logMu.Lock()
	f.calls = append(f.calls, call)
	n := len(f.calls)
	f.logMu.Unlock()
	status := http.StatusOK
	if fail != nil {
		status = fail.Status
		m := map[string]any{"__type": wireType(fail.Code), "message": fail.Message}
		for k, v := range fail.Fields {
			m[k] = v
		}
		out = m
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(out); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("fake-%d", n))
	w.Header().Set("X-Amz-Crc32", fmt.Sprint(crc32.ChecksumIEEE(buf.Bytes())))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// throttling is DynamoDB's answer to a throttled call on an on-demand
// table. ThrottlingException spells its member throttlingReasons, unlike
// ProvisionedThroughputExceededException's ThrottlingReasons.
func throttling(table string) *Error {
	return &Error{Status: 400, Code: "ThrottlingException",
		Message: "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly.",
		Fields: map[string]any{"throttlingReasons": []map[string]string{{
			"reason": "TableWriteKeyRangeThroughputExceeded", "resource": tableARN(table),
		}}}}
}

func tableARN(name string) string {
	return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", Region, Account, name)
}

// request is one call being answered: its body, and the capacity it
// consumes.
type request struct {
	raw         map[string]json.RawMessage
	read, write float64
}

// decode reads the request's body into v.
func (r *request) decode(v any) *Error {
	b, _ := json.Marshal(r.raw)
	if err := json.Unmarshal(b, v); err != nil {
		return serialization()
	}
	return nil
}

func (f *Fake) dispatch(name string, r *request) (any, *Error) {
	ops := map[string]func(*request) (any, *Error){
		"CreateTable": f.createTable, "DescribeTable": f.describeTable, "DeleteTable": f.deleteTable,
		"ListTables": f.listTables, "UpdateTimeToLive": f.updateTTL, "DescribeTimeToLive": f.describeTTL,
		"PutItem": f.putItem, "GetItem": f.getItem, "UpdateItem": f.updateItem, "DeleteItem": f.deleteItem,
		"Query": f.query, "Scan": f.scan, "BatchGetItem": f.batchGetItem, "BatchWriteItem": f.batchWriteItem,
		"TransactWriteItems": f.transactWriteItems, "TransactGetItems": f.transactGetItems,
	}
	op, ok := ops[name]
	if !ok {
		return nil, &Error{Status: 400, Code: "UnknownOperationException", Message: "the fake does not implement " + name}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return op(r)
}

// asError turns an error of the expression code into the fake's.
func asError(err error) *Error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return e
	}
	return validation(err.Error())
}
