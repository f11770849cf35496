package control

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/store"
)

// brokenSealer seals with AES-GCM and fails to open once broken, as a
// server whose key file was replaced does.
type brokenSealer struct {
	aead   cipher.AEAD
	broken atomic.Bool
}

func (s *brokenSealer) Seal(plain, ad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	return s.aead.Seal(nonce, nonce, plain, ad), nil
}

func (s *brokenSealer) Open(sealed, ad []byte) ([]byte, error) {
	if s.broken.Load() {
		return nil, errors.New("does not open with this key")
	}
	n := s.aead.NonceSize()
	return s.aead.Open(nil, sealed[:n], sealed[n:], ad)
}

// TestSecretEnvUnreadable: an attempt whose secret_env the server cannot
// unseal is not sent to its node; it fails as a start error, without a
// retry, and the node's other work is sent as before.
func TestSecretEnvUnreadable(t *testing.T) {
	ctx := context.Background()
	block, _ := aes.NewCipher(make([]byte, 32))
	aead, _ := cipher.NewGCM(block)
	sealer := &brokenSealer{aead: aead}
	st, err := store.OpenWith(ctx, filepath.Join(t.TempDir(), "berth.db"), store.Options{Secrets: sealer})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n := NewNotifier()
	reg := NewRegistry(st, n, func() {}, log)
	if err := reg.Ensure(ctx, "node_a", "local", "a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.HeartbeatNode(ctx, "node_a", nodeapi.Status{CPU: 2, MemoryMB: 2048, Healthy: true, Ready: true}, time.Now()); err != nil {
		t.Fatal(err)
	}
	local := NewLocal(st, n, reg, func() {}, nil, "")
	place := func(spec berth.JobSpec) string {
		j, _, err := st.CreateJob(ctx, spec.WithDefaults(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if ps, err := st.Place(ctx, []store.Placement{{JobID: j.ID, JobVersion: j.Version, NodeID: "node_a"}}, time.Now()); err != nil || len(ps) != 1 {
			t.Fatalf("Place = %v, %v", ps, err)
		}
		return j.ID
	}
	secret := place(berth.JobSpec{Image: "busybox", Retries: berth.RetryPolicy{Attempts: 3}, SecretEnv: map[string]string{"PW": "x"}})
	plain := place(berth.JobSpec{Image: "busybox"})
	sealer.broken.Store(true)
	as, _, err := local.Assignments(ctx, "node_a", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].Job.ID != plain {
		t.Errorf("Assignments = %v, want only the job without secrets", as)
	}
	j, err := st.Job(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != berth.Failed || j.Retried != 0 || !strings.Contains(j.Reason, "the server cannot read its secret_env") {
		t.Errorf("the job whose secrets do not open is %s (%q, %d retries), want failed at once", j.State, j.Reason, j.Retried)
	}
}
