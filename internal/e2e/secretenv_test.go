package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/awsfake"
)

// TestSecretEnv submits, with the real CLI, a job whose secret_env has a
// value from the caller's environment, an SSM parameter and a Secrets
// Manager secret's JSON key; a real agent on Docker reads the references
// from the AWS fakes (AWS_ENDPOINT_URL) and its container sees all three.
// None of the values is in any answer, CLI output, webhook, log of the
// server or the agent, or file of the server's data directory. A
// reference that does not exist fails its job at once, naming the
// variable and the reference.
func TestSecretEnv(t *testing.T) {
	const (
		literal = "e2e-literal-secret-a41c"
		fromSSM = "e2e-ssm-secret-77b0"
		fromSM  = "e2e-sm-secret-c35d"
	)
	params, secrets := awsfake.NewSSM(), awsfake.NewSecretsManager()
	params.Put("/berth/e2e/db", "SecureString", fromSSM)
	arn := secrets.Put("berth/e2e", `{"username":"app","password":"`+fromSM+`"}`)
	aws := httptest.NewServer(awsfake.Endpoint{SSM: params, SecretsManager: secrets})
	defer aws.Close()
	webhooks := make(chan []byte, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		webhooks <- b
	}))
	defer recv.Close()

	s := startFleetServer(t, 10*time.Second, "--callback-allow", "127.0.0.1")
	dir := t.TempDir()
	a := startAgentEnv(t, s, "", []string{
		"AWS_ENDPOINT_URL=" + aws.URL, "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_SESSION_TOKEN=",
	})
	s.waitNode(a.id, 15*time.Second, berth.NodeReady)

	var outputs strings.Builder
	cli := func(env []string, args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), append(env, "BERTH_ADDR="+s.url(), "BERTH_DATA="+s.data, "BERTH_TOKEN=")...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		outputs.Write(out.Bytes())
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return out.String()
	}
	out := cli([]string{"DB_PASSWORD=" + literal}, "run", "-d", "--secret-env", "DB_PASSWORD",
		"--secret-env", "FROM_SSM=ssm:/berth/e2e/db", "--secret-env", "FROM_SM="+arn+":password::",
		"--callback-url", recv.URL+"/done", s.image, "--",
		"sh", "-c", `printf %s "$DB_PASSWORD" | sha256sum; printf %s "$FROM_SSM" | sha256sum; printf %s "$FROM_SM" | sha256sum`)
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "job_") {
		t.Fatalf("berth run -d: %q", out)
	}
	j := s.waitTerminal(id, 60*time.Second)
	if j.State != berth.Succeeded {
		t.Fatalf("job %s %s: %s\nagent output:\n%s", id, j.State, j.Reason, a.out)
	}
	logs := s.logs(id)
	for _, v := range []string{literal, fromSSM, fromSM} {
		sum := sha256.Sum256([]byte(v))
		if !strings.Contains(logs, hex.EncodeToString(sum[:])) {
			t.Errorf("the container saw another value than the secret's: its output is %q", logs)
		}
	}
	var webhook []byte
	select {
	case webhook = <-webhooks:
	case <-time.After(30 * time.Second):
		t.Fatal("no completion webhook within 30s")
	}
	if bytes.Contains(webhook, []byte("secret_env")) {
		t.Errorf("the webhook's body holds secret_env: %s", webhook)
	}

	// A reference to nothing fails the job without its retries.
	out = cli(nil, "run", "-d", "--retries", "3", "--secret-env", "FROM_SSM=ssm:/berth/e2e/missing", s.image, "--", "true")
	bad := s.waitTerminal(strings.TrimSpace(out), 60*time.Second)
	if bad.State != berth.Failed || len(bad.Attempts) != 1 || bad.Retried != 0 ||
		!strings.Contains(bad.Reason, "secret_env FROM_SSM: cannot read ssm:/berth/e2e/missing: ParameterNotFound") {
		t.Errorf("job with a missing parameter: %s after %d attempts, %q; want failed at once, naming the variable and the reference",
			bad.State, len(bad.Attempts), bad.Reason)
	}

	var answers strings.Builder
	for _, path := range []string{"/v1/jobs/" + id, "/v1/jobs"} {
		var raw json.RawMessage
		s.call("GET", path, nil, &raw)
		answers.Write(raw)
	}
	cli(nil, "status", id)
	cli(nil, "status", "-o", "json", id)
	cli(nil, "jobs", "-o", "json")
	if !strings.Contains(answers.String(), `"DB_PASSWORD":"(secret)"`) || !strings.Contains(outputs.String(), "DB_PASSWORD, FROM_SM, FROM_SSM") {
		t.Errorf("the job's secret_env names are not shown:\n%s\n%s", answers.String(), outputs.String())
	}
	for _, v := range []string{literal, fromSSM, fromSM} {
		for what, text := range map[string]string{
			"an API answer": answers.String(), "the CLI's output": outputs.String(), "the webhook": string(webhook),
			"the server's log": s.out.String(), "the agent's log": a.out.String(),
		} {
			if strings.Contains(text, v) {
				t.Errorf("%s holds a secret value:\n%s", what, text)
			}
		}
	}
	checkDataDir(t, s.data, literal, fromSSM, fromSM)
	s.stop(syscall.SIGTERM) // and as the server leaves them
	checkDataDir(t, s.data, literal, fromSSM, fromSM)
}

// checkDataDir fails the test if a file under dir (the database, its WAL,
// the logs) holds one of the secrets.
func checkDataDir(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, v := range secrets {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("%s holds a secret value", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
