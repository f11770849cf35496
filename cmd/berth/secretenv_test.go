package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

// cliSecret is a secret given to the CLI: it never prints it.
const cliSecret = "cli-secret-3b9d"

// TestRunSecretEnv: --secret-env NAME=VALUE and --secret-env NAME (from
// the caller's environment) reach the server, and no output of the CLI
// holds their values: not berth run's, not berth status's in text or
// JSON, not berth jobs -o json's.
func TestRunSecretEnv(t *testing.T) {
	f := newFakeAPI(t)
	f.next = ending{state: berth.Succeeded, exitCode: intp(0), logs: "done"}
	in := f.against()
	in.vars["HOST_SECRET"] = cliSecret + "-host"
	ref := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db:password::"
	var out strings.Builder
	for _, r := range []result{
		in.run(t.Context(), "run", "--secret-env", "DB_PASSWORD="+cliSecret, "--secret-env", "HOST_SECRET",
			"--secret-env", "API_KEY=ssm:/prod/api", "--secret-env", "DB_USER="+ref, "-e", "PLAIN=1", "busybox", "--", "true").mustSucceed(t),
		in.run(t.Context(), "status", "job_1").mustSucceed(t),
		in.run(t.Context(), "status", "-o", "json", "job_1").mustSucceed(t),
		in.run(t.Context(), "jobs", "-o", "json").mustSucceed(t),
	} {
		out.WriteString(r.stdout + r.stderr)
	}
	want := map[string]string{"DB_PASSWORD": cliSecret, "HOST_SECRET": cliSecret + "-host", "API_KEY": "ssm:/prod/api", "DB_USER": ref}
	if diff := cmp.Diff(want, f.secrets["job_1"]); diff != "" {
		t.Errorf("submitted secret_env (-want +got):\n%s", diff)
	}
	if strings.Contains(out.String(), cliSecret) {
		t.Errorf("the CLI printed a secret:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "Secret env") || !strings.Contains(out.String(), "API_KEY, DB_PASSWORD, DB_USER, HOST_SECRET") {
		t.Errorf("berth status shows no secret_env names:\n%s", out.String())
	}
}

// TestSecretEnvFlagErrors: a bad --secret-env is named, its value never.
func TestSecretEnvFlagErrors(t *testing.T) {
	f := newFakeAPI(t)
	for _, tt := range []struct {
		arg  string
		want string
	}{
		{"=" + cliSecret, `--secret-env "=...": want NAME=VALUE, or NAME to take the value from this environment`},
		{"UNSET_HERE", `--secret-env "UNSET_HERE": UNSET_HERE is not set here; export it, or write UNSET_HERE=VALUE`},
	} {
		r := f.cli(t, "run", "--secret-env", tt.arg, "busybox")
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, cliSecret) {
			t.Errorf("berth run --secret-env %q: exit %d, stderr %q; want 2 and %q", tt.arg, r.code, r.stderr, tt.want)
		}
	}
	r := f.cli(t, "run", "--secret-env", "BERTH_X="+cliSecret, "busybox")
	if r.code == 0 || !strings.Contains(r.stderr, "secret_env.BERTH_X") || strings.Contains(r.stderr, cliSecret) {
		t.Errorf("berth run --secret-env BERTH_X=...: exit %d, stderr %q; want the field named, not the value", r.code, r.stderr)
	}
}

// TestSubmitSecretEnvFile: a job file gives secret_env beside env, in YAML
// as in JSON.
func TestSubmitSecretEnvFile(t *testing.T) {
	f := newFakeAPI(t)
	in := f.against()
	in.stdin = "image: busybox\nenv: {REGION: eu}\nsecret_env:\n  DB_PASSWORD: " + cliSecret + "\n  API_KEY: ssm:/prod/api\n"
	r := in.run(t.Context(), "submit", "-f", "-").mustSucceed(t)
	in.stdin = `{"image": "busybox", "secret_env": {"DB_PASSWORD": "` + cliSecret + `"}}`
	r2 := in.run(t.Context(), "submit", "-o", "json", "-f", "-").mustSucceed(t)
	if diff := cmp.Diff(map[string]string{"DB_PASSWORD": cliSecret, "API_KEY": "ssm:/prod/api"}, f.secrets["job_1"]); diff != "" {
		t.Errorf("secret_env from YAML (-want +got):\n%s", diff)
	}
	if f.secrets["job_2"]["DB_PASSWORD"] != cliSecret {
		t.Errorf("secret_env from JSON = %v", f.secrets["job_2"])
	}
	if out := r.stdout + r.stderr + r2.stdout + r2.stderr; strings.Contains(out, cliSecret) {
		t.Errorf("berth submit printed a secret:\n%s", out)
	}
}
