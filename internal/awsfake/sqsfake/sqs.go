// Package sqsfake is a wire fake of Amazon SQS for tests: an http.Handler
// that speaks the protocol of aws-sdk-go-v2's SQS client (AWS JSON 1.0:
// POST /, X-Amz-Target AmazonSQS.<Operation>, Content-Type
// application/x-amz-json-1.0), so that the real client reaches it through
// its BaseEndpoint or AWS_ENDPOINT_URL, with httptest.NewServer or, in a
// testing/synctest bubble, awsfake.InProcess.
//
// It keeps standard queues in memory: SendMessage, ReceiveMessage (long
// polling that ends as soon as a message is there; visibility timeouts;
// a new receipt handle per receive; ApproximateReceiveCount), DeleteMessage,
// DeleteMessageBatch, ChangeMessageVisibility, GetQueueUrl,
// GetQueueAttributes and CreateQueue. Errors are SQS's: the error shape in
// the body's __type and the query protocol's code in x-amzn-query-error,
// which the SDK reports as the error's code
// (AWS.SimpleQueueService.NonExistentQueue, ReceiptHandleIsInvalid,
// InvalidParameterValue, ...). Knobs: the clock, errors to inject; every
// call is logged.
//
// Left out: FIFO queues, message attributes, dead-letter queues, message
// retention and the sampling that makes a real short poll miss messages.
package sqsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-run/berth/internal/awsfake"
)

// SQS is the fake service: its queues, knobs and call log.
type SQS struct {
	// logMu guards failNext, calls and requests.
	logMu    sync.Mutex
	failNext []failure
	calls    []awsfake.Call
	requests int

	// mu guards clock, queues, seq and changed.
	mu     sync.Mutex
	clock  func() time.Time
	queues map[string]*queue // by name
	seq    int64             // numbers messages and receipts
	// changed is closed, and replaced, whenever a message may have
	// become receivable: waiting long polls look again.
	changed chan struct{}
}

// New returns a fake with no queues, on the real clock.
func New() *SQS {
	return &SQS{clock: time.Now, queues: map[string]*queue{}, changed: make(chan struct{})}
}

// SetClock makes the fake read the time from now: when messages become
// visible again, their timestamps. Long polls still wait on timers (real
// ones, or a synctest bubble's); after moving a clock of its own, a test
// calls Wake so that waiting polls look again.
func (s *SQS) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clock = now
	s.wakeLocked()
}

// Wake makes waiting long polls look at their queues again.
func (s *SQS) Wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wakeLocked()
}

// wakeLocked wakes the waiting polls. s.mu is held.
func (s *SQS) wakeLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// APIError is an error the fake answers, in SQS's shape.
type APIError struct {
	Status int // 400 for the caller's faults, 500 for the service's
	// Type is the error's shape, the body's __type:
	// "com.amazonaws.sqs#QueueDoesNotExist".
	Type string
	// Code is the query protocol's code, sent in x-amzn-query-error with
	// the fault: "AWS.SimpleQueueService.NonExistentQueue". The SDK
	// reports it as the error's code. Empty sends no header.
	Code    string
	Message string
}

// The errors SQS answers, by the code the SDK reports.
func errNoQueue() *APIError {
	return &APIError{Status: 400, Type: "com.amazonaws.sqs#QueueDoesNotExist", Code: "AWS.SimpleQueueService.NonExistentQueue",
		Message: "The specified queue does not exist."}
}

func errInvalidParam(format string, args ...any) *APIError {
	return &APIError{Status: 400, Type: "com.amazon.coral.service#InvalidParameterValueException", Code: "InvalidParameterValue",
		Message: fmt.Sprintf(format, args...)}
}

func errMissingParam(name string) *APIError {
	return &APIError{Status: 400, Type: "com.amazon.coral.service#MissingParameterException", Code: "MissingParameter",
		Message: "The request must contain the parameter " + name + "."}
}

func errReceiptHandle(h string) *APIError {
	return &APIError{Status: 400, Type: "com.amazonaws.sqs#ReceiptHandleIsInvalid", Code: "ReceiptHandleIsInvalid",
		Message: fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", h)}
}

// Internal is a fault of the service, for FailNext.
var Internal = APIError{Status: 500, Type: "com.amazonaws.sqs#InternalError", Code: "InternalError",
	Message: "We encountered an internal error. Please try again."}

// failure is an error to answer to the next call of op ("" for any).
type failure struct {
	op  string
	err APIError
}

// FailNext makes the next call answer err, whatever it asks.
func (s *SQS) FailNext(err APIError) {
	s.FailNextOn("", err)
}

// FailNextOn makes the next call of operation op ("DeleteMessage")
// answer err. Errors queued for an operation answer its calls in turn.
func (s *SQS) FailNextOn(op string, err APIError) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.failNext = append(s.failNext, failure{op: op, err: err})
}

