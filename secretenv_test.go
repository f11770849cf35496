package berth

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// secretValue is what the tests give as a secret: no message may hold it.
const secretValue = "hunter2-Zq9"

func TestSecretEnvValidate(t *testing.T) {
	many := map[string]string{}
	for i := range MaxEnv + 1 {
		many["V"+strings.Repeat("X", i%7)+string(rune('A'+i%26))+strings.Repeat("Y", i/26)] = secretValue
	}
	tests := []struct {
		name   string
		secret map[string]string
		env    map[string]string
		field  string
	}{
		{"value", map[string]string{"DB_PASSWORD": secretValue}, nil, ""},
		{"empty value", map[string]string{"EMPTY": ""}, nil, ""},
		{"ssm name", map[string]string{"A": "ssm:/prod/db/password"}, nil, ""},
		{"ssm name without a slash", map[string]string{"A": "ssm:db_password"}, nil, ""},
		{"ssm version", map[string]string{"A": "ssm:/prod/db/password:3"}, nil, ""},
		{"ssm arn", map[string]string{"A": "ssm:arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db"}, nil, ""},
		{"bare ssm arn", map[string]string{"A": "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db"}, nil, ""},
		{"secret arn", map[string]string{"A": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"}, nil, ""},
		{"secret arn with key", map[string]string{"A": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf:password::"}, nil, ""},
		{"secret arn with stage", map[string]string{"A": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db:password:AWSPREVIOUS:"}, nil, ""},
		{"bad name", map[string]string{"A-B": secretValue}, nil, "secret_env"},
		{"reserved name", map[string]string{"BERTH_JOB_ID": secretValue}, nil, "secret_env.BERTH_JOB_ID"},
		{"NUL", map[string]string{"A": secretValue + "\x00"}, nil, "secret_env.A"},
		{"too long", map[string]string{"A": strings.Repeat(secretValue, 4000)}, nil, "secret_env.A"},
		{"too many", many, nil, "secret_env"},
		{"also in env", map[string]string{"A": secretValue}, map[string]string{"A": "x"}, "secret_env.A"},
		{"placeholder", map[string]string{"A": SecretHidden}, nil, "secret_env.A"},
		{"empty ssm name", map[string]string{"A": "ssm:"}, nil, "secret_env.A"},
		{"ssm name with spaces", map[string]string{"A": "ssm:" + secretValue + " x"}, nil, "secret_env.A"},
		{"ssm of a secret arn", map[string]string{"A": "ssm:arn:aws:secretsmanager:eu-west-1:123456789012:secret:db"}, nil, "secret_env.A"},
		{"ssm arn of no parameter", map[string]string{"A": "arn:aws:ssm:eu-west-1:123456789012:document/x"}, nil, "secret_env.A"},
		{"secret arn of no secret", map[string]string{"A": "arn:aws:secretsmanager:eu-west-1:123456789012:" + secretValue}, nil, "secret_env.A"},
		{"secret arn with too much", map[string]string{"A": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db:a:b:c:d"}, nil, "secret_env.A"},
		{"secret arn with stage and id", map[string]string{"A": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db::AWSCURRENT:v1"}, nil, "secret_env.A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := JobSpec{Image: "busybox", Env: tt.env, SecretEnv: tt.secret}
			err := s.Validate()
			var fe *FieldError
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.field == "":
				return
			case !errors.As(err, &fe):
				t.Fatalf("Validate() = %v, want a *FieldError of %s", err, tt.field)
			case fe.Field != tt.field:
				t.Errorf("Validate() names %q (%v), want %q", fe.Field, err, tt.field)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Errorf("Validate() = %q: repeats the secret", err)
			}
		})
	}
}

func TestParseSecretRef(t *testing.T) {
	tests := []struct {
		in   string
		want SecretRef
	}{
		{"ssm:/prod/db", SecretRef{Service: SecretSSM, ID: "/prod/db"}},
		{"ssm:/prod/db:label1", SecretRef{Service: SecretSSM, ID: "/prod/db:label1"}},
		{"arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db",
			SecretRef{Service: SecretSSM, ID: "arn:aws:ssm:eu-west-1:123456789012:parameter/prod/db", Region: "eu-west-1"}},
		{"ssm:arn:aws-cn:ssm:cn-north-1:123456789012:parameter/x",
			SecretRef{Service: SecretSSM, ID: "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/x", Region: "cn-north-1"}},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
			SecretRef{Service: SecretSecretsManager, ID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf", Region: "us-east-1"}},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:team/db:password::",
			SecretRef{Service: SecretSecretsManager, ID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/db", JSONKey: "password", Region: "us-east-1"}},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:db::AWSPREVIOUS:",
			SecretRef{Service: SecretSecretsManager, ID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db", VersionStage: "AWSPREVIOUS", Region: "us-east-1"}},
		{"arn:aws:secretsmanager:us-east-1:123456789012:secret:db:user",
			SecretRef{Service: SecretSecretsManager, ID: "arn:aws:secretsmanager:us-east-1:123456789012:secret:db", JSONKey: "user", Region: "us-east-1"}},
	}
	for _, tt := range tests {
		if !IsSecretRef(tt.in) {
			t.Errorf("IsSecretRef(%q) = false", tt.in)
		}
		got, err := ParseSecretRef(tt.in)
		if err != nil {
			t.Errorf("ParseSecretRef(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseSecretRef(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
	for _, v := range []string{"hunter2", "arn:aws:s3:::bucket", "ssm", "SSM:/x", "arn:aws:secretsmanager"} {
		if IsSecretRef(v) {
			t.Errorf("IsSecretRef(%q) = true, want false: a value", v)
		}
	}
}

func TestWithSecretsHidden(t *testing.T) {
	ref := "arn:aws:secretsmanager:us-east-1:123456789012:secret:db:password::"
	s := JobSpec{Image: "busybox", SecretEnv: map[string]string{"PW": secretValue, "REF": ref, "SSM": "ssm:/a"}}
	got := s.WithSecretsHidden()
	want := map[string]string{"PW": SecretHidden, "REF": ref, "SSM": "ssm:/a"}
	if diff := cmp.Diff(want, got.SecretEnv); diff != "" {
		t.Errorf("WithSecretsHidden (-want +got):\n%s", diff)
	}
	if s.SecretEnv["PW"] != secretValue {
		t.Errorf("WithSecretsHidden changed the spec it was given")
	}
	if j := (Job{JobSpec: s}).WithoutSecrets(); j.SecretEnv != nil {
		t.Errorf("WithoutSecrets kept secret_env %v", j.SecretEnv)
	}
}

func TestScheduleSecretEnv(t *testing.T) {
	s := ScheduleSpec{Cron: "@daily", Job: JobSpec{Image: "busybox", SecretEnv: map[string]string{"REF": "ssm:/a"}}}
	if err := s.Validate(); err != nil {
		t.Errorf("a schedule with a reference: %v", err)
	}
	s.Job.SecretEnv["PW"] = secretValue
	var fe *FieldError
	if err := s.Validate(); !errors.As(err, &fe) || fe.Field != "job.secret_env.PW" || strings.Contains(err.Error(), secretValue) {
		t.Errorf("a schedule with a secret value: %v, want a problem with job.secret_env.PW", err)
	}
}
