package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/auth"
	"github.com/google/go-cmp/cmp"
)

// secretValue is the secret of these tests: no file of the store may hold
// it.
const secretValue = "hunter2-pw-5f1c7e"

func envKey(t *testing.T, b byte) *auth.EnvKey {
	t.Helper()
	k, err := auth.NewEnvKey(bytes.Repeat([]byte{b}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openSealed(t *testing.T, path string, key Sealer) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), path, Options{Secrets: key})
	if err != nil {
		t.Fatalf("OpenWith(%s) = %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSecretEnvSealed: a job's secret values are in no file of the store,
// and only the store's key gives them back, to the job they were sealed
// for.
func TestSecretEnvSealed(t *testing.T) { forEachStore(t, testSecretEnvSealed) }

func testSecretEnvSealed(t *testing.T) {
	ctx := context.Background()
	path := newLocator(t)
	s := openSealed(t, path, envKey(t, 1))
	ref := "ssm:/prod/db/password"
	spec := berth.JobSpec{Image: "busybox", Env: map[string]string{"PLAIN": "x"}, CallbackURL: "https://example.com/hook",
		SecretEnv: map[string]string{"DB_PASSWORD": secretValue, "API_KEY": ref}}
	j := mustCreate(t, s, spec, t0)
	want := map[string]string{"DB_PASSWORD": berth.SecretHidden, "API_KEY": ref}
	if diff := cmp.Diff(want, j.SecretEnv); diff != "" {
		t.Errorf("CreateJob's job: secret_env (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, mustJob(t, s, j.ID).SecretEnv); diff != "" {
		t.Errorf("Job: secret_env (-want +got):\n%s", diff)
	}
	got, err := s.SecretEnv(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spec.SecretEnv, got); diff != "" {
		t.Errorf("SecretEnv (-want +got):\n%s", diff)
	}
	// The job's callback snapshot is written as it finishes.
	if _, err := s.CancelJob(ctx, j.ID, "", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	plain := mustCreate(t, s, berth.JobSpec{Image: "busybox"}, t0)
	if env, err := s.SecretEnv(ctx, plain.ID); env != nil || err != nil {
		t.Errorf("SecretEnv of a job without = %v, %v; want nil, nil", env, err)
	}
	if _, err := s.SecretEnv(ctx, "job_unknown"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("SecretEnv of an unknown job = %v, want ErrNotFound", err)
	}
	if s.dialect == SQLite {
		checkFilesHoldNo(t, filepath.Dir(path), secretValue)
	}

	// A value sealed for one job does not open for another.
	if _, err := s.w.ExecContext(ctx, `UPDATE jobs SET secret_env = (SELECT secret_env FROM jobs WHERE id = ?) WHERE id = ?`, j.ID, plain.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SecretEnv(ctx, plain.ID); err == nil {
		t.Errorf("SecretEnv opened another job's sealed values")
	}
	s.Close()
	other := openSealed(t, path, envKey(t, 2))
	if _, err := other.SecretEnv(ctx, j.ID); err == nil {
		t.Errorf("SecretEnv opened with another key")
	}
}

// checkFilesHoldNo fails the test if a file in dir (the database, its WAL)
// holds secret.
func checkFilesHoldNo(t *testing.T, dir, secret string) {
	t.Helper()
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 0 {
			seen++
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret value", f.Name())
		}
	}
	if seen < 2 {
		t.Errorf("found %d files with data in %s, want the database and its WAL", seen, dir)
	}
}

func TestSecretEnvNeedsAKey(t *testing.T) { forEachStore(t, testSecretEnvNeedsAKey) }

func testSecretEnvNeedsAKey(t *testing.T) {
	s, _ := openStore(t)
	spec := berth.JobSpec{Image: "busybox", SecretEnv: map[string]string{"A": secretValue}}
	if _, _, err := s.CreateJob(context.Background(), spec, t0); !errors.Is(err, errNoSealer) {
		t.Errorf("CreateJob with secret_env in a store without a key = %v, want errNoSealer", err)
	}
}

// TestScheduledSecretEnv: a schedule's references are sealed for each job
// it fires.
func TestScheduledSecretEnv(t *testing.T) { forEachStore(t, testScheduledSecretEnv) }

func testScheduledSecretEnv(t *testing.T) {
	ctx := context.Background()
	s := openSealed(t, newLocator(t), envKey(t, 1))
	refs := map[string]string{"TOKEN": "ssm:/prod/token"}
	sch, err := s.CreateSchedule(ctx, berth.ScheduleSpec{Cron: "@hourly", Job: berth.JobSpec{Image: "busybox", SecretEnv: refs}}, t0, t0)
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.FireSchedule(ctx, sch.ID, t0, t0.Add(time.Hour), t0)
	if err != nil || j == nil {
		t.Fatalf("FireSchedule = %v, %v", j, err)
	}
	got, err := s.SecretEnv(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(refs, got); diff != "" {
		t.Errorf("SecretEnv of the fired job (-want +got):\n%s", diff)
	}
}
