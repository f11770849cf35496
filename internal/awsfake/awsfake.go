// Package awsfake holds wire fakes of the AWS services berth calls, for
// tests: each serves its service's own protocol over HTTP, so the real
// aws-sdk-go-v2 clients reach it through their BaseEndpoint or
// AWS_ENDPOINT_URL, and answers AWS's error shapes. Each fake keeps its
// state in memory, takes errors to inject, and logs the calls made to it.
//
// The JSON 1.1 services (SSM, Secrets Manager, the Price List API) name the operation in the
// X-Amz-Target header; Endpoint serves several of them at one address, as
// AWS_ENDPOINT_URL points every client at one.
package awsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
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

// serve reads one request of the protocol and writes what op answers: a
// value to encode, or an *APIError.
func (s *jsonService) serve(w http.ResponseWriter, r *http.Request, op func(name string, in map[string]any) (any, *APIError)) {
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), s.target+".")
	call := Call{Operation: name, AccessKey: accessKey(r)}
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
	s.logMu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("fake-%d", len(s.Calls())))
	if fail != nil {
		w.Header().Set("X-Amzn-ErrorType", fail.Code)
		w.WriteHeader(fail.Status)
		json.NewEncoder(w).Encode(map[string]string{"__type": fail.Code, "message": fail.Message})
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
	default:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "UnknownOperationException")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"__type": "UnknownOperationException", "message": "no fake serves " + target})
	}
}
