package awsfake

import (
	"net/http"
	"strings"
	"sync"
)

// SSM is a fake of SSM Parameter Store's GetParameter (AWS JSON 1.1,
// X-Amz-Target AmazonSSM.GetParameter). A SecureString is answered in
// plain text only when the call asks WithDecryption, as SSM does.
type SSM struct {
	jsonService

	// mu guards params and denied.
	mu     sync.Mutex
	params map[string]Parameter
	denied map[string]bool
}

// Parameter is one stored parameter.
type Parameter struct {
	Type    string // "String", "StringList" or "SecureString"
	Value   string
	Version int64
}

// NewSSM returns a fake with no parameters.
func NewSSM() *SSM {
	return &SSM{jsonService: jsonService{target: "AmazonSSM"}, params: map[string]Parameter{}, denied: map[string]bool{}}
}

// Put stores a parameter (version 1, or one more than the one it
// replaces).
func (s *SSM) Put(name, typ, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.params[name] = Parameter{Type: typ, Value: value, Version: s.params[name].Version + 1}
}

// Deny makes GetParameter of name answer AccessDeniedException, as for a
// role without ssm:GetParameter on it.
func (s *SSM) Deny(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[name] = true
}

// ServeHTTP implements http.Handler.
func (s *SSM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, func(op string, in map[string]any) (any, *APIError) {
		if op != "GetParameter" {
			return nil, &APIError{Status: 400, Code: "UnknownOperationException", Message: "the fake serves GetParameter only"}
		}
		return s.getParameter(in)
	})
}

func (s *SSM) getParameter(in map[string]any) (any, *APIError) {
	name := str(in, "Name")
	if arn, ok := strings.CutPrefix(name, "arn:aws:ssm:"); ok {
		_, rest, _ := strings.Cut(arn, ":parameter")
		name = rest
	}
	name, _, _ = strings.Cut(name, ":") // a version or label selects; the fake keeps the latest only
	s.mu.Lock()
	p, ok := s.params[name]
	denied := s.denied[name]
	s.mu.Unlock()
	switch {
	case name == "":
		return nil, &APIError{Status: 400, Code: "ValidationException", Message: "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null"}
	case denied:
		return nil, &APIError{Status: 400, Code: "AccessDeniedException",
			Message: "User: arn:aws:sts::" + Account + ":assumed-role/berth-node/i-0fake is not authorized to perform: ssm:GetParameter on resource: " + s.arn(name) + " because no identity-based policy allows the ssm:GetParameter action"}
	case !ok:
		return nil, &APIError{Status: 400, Code: "ParameterNotFound", Message: ""}
	}
	value := p.Value
	if p.Type == "SecureString" && in["WithDecryption"] != true {
		value = "AQICAHhfakeCiphertextOfTheParameter=="
	}
	return map[string]any{"Parameter": map[string]any{
		"ARN": s.arn(name), "DataType": "text", "LastModifiedDate": 1.7e9,
		"Name": name, "Type": p.Type, "Value": value, "Version": p.Version,
	}}, nil
}

func (s *SSM) arn(name string) string {
	return "arn:aws:ssm:" + Region + ":" + Account + ":parameter/" + strings.TrimPrefix(name, "/")
}