// Calls returns the calls answered so far, oldest first. A long poll is
// logged when it answers.
func (s *SQS) Calls() []awsfake.Call {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]awsfake.Call(nil), s.calls...)
}

// CallsTo returns how many calls of operation op were answered.
func (s *SQS) CallsTo(op string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Operation == op {
			n++
		}
	}
	return n
}

// ServeHTTP implements http.Handler.
func (s *SQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	call := awsfake.Call{Operation: op, AccessKey: accessKey(r)}
	var in map[string]any
	var out any
	var fail *APIError
	switch {
	case r.Method != http.MethodPost || !ok:
		fail = &APIError{Status: 400, Type: "com.amazon.coral.service#UnknownOperationException", Code: "InvalidAction",
			Message: "unknown operation " + r.Header.Get("X-Amz-Target")}
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.0"):
		fail = &APIError{Status: 400, Type: "com.amazon.coral.service#SerializationException",
			Message: "the fake speaks AWS JSON 1.0 only: want Content-Type application/x-amz-json-1.0"}
	case call.AccessKey == "":
		fail = &APIError{Status: 400, Type: "com.amazon.coral.service#MissingAuthenticationTokenException", Code: "MissingClientTokenId",
			Message: "Request is missing Authentication Token"}
	case json.NewDecoder(r.Body).Decode(&in) != nil:
		fail = &APIError{Status: 400, Type: "com.amazon.coral.service#SerializationException", Message: "the body is not a JSON object"}
	}
	call.Input = in
	if fail == nil {
		s.logMu.Lock()
		for i, f := range s.failNext {
			if f.op == "" || f.op == op {
				fail = &f.err
				s.failNext = slices.Delete(s.failNext, i, i+1)
				break
			}
		}
		s.logMu.Unlock()
	}
	if fail == nil {
		out, fail = s.serve(r, op, in)
	}
	if fail != nil {
		call.Code = fail.Code
		if call.Code == "" {
			call.Code = fail.Type
		}
	}
	s.logMu.Lock()
	s.calls = append(s.calls, call)
	s.requests++
	id := s.requests
	s.logMu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("00000000-0000-4000-8000-%012d", id))
	if fail != nil {
		if fail.Code != "" {
			fault := "Sender"
			if fail.Status >= 500 {
				fault = "Receiver"
			}
			w.Header().Set("X-Amzn-Query-Error", fail.Code+";"+fault)
		}
		w.WriteHeader(fail.Status)
		json.NewEncoder(w).Encode(map[string]string{"__type": fail.Type, "message": fail.Message})
		return
	}
	json.NewEncoder(w).Encode(out)
}

// serve answers one operation.
func (s *SQS) serve(r *http.Request, op string, in map[string]any) (any, *APIError) {
	switch op {
	case "CreateQueue":
		return s.createQueue(r, in)
	case "GetQueueUrl":
		return s.getQueueURL(in)
	case "GetQueueAttributes":
		return s.getQueueAttributes(in)
	case "SendMessage":
		return s.sendMessage(r, in)
	case "ReceiveMessage":
		return s.receiveMessage(r, in)
	case "DeleteMessage":
		return s.deleteMessage(in)
	case "DeleteMessageBatch":
		return s.deleteMessageBatch(in)
	case "ChangeMessageVisibility":
		return s.changeMessageVisibility(in)
	}
	return nil, &APIError{Status: 400, Type: "com.amazon.coral.service#UnknownOperationException", Code: "InvalidAction",
		Message: "the fake does not serve " + op}
}

// accessKey returns the access key id of a request signed with Signature
// Version 4, or "".
func accessKey(r *http.Request) string {
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

// str reads a string member of a request.
func str(in map[string]any, name string) string {
	v, _ := in[name].(string)
	return v
}

// integer reads an integer member of a request: its value, whether it was
// given, and an error when it is not an integer.
func integer(in map[string]any, name string) (int64, bool, *APIError) {
	v, ok := in[name]
	if !ok {
		return 0, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || f != float64(int64(f)) {
		return 0, true, errInvalidParam("Value %v for parameter %s is invalid. Reason: must be an integer.", v, name)
	}
	return int64(f), true, nil
}

// bounded reads an optional integer member that must lie within [lo, hi];
// def when it is not given.
func bounded(in map[string]any, name string, lo, hi, def int64) (int64, *APIError) {
	v, given, err := integer(in, name)
	switch {
	case err != nil:
		return 0, err
	case !given:
		return def, nil
	case v < lo || v > hi:
		return 0, errInvalidParam("Value %d for parameter %s is invalid. Reason: Must be between %d and %d, if provided.", v, name, lo, hi)
	}
	return v, nil
}

// stringList reads a member that is a list of strings.
func stringList(in map[string]any, name string) []string {
	l, _ := in[name].([]any)
	var out []string
	for _, v := range l {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
