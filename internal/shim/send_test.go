package shim

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSendAbandonsUnansweredClaim: a shim that takes the connection but
// never answers does not hold the claim up past its context, and the
// claim is abandoned: it can never run.
func TestSendAbandonsUnansweredClaim(t *testing.T) {
	dir := shortTempDir(t)
	l, err := net.Listen("unix", filepath.Join(dir, RunDir, SocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = Send(ctx, dir, Claim{JobID: "j", AttemptID: "a"})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("Send() = %v, want ErrRefused", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Send() took %v past its 200ms context", took)
	}
	if got := Fate(dir); got != Abandoned {
		t.Errorf("fate = %q, want %q", got, Abandoned)
	}
	if rec, ok := ReadRecord(dir); !ok || rec.AttemptID != "a" {
		t.Errorf("ReadRecord() = %+v, %v; want the claim of attempt a", rec, ok)
	}
}

// TestSendToNoShim: a claim of a container whose shim is gone fails at
// once, abandoned.
func TestSendToNoShim(t *testing.T) {
	dir := shortTempDir(t)
	err := Send(context.Background(), dir, Claim{JobID: "j", AttemptID: "a"})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("Send() = %v, want ErrRefused", err)
	}
	if got := Fate(dir); got != Abandoned {
		t.Errorf("fate = %q, want %q", got, Abandoned)
	}
}

// TestFateFirstWins: whichever of the shim and the agent decides first
// decides for good.
func TestFateFirstWins(t *testing.T) {
	dir := shortTempDir(t)
	if won, err := decide(filepath.Join(dir, RunDir), Exec); !won || err != nil {
		t.Fatalf("first decide = %v, %v", won, err)
	}
	ran, err := Abandon(dir)
	if !ran || err != nil {
		t.Errorf("Abandon() after exec = %v, %v; want true, nil", ran, err)
	}
	if got := Fate(dir); got != Exec {
		t.Errorf("fate = %q, want %q", got, Exec)
	}
}

// shortTempDir is a temporary directory whose socket path fits the 108
// bytes of a unix socket address.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "shim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Mkdir(filepath.Join(dir, RunDir), 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}
