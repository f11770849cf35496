package awsfake

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// SecretsManager is a fake of AWS Secrets Manager's GetSecretValue (AWS
// JSON 1.1, X-Amz-Target secretsmanager.GetSecretValue). A secret is
// found by its name, its ARN or its ARN without the six random
// characters Secrets Manager appends to the name; versions are found by
// id or stage (AWSCURRENT when the call names neither).
type SecretsManager struct {
	jsonService

	// mu guards secrets.
	mu      sync.Mutex
	secrets []*secret
}

// secret is one stored secret and its versions, newest last.
type secret struct {
	name, arn string
	denied    bool
	versions  []secretVersion
}

type secretVersion struct {
	id     string
	stages []string
	value  string
	binary []byte
}

// NewSecretsManager returns a fake with no secrets.
func NewSecretsManager() *SecretsManager {
	return &SecretsManager{jsonService: jsonService{target: "secretsmanager"}}
}

// Put stores value as the AWSCURRENT version of the secret name (the
// version it replaces becomes AWSPREVIOUS) and returns the secret's ARN.
func (s *SecretsManager) Put(name, value string) string {
	return s.put(name, secretVersion{value: value})
}

// PutBinary stores a binary secret and returns its ARN.
func (s *SecretsManager) PutBinary(name string, value []byte) string {
	return s.put(name, secretVersion{binary: value})
}

func (s *SecretsManager) put(name string, v secretVersion) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.find(name)
	if sec == nil {
		sec = &secret{name: name, arn: "arn:aws:secretsmanager:" + Region + ":" + Account + ":secret:" + name + "-AbCdEf"}
		s.secrets = append(s.secrets, sec)
	}
	for i := range sec.versions {
		sec.versions[i].stages = slices.DeleteFunc(sec.versions[i].stages, func(st string) bool { return st == "AWSPREVIOUS" })
		for k, st := range sec.versions[i].stages {
			if st == "AWSCURRENT" {
				sec.versions[i].stages[k] = "AWSPREVIOUS"
			}
		}
	}
	v.id = "v" + strconv.Itoa(len(sec.versions)+1)
	v.stages = []string{"AWSCURRENT"}
	sec.versions = append(sec.versions, v)
	return sec.arn
}

// Deny makes GetSecretValue of the secret answer AccessDeniedException.
func (s *SecretsManager) Deny(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.find(name); sec != nil {
		sec.denied = true
	}
}

// find returns the secret that id names, or nil.
func (s *SecretsManager) find(id string) *secret {
	for _, sec := range s.secrets {
		if id == sec.name || id == sec.arn || id == strings.TrimSuffix(sec.arn, "-AbCdEf") {
			return sec
		}
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (s *SecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.serve(w, r, func(op string, in map[string]any) (any, *APIError) {
		if op != "GetSecretValue" {
			return nil, &APIError{Status: 400, Code: "UnknownOperationException", Message: "the fake serves GetSecretValue only"}
		}
		return s.getSecretValue(in)
	})
}

func (s *SecretsManager) getSecretValue(in map[string]any) (any, *APIError) {
	id, stage, versionID := str(in, "SecretId"), str(in, "VersionStage"), str(in, "VersionId")
	if stage == "" && versionID == "" {
		stage = "AWSCURRENT"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.find(id)
	switch {
	case id == "":
		return nil, &APIError{Status: 400, Code: "InvalidParameterException", Message: "You must provide a SecretId."}
	case sec == nil:
		return nil, &APIError{Status: 400, Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret."}
	case sec.denied:
		return nil, &APIError{Status: 400, Code: "AccessDeniedException",
			Message: "User: arn:aws:sts::" + Account + ":assumed-role/berth-node/i-0fake is not authorized to perform: secretsmanager:GetSecretValue on resource: " + id + " because no identity-based policy allows the secretsmanager:GetSecretValue action"}
	}
	for _, v := range slices.Backward(sec.versions) {
		if (versionID != "" && v.id != versionID) || (stage != "" && !slices.Contains(v.stages, stage)) {
			continue
		}
		out := map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.stages, "CreatedDate": 1.7e9}
		if v.binary != nil {
			out["SecretBinary"] = v.binary // encoding/json writes base64, as the protocol wants
		} else {
			out["SecretString"] = v.value
		}
		return out, nil
	}
	return nil, &APIError{Status: 400, Code: "ResourceNotFoundException", Message: "Secrets Manager can't find the specified secret value for VersionId: " + versionID + ", VersionStage: " + stage}
}
