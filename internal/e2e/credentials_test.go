package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCredentialsCLI: scoped API tokens, join-token rotation and node
// deletion, from the CLI, as an operator would.
func TestCredentialsCLI(t *testing.T) {
	s := startFleetServer(t, 10*time.Second)
	read, stderr, code := s.cli(t, "", "token", "create", "--role", "read", "--name", "dashboards", "--expires", "30d")
	read = strings.TrimSpace(read)
	if code != 0 || !strings.HasPrefix(read, "bat_") || !strings.Contains(stderr, "shown this once") {
		t.Fatalf("berth token create: exit %d, %q, %q", code, read, stderr)
	}
	as := func(token string, args ...string) (string, string, int) {
		cmd := exec.Command(binary, args...)
		cmd.Env = append(os.Environ(), "BERTH_ADDR=http://"+s.addr, "BERTH_TOKEN="+token, "BERTH_DATA="+t.TempDir())
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), errb.String(), ee.ExitCode()
		}
		return out.String(), errb.String(), 0
	}
	if _, stderr, code := as(read, "jobs"); code != 0 {
		t.Errorf("berth jobs with a read token: exit %d, %q", code, stderr)
	}
	if _, stderr, code := as(read, "run", "-d", s.image, "--", "true"); code == 0 || !strings.Contains(stderr, "it takes submit") {
		t.Errorf("berth run with a read token: exit %d, %q; want refused, naming the role it takes", code, stderr)
	}
	out, _, _ := s.cli(t, "", "token", "ls")
	if !strings.Contains(out, "dashboards") || !strings.Contains(out, "read") || strings.Contains(out, read) {
		t.Errorf("berth token ls = %q, want the token listed without its secret", out)
	}
	id := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "dashboards") {
			id = strings.Fields(line)[0]
		}
	}
	if _, stderr, code := s.cli(t, "", "token", "revoke", id); code != 0 {
		t.Fatalf("berth token revoke %s: exit %d, %q", id, code, stderr)
	}
	if _, stderr, code := as(read, "jobs"); code == 0 || !strings.Contains(stderr, "revoked") {
		t.Errorf("berth jobs with a revoked token: exit %d, %q; want refused as revoked", code, stderr)
	}

	old, err := os.ReadFile(filepath.Join(s.data, "join.token"))
	if err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, s, "", "--cpus", "1")
	s.waitNode(a.id, 10*time.Second, "ready")
	out, stderr, code = s.cli(t, "", "pools", "rotate-token", "default")
	fresh := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(fresh, "bjt_default.2.") {
		t.Fatalf("berth pools rotate-token default: exit %d, %q, %q", code, out, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(s.data, "join.token")); strings.TrimSpace(string(b)) != fresh {
		t.Errorf("join.token holds %q after the rotation, want the new token", b)
	}
	exitsWith(t, "was rotated", "agent", "--server", s.url(), "--join-token", strings.TrimSpace(string(old)),
		"--data", privateDir(t), "--imds", "off")
	if n := s.nodes()[a.id]; n.State != "ready" {
		t.Errorf("the node that joined before the rotation is %s, want ready", n.State)
	}
	if _, stderr, code := s.cli(t, "", "node", "delete", a.id); code != 0 {
		t.Fatalf("berth node delete: exit %d, %q", code, stderr)
	}
	if n, ok := s.nodes()[a.id]; ok {
		t.Errorf("the deleted node is still listed: %s", n.State)
	}
	exited := make(chan error, 1)
	go func() { exited <- a.cmd.Wait() }()
	select {
	case err := <-exited:
		a.cmd = nil
		if err == nil || !strings.Contains(a.out.String(), "no longer takes this node's credential") {
			t.Errorf("the deleted node's agent exited with %v; output:\n%s", err, a.out)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("the deleted node's agent still runs 15 s later; output:\n%s", a.out)
	}
}
