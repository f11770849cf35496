package awssecret

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake"
)

// fakes serves the two services' fakes on one endpoint.
func fakes(t *testing.T) (*awsfake.SSM, *awsfake.SecretsManager, string) {
	t.Helper()
	p, s := awsfake.NewSSM(), awsfake.NewSecretsManager()
	srv := httptest.NewServer(awsfake.Endpoint{SSM: p, SecretsManager: s})
	t.Cleanup(srv.Close)
	return p, s, srv.URL
}

// reader is a Reader whose clients reach url, signing with static
// credentials, without retries.
func reader(url string) *Reader {
	return NewWithConfig(aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-key", ""),
		BaseEndpoint:     aws.String(url),
		RetryMaxAttempts: 1,
	})
}

func ref(t *testing.T, v string) berth.SecretRef {
	t.Helper()
	r, err := berth.ParseSecretRef(v)
	if err != nil {
		t.Fatalf("ParseSecretRef(%q): %v", v, err)
	}
	return r
}

func TestResolve(t *testing.T) {
	p, s, url := fakes(t)
	p.Put("/prod/db/password", "SecureString", "pw-from-ssm")
	p.Put("/prod/region", "String", "eu")
	p.Put("/prod/denied", "SecureString", "x")
	p.Deny("/prod/denied")
	arn := s.Put("prod/db", `{"username":"app","password":"pw-from-sm","port":5432}`)
	s.Put("prod/db", `{"username":"app","password":"pw-rotated","port":5432}`)
	plain := s.Put("prod/token", "tok-from-sm")
	binary := s.PutBinary("prod/blob", []byte{1, 2, 3})
	s.Put("prod/denied", "x")
	s.Deny("prod/denied")
	r := reader(url)
	prefix := "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
	tests := []struct {
		ref  string
		want string
		err  string // what the error says; "" for none
	}{
		{"ssm:/prod/db/password", "pw-from-ssm", ""},
		{"ssm:/prod/region", "eu", ""},
		{"arn:aws:ssm:us-east-1:123456789012:parameter/prod/db/password", "pw-from-ssm", ""},
		{"ssm:/prod/missing", "", "ParameterNotFound"},
		{"ssm:/prod/denied", "", "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/berth-node/i-0fake is not authorized"},
		{plain, "tok-from-sm", ""},
		{arn + ":password::", "pw-rotated", ""},
		{arn + ":port::", "5432", ""},
		{arn + ":password:AWSPREVIOUS:", "pw-from-sm", ""},
		{arn + ":password::v1", "pw-from-sm", ""},
		{prefix + "prod/db:password::", "pw-rotated", ""}, // a partial ARN, without the random suffix
		{arn + ":missing::", "", `the secret has no JSON key "missing"`},
		{plain + ":password::", "", `the secret is not a JSON object, so it has no key "password"`},
		{binary, "", "the secret is binary"},
		{prefix + "prod/nothing-AbCdEf", "", "ResourceNotFoundException: Secrets Manager can't find the specified secret."},
		{prefix + "prod/denied-AbCdEf", "", "AccessDeniedException"},
	}
	for _, tt := range tests {
		got, err := r.Resolve(context.Background(), ref(t, tt.ref))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Resolve(%s): %v", tt.ref, err)
		case tt.err == "" && got != tt.want:
			t.Errorf("Resolve(%s) = %q, want %q", tt.ref, got, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Resolve(%s) = %q, %v; want an error saying %q", tt.ref, got, err, tt.err)
		case tt.err != "" && errors.Is(err, berth.ErrSecretUnavailable):
			t.Errorf("Resolve(%s) = %v: a refusal, not the service's failure", tt.ref, err)
		}
	}
	for _, c := range append(p.Calls(), s.Calls()...) {
		if c.AccessKey != "AKIDTEST" {
			t.Errorf("%s was signed with %q, want the configured credentials", c.Operation, c.AccessKey)
		}
		if c.Operation == "GetParameter" && c.Input["WithDecryption"] != true {
			t.Errorf("GetParameter(%v) without decryption", c.Input["Name"])
		}
	}
}

// TestResolveUnavailable: the service's own failures and throttling are
// ErrSecretUnavailable; the job is not to blame.
func TestResolveUnavailable(t *testing.T) {
	p, s, url := fakes(t)
	p.Put("/a", "SecureString", "x")
	arn := s.Put("a", "x")
	r := reader(url)
	for _, fail := range []awsfake.APIError{
		{Status: 500, Code: "InternalServerError", Message: "boom"},
		{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"},
	} {
		p.FailNext(fail)
		if _, err := r.Resolve(context.Background(), ref(t, "ssm:/a")); !errors.Is(err, berth.ErrSecretUnavailable) {
			t.Errorf("GetParameter answered %s: Resolve = %v, want ErrSecretUnavailable", fail.Code, err)
		}
		s.FailNext(fail)
		if _, err := r.Resolve(context.Background(), ref(t, arn)); !errors.Is(err, berth.ErrSecretUnavailable) {
			t.Errorf("GetSecretValue answered %s: Resolve = %v, want ErrSecretUnavailable", fail.Code, err)
		}
	}
	down := reader("http://127.0.0.1:1")
	if _, err := down.Resolve(context.Background(), ref(t, "ssm:/a")); !errors.Is(err, berth.ErrSecretUnavailable) {
		t.Errorf("no service at the endpoint: Resolve = %v, want ErrSecretUnavailable", err)
	}
}

// TestDefaultConfig: New takes its endpoint, region and credentials from
// the SDK's default chain, AWS_ENDPOINT_URL among them.
func TestDefaultConfig(t *testing.T) {
	p, s, url := fakes(t)
	p.Put("/a", "SecureString", "from-ssm")
	arn := s.Put("b", "from-sm")
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": url, "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "x",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE": "", "AWS_SESSION_TOKEN": "", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	r := New()
	for v, want := range map[string]string{"ssm:/a": "from-ssm", arn: "from-sm"} {
		if got, err := r.Resolve(context.Background(), ref(t, v)); err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", v, got, err, want)
		}
	}
	for _, c := range append(p.Calls(), s.Calls()...) {
		if c.AccessKey != "AKIDENV" {
			t.Errorf("%s was signed with %q, want the key in AWS_ACCESS_KEY_ID", c.Operation, c.AccessKey)
		}
	}
}

// TestNoCredentials: a node with no AWS credentials at all fails the
// reference at once, saying so, rather than waiting for a service that
// can never be asked.
func TestNoCredentials(t *testing.T) {
	_, _, url := fakes(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": url, "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE": "", "AWS_SESSION_TOKEN": "", "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
	} {
		t.Setenv(k, v)
	}
	_, err := New().Resolve(context.Background(), ref(t, "ssm:/a"))
	if err == nil || errors.Is(err, berth.ErrSecretUnavailable) || !strings.Contains(err.Error(), "no AWS credentials") {
		t.Errorf("Resolve with no credentials = %v, want an error saying the node has none, not ErrSecretUnavailable", err)
	}
}
