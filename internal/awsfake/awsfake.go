// Package awsfake holds wire fakes of the AWS services berth calls, for
// tests: each serves its service's own protocol over HTTP, so the real
// aws-sdk-go-v2 clients reach it through their BaseEndpoint or
// AWS_ENDPOINT_URL, and answers AWS's error shapes. Each fake keeps its
// state in memory, takes errors to inject, and logs the calls made to it.
//
// The JSON 1.1 services (SSM, Secrets Manager, the Price List API, ECS,
// CloudWatch Logs) name the operation in the X-Amz-Target header;
// Endpoint serves several of them at one address, as AWS_ENDPOINT_URL
// points every client at one. Each fake's Calls and Count give its call
// log by operation; FailNext makes the next call answer an error.
//
// The ECS fake runs Fargate tasks on an Engine: MemoryEngine holds
// thousands of scripted tasks cheaply, and package ecsdocker runs them as
// real containers on the local Docker engine (a package of its own, so
// that the many tests importing awsfake do not depend on the Docker
// client). Their output goes to the Logs fake as the awslogs driver
// sends it to CloudWatch Logs.
package awsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Account and Region are what the fakes put in the ARNs they make.
const (
	Account = "123456789012"
	Region  = "us-east-1"
)

// Call is one request a fake answered.
type Call struct {
	Operation string // "GetParameter"
	// AccessKey is the access key id the request was signed with, ""
	// when it was not signed.
	AccessKey string
	Input     map[string]any // the request's body
	Code      string         // the error code answered, "" for success
	At        time.Time      // when the request arrived
}

// jsonService is what the fakes of AWS JSON 1.1 services share: the
// call log, errors to inject, and the protocol's framing.
type jsonService struct {
	target string // the X-Amz-Target prefix: "AmazonSSM"

	// logMu guards failNext and calls.
	logMu    sync.Mutex
	failNext []APIError
	calls    []Call
}

// APIError is an error a fake answers, in AWS's shape.
type APIError struct {
	Status  int    // HTTP status: 400 for the caller's faults, 500 for the service's
	Code    string // "ParameterNotFound"
	Message string
	// Fields are members of the error's shape besides its message:
	// ECS's ConflictException has resourceIds.
	Fields map[string]any
}

// FailNext makes the next call answer err, whatever it asks.
func (s *jsonService) FailNext(err APIError) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.failNext = append(s.failNext, err)
}

// Calls returns the calls answered so far, oldest first.
func (s *jsonService) Calls() []Call {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many calls of the operation were answered so far,
// errors included.
func (s *jsonService) Count(op string) int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Operation == op {
			n++
		}
	}
	return n
}

// CountCode returns how many calls of the operation were answered with
// the error code so far.
func (s *jsonService) CountCode(op, code string) int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	n := 0
	for _, c := range s.calls {
		if c.Operation == op && c.Code == code {
			n++
		}
	}
	return n
}

// serve reads one request of the protocol and writes what op answers: a
// value to encode, or an *APIError.
func (s *jsonService) serve(w http.ResponseWriter, r *http.Request, op func(name string, in map[string]any) (any, *APIError)) {
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), s.target+".")
	call := Call{Operation: name, AccessKey: accessKey(r), At: time.Now()}
	var in map[string]any
	var out any
	var fail *APIError
	switch {
	case r.Method != http.MethodPost || !ok:
		fail = &APIError{Status: 400, Code: "UnknownOperationException", Message: "unknown operation " + r.Header.Get("X-Amz-Target")}
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1"):
		fail = &APIError{Status: 400, Code: "SerializationException", Message: "want Content-Type application/x-amz-json-1.1"}
	case call.AccessKey == "":
		fail = &APIError{Status: 400, Code: "MissingAuthenticationTokenException", Message: "Request is missing Authentication Token"}
	case json.NewDecoder(r.Body).Decode(&in) != nil:
		fail = &APIError{Status: 400, Code: "SerializationException", Message: "the body is not a JSON object"}
	}
	call.Input = in
	if fail == nil {
		s.logMu.Lock()
		if len(s.failNext) > 0 {
			fail = &s.failNext[0]
			s.failNext = s.failNext[1:]
		}
		s.logMu.Unlock()
	}
	if fail == nil {
		out, fail = op(name, in)
	}
	if fail != nil {
		call.Code = fail.Code
	}
	s.logMu.Lock()
	s.calls = append(s.calls, call)
	n := len(s.calls)
	s.logMu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("fake-%d", n))
	if fail != nil {
		w.Header().Set("X-Amzn-ErrorType", fail.Code)
		w.WriteHeader(fail.Status)
		body := map[string]any{"__type": fail.Code, "message": fail.Message}
		for k, v := range fail.Fields {
			body[k] = v
		}
		json.NewEncoder(w).Encode(body)
		return
	}
	json.NewEncoder(w).Encode(out)
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
	s, _ := in[name].(string)
	return s
}

// Endpoint serves fakes of JSON 1.1 services at one address, each
// request to the fake its X-Amz-Target names; CloudWatch's requests,
// which name theirs in the path (CloudWatchPath), go to CloudWatch.
type Endpoint struct {
	SSM            *SSM
	SecretsManager *SecretsManager
	Pricing        *Pricing
	ECS            *ECS
	Logs           *Logs
	CloudWatch     *CloudWatch
}

// ServeHTTP implements http.Handler.
func (e Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	switch {
	case e.CloudWatch != nil && strings.HasPrefix(r.URL.Path, CloudWatchPath):
		e.CloudWatch.ServeHTTP(w, r)
	case e.SSM != nil && strings.HasPrefix(target, e.SSM.target+"."):
		e.SSM.ServeHTTP(w, r)
	case e.SecretsManager != nil && strings.HasPrefix(target, e.SecretsManager.target+"."):
		e.SecretsManager.ServeHTTP(w, r)
	case e.Pricing != nil && strings.HasPrefix(target, e.Pricing.target+"."):
		e.Pricing.ServeHTTP(w, r)
	case e.ECS != nil && strings.HasPrefix(target, e.ECS.target+"."):
		e.ECS.ServeHTTP(w, r)
	case e.Logs != nil && strings.HasPrefix(target, e.Logs.target+"."):
		e.Logs.ServeHTTP(w, r)
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "UnknownOperationException")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": "UnknownOperationException", "message": "no fake serves " + target})
	}
}
