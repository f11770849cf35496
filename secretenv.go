package berth

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// SecretHidden stands in for a secret_env value given in the job wherever
// berth shows the job: the API, the CLI, schedules' and callbacks' views.
const SecretHidden = "(secret)"

// MaxSecretRef bounds the length of a secret_env reference.
const MaxSecretRef = 2048

// Where a secret_env reference points.
const (
	SecretSSM            = "ssm"            // SSM Parameter Store, read with decryption
	SecretSecretsManager = "secretsmanager" // AWS Secrets Manager
)

// SecretRef is a secret_env value that names where its secret is kept
// instead of holding it: an SSM parameter ("ssm:/prod/db/password", or
// "ssm:" and a parameter's ARN, or a parameter's ARN alone) or a Secrets
// Manager secret, by ARN, optionally followed as in ECS task definitions
// by ":json-key:version-stage:version-id"
// ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::").
// The node's agent reads it when it starts the container.
type SecretRef struct {
	Service string // SecretSSM or SecretSecretsManager
	// ID is the parameter's name or ARN, or the secret's ARN without
	// what follows its name.
	ID           string
	JSONKey      string // the secret is a JSON object: take this key's value
	VersionStage string
	VersionID    string
	// Region is the one the ARN names, "" for a parameter given by name
	// (the agent's own region applies).
	Region string
}

// String is the reference as written in a job.
func (r SecretRef) String() string {
	switch {
	case r.Service == SecretSSM && !strings.HasPrefix(r.ID, "arn:"):
		return "ssm:" + r.ID
	case r.JSONKey == "" && r.VersionStage == "" && r.VersionID == "":
		return r.ID
	}
	return r.ID + ":" + r.JSONKey + ":" + r.VersionStage + ":" + r.VersionID
}

var (
	ssmNameRe   = regexp.MustCompile(`^[A-Za-z0-9_.\-/]+(:[A-Za-z0-9_.\-]+)?$`)
	arnRe       = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):(ssm|secretsmanager):([a-z0-9-]+):([0-9]{12}):(.*)$`)
	secretIDRe  = regexp.MustCompile(`^secret:[A-Za-z0-9/_+=.@-]+$`)
	secretSelRe = regexp.MustCompile(`^[A-Za-z0-9_.\-/+=@ ]*$`)
)

// IsSecretRef reports whether a secret_env value is a reference rather
// than the secret itself: it starts with "ssm:" or is an ARN of SSM or
// Secrets Manager. ParseSecretRef says whether it is a good one.
func IsSecretRef(v string) bool {
	return strings.HasPrefix(v, "ssm:") || arnRe.MatchString(v)
}

// ParseSecretRef reads a secret_env value that IsSecretRef. Its error
// does not repeat v.
func ParseSecretRef(v string) (SecretRef, error) {
	if len(v) > MaxSecretRef {
		return SecretRef{}, fmt.Errorf("a reference is at most %d characters", MaxSecretRef)
	}
	if name, ok := strings.CutPrefix(v, "ssm:"); ok {
		if strings.HasPrefix(name, "arn:") {
			r, err := ParseSecretRef(name)
			if err == nil && r.Service != SecretSSM {
				err = errors.New("ssm: takes a parameter's name or ARN, not a Secrets Manager ARN")
			}
			return r, err
		}
		if !ssmNameRe.MatchString(name) {
			return SecretRef{}, errors.New(`ssm: wants a parameter name such as ssm:/prod/db/password (letters, digits, _ . - /; a version or label after ":")`)
		}
		return SecretRef{Service: SecretSSM, ID: name}, nil
	}
	m := arnRe.FindStringSubmatch(v)
	if m == nil {
		return SecretRef{}, errors.New("is neither ssm:NAME nor an ARN of SSM or Secrets Manager")
	}
	service, region, resource := m[2], m[3], m[5]
	if service == SecretSSM {
		name, ok := strings.CutPrefix(resource, "parameter/")
		if !ok || !ssmNameRe.MatchString(name) {
			return SecretRef{}, errors.New("an SSM ARN names a parameter: arn:aws:ssm:REGION:ACCOUNT:parameter/NAME")
		}
		return SecretRef{Service: SecretSSM, ID: v, Region: region}, nil
	}
	// secret:NAME[:json-key[:version-stage[:version-id]]]
	parts := strings.Split(resource, ":")
	if len(parts) < 2 || len(parts) > 5 || !secretIDRe.MatchString(parts[0]+":"+parts[1]) {
		return SecretRef{}, errors.New("a Secrets Manager ARN is arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME, optionally followed by :json-key:version-stage:version-id")
	}
	r := SecretRef{Service: SecretSecretsManager, ID: "arn:" + m[1] + ":secretsmanager:" + region + ":" + m[4] + ":" + parts[0] + ":" + parts[1], Region: region}
	sel := append(parts[2:], "", "", "")
	r.JSONKey, r.VersionStage, r.VersionID = sel[0], sel[1], sel[2]
	for _, s := range sel[:3] {
		if !secretSelRe.MatchString(s) {
			return SecretRef{}, errors.New("the json-key, version-stage and version-id after a Secrets Manager ARN are letters, digits and _ . - / + = @")
		}
	}
	if r.VersionStage != "" && r.VersionID != "" {
		return SecretRef{}, errors.New("give a Secrets Manager ARN's version-stage or its version-id, not both")
	}
	return r, nil
}

// validateSecretEnv checks secret_env as env is checked, and its
// references. No problem it reports repeats a value.
func (s JobSpec) validateSecretEnv() error {
	if len(s.SecretEnv) > MaxEnv {
		return fieldErr("secret_env", "has more than %d variables", MaxEnv)
	}
	for k, v := range s.SecretEnv {
		field := "secret_env." + k
		switch {
		case !envKeyRe.MatchString(k) || len(k) > maxShortString:
			return fieldErr("secret_env", "%q is not a valid variable name", k)
		case strings.HasPrefix(k, "BERTH_"):
			return fieldErr(field, "names starting with BERTH_ are reserved")
		case len(v) > maxLongString || strings.ContainsRune(v, 0):
			return fieldErr(field, "is longer than %d bytes or holds a NUL byte", maxLongString)
		case v == SecretHidden:
			return fieldErr(field, "%s is what berth shows in place of a secret: give the value itself", SecretHidden)
		}
		if _, ok := s.Env[k]; ok {
			return fieldErr(field, "is in env as well: give each variable in one of them")
		}
		if IsSecretRef(v) {
			if _, err := ParseSecretRef(v); err != nil {
				return fieldErr(field, "%v", err)
			}
		}
	}
	return nil
}

// WithSecretsHidden returns s with its secret_env as berth shows it: a
// reference stays, since it tells where the secret is kept and not what
// it is, and a value given in the job becomes SecretHidden.
func (s JobSpec) WithSecretsHidden() JobSpec {
	if len(s.SecretEnv) == 0 {
		return s
	}
	hidden := make(map[string]string, len(s.SecretEnv))
	for k, v := range s.SecretEnv {
		if IsSecretRef(v) {
			hidden[k] = v
		} else {
			hidden[k] = SecretHidden
		}
	}
	s.SecretEnv = hidden
	return s
}
