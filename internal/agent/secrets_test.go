package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// recordingRunner is a fake engine that keeps the environment each
// container was created with.
type recordingRunner struct {
	*fake.Runner
	// mu guards envs.
	mu   sync.Mutex
	envs map[string]map[string]string // by attempt
}

func (r *recordingRunner) Create(ctx context.Context, c provider.Container) (string, error) {
	r.mu.Lock()
	r.envs[c.AttemptID] = maps.Clone(c.Env)
	r.mu.Unlock()
	return r.Runner.Create(ctx, c)
}

func (r *recordingRunner) env(attempt string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.envs[attempt]
}

// memSecrets keeps secrets by reference, as written; a reference it does
// not know is not found, and one in down fails as a service that is
// down.
type memSecrets struct {
	values map[string]string
	down   map[string]bool
}

func (m memSecrets) Resolve(ctx context.Context, ref berth.SecretRef) (string, error) {
	if m.down[ref.String()] {
		return "", fmt.Errorf("%w: InternalServerError", berth.ErrSecretUnavailable)
	}
	v, ok := m.values[ref.String()]
	if !ok {
		return "", errors.New("ParameterNotFound")
	}
	return v, nil
}

// assignSecret adds an attempt whose job has secret_env, as the server
// sends it: hidden in the job, as submitted in the assignment.
func (s *fakeServer) assignSecret(attemptID string, secrets map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	spec := berth.JobSpec{Image: "busybox", SecretEnv: secrets}.WithSecretsHidden()
	spec.Env = map[string]string{"FAKE_RUN_FOR": "1s"}
	s.list = append(s.list, berth.Assignment{
		Attempt:   berth.Attempt{ID: attemptID, Node: "node_a"},
		Job:       berth.Job{ID: "job_" + attemptID, JobSpec: spec, State: berth.Starting},
		SecretEnv: secrets,
	})
	s.bumpLocked()
}

// TestSecretEnv: the container gets the secret values and what the
// references name; a reference that cannot be read fails the attempt with
// a reason that names the variable and the reference, and no log line or
// reason holds a secret.
func TestSecretEnv(t *testing.T) {
	const (
		literal = "literal-secret-8c1e"
		fromSSM = "ssm-secret-51d2"
		fromSM  = "sm-secret-9a7f"
	)
	smRef := "arn:aws:secretsmanager:us-east-1:123456789012:secret:db:password::"
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(berth.NodeReady)
		runner := &recordingRunner{Runner: fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096}), envs: map[string]map[string]string{}}
		var logs bytes.Buffer
		var logMu sync.Mutex
		log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
		secrets := memSecrets{
			values: map[string]string{"ssm:/prod/db": fromSSM, smRef: fromSM},
			down:   map[string]bool{"ssm:/prod/down": true},
		}
		ctx, cancel := context.WithCancel(context.Background())
		a := New(Config{NodeID: "node_a", HealthInterval: time.Second, Secrets: secrets}, srv, runner, discardSink{}, log)
		done := make(chan struct{})
		go func() { defer close(done); a.Run(ctx) }()
		defer func() { cancel(); <-done }()

		srv.assignSecret("att_ok", map[string]string{"DB_PASSWORD": literal, "SSM": "ssm:/prod/db", "SM": smRef})
		srv.assignSecret("att_missing", map[string]string{"PW": literal, "API_KEY": "ssm:/prod/missing"})
		srv.assignSecret("att_down", map[string]string{"PW": literal, "API_KEY": "ssm:/prod/down"})
		srv.assignSecret("att_unsent", map[string]string{"PW": literal})
		srv.mu.Lock()
		srv.list[len(srv.list)-1].SecretEnv = nil // a server that sent no values
		srv.mu.Unlock()
		time.Sleep(5 * time.Second)
		synctest.Wait()

		env := runner.env("att_ok")
		for k, want := range map[string]string{"DB_PASSWORD": literal, "SSM": fromSSM, "SM": fromSM, "FAKE_RUN_FOR": "1s", "BERTH_JOB_ID": "job_att_ok"} {
			if env[k] != want {
				t.Errorf("the container's %s = %q, want %q", k, env[k], want)
			}
		}
		for _, att := range []string{"att_missing", "att_down", "att_unsent"} {
			if env := runner.env(att); env != nil {
				t.Errorf("%s: a container was created, with env %v", att, env)
			}
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		want := map[string]berth.Outcome{
			"att_ok":      {Kind: berth.Exited},
			"att_missing": {Kind: berth.StartError, Reason: "secret_env API_KEY: cannot read ssm:/prod/missing: ParameterNotFound"},
			"att_down":    {Kind: berth.Lost, Reason: "secret_env API_KEY: cannot read ssm:/prod/down: secret store unavailable: InternalServerError"},
			"att_unsent":  {Kind: berth.StartError, Reason: "secret_env PW: the server sent no value"},
		}
		for att, w := range want {
			got := srv.finished[att]
			if len(got) != 1 || got[0].Kind != w.Kind || (w.Reason != "" && got[0].Reason != w.Reason) {
				t.Errorf("%s finished %+v, want one outcome %s %q", att, got, w.Kind, w.Reason)
			}
		}
		logMu.Lock()
		defer logMu.Unlock()
		for _, s := range []string{literal, fromSSM, fromSM} {
			if strings.Contains(logs.String(), s) {
				t.Errorf("the agent's log holds a secret:\n%s", logs.String())
			}
			for att, outs := range srv.finished {
				for _, o := range outs {
					if strings.Contains(o.Reason, s) {
						t.Errorf("%s's reason %q holds a secret", att, o.Reason)
					}
				}
			}
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
