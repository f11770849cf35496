package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// exitsWith runs berth with args and requires it to exit non-zero within
// 10 s, saying want.
func exitsWith(t *testing.T, want string, args ...string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("berth %s ran on for 10s; want it to exit at once; output:\n%s", strings.Join(args, " "), out)
	}
	if err == nil || !strings.Contains(string(out), want) {
		t.Errorf("berth %s: %v, output %q; want a non-zero exit saying %q", strings.Join(args, " "), err, out, want)
	}
}

// TestSecondServerOnOneDataDirectory: a second berth server on a data
// directory in use exits at once, naming the process that holds it.
func TestSecondServerOnOneDataDirectory(t *testing.T) {
	s := startFleetServer(t, 10*time.Second)
	exitsWith(t, fmt.Sprintf("data directory %s is in use by pid %d", s.data, s.cmd.Process.Pid),
		"server", "--data", s.data, "--listen", freeAddr(t), "--local-agent=false")
}

// TestTwoAgentsOnOneDataDirectory: a second berth agent on the data
// directory of a running one exits at once; the first runs a job once.
func TestTwoAgentsOnOneDataDirectory(t *testing.T) {
	s := startFleetServer(t, 10*time.Second)
	a := startAgent(t, s, "", "--cpus", "1")
	s.waitNode(a.id, 10*time.Second, berth.NodeReady)
	exitsWith(t, fmt.Sprintf("data directory %s is in use by pid %d", a.data, a.cmd.Process.Pid),
		append(a.args, "--data", a.data)...)
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "echo start; sleep 1; echo end"}})
	succeededOnce(t, s, s.waitTerminal(j.ID, 30*time.Second))
	if n := len(s.nodes()); n != 1 {
		t.Errorf("%d nodes, want the one agent's", n)
	}
}

// TestCopiedAgentDataDirectory: a second agent started on a copy of a
// running agent's data directory (as a disk image launched twice would
// be) presents the same node credential: the server refuses it, the node
// shows the refusal, and a job placed on the node runs once.
func TestCopiedAgentDataDirectory(t *testing.T) {
	s := startFleetServer(t, 10*time.Second)
	a := startAgent(t, s, "", "--cpus", "1")
	s.waitNode(a.id, 10*time.Second, berth.NodeReady)
	clone := privateDir(t)
	for _, f := range []string{"node.id", "node.token"} {
		b, err := os.ReadFile(filepath.Join(a.data, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(clone, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := &agentProc{t: t, data: clone, args: a.args, id: a.id}
	c.cmd = exec.Command(binary, append(c.args, "--data", c.data)...)
	c.out = &syncBuffer{}
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.stop(syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	var conflict string
	for conflict == "" && time.Now().Before(deadline) {
		var n struct{ Conflict string }
		s.call("GET", "/v1/nodes/"+a.id, nil, &n)
		conflict = n.Conflict
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(conflict, "refused a second agent") {
		t.Fatalf("the node shows no refusal of the copy within 10s; its output:\n%s", c.out)
	}
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "echo start; sleep 2; echo end"}})
	j = s.waitTerminal(j.ID, 30*time.Second)
	succeededOnce(t, s, j)
	if len(j.Attempts) != 1 || strings.Count(s.logs(j.ID), "start\n") != 1 {
		t.Errorf("job on the node with a copied agent: %d attempts, logs %q; want one run", len(j.Attempts), s.logs(j.ID))
	}
	if !strings.Contains(c.out.String(), "another agent acts for this node") {
		t.Errorf("the copy does not say why it waits; output:\n%s", c.out)
	}
	if n := s.nodes()[a.id]; n.State != berth.NodeReady {
		t.Errorf("the node is %s after the copy was refused, want ready under its first agent", n.State)
	}
}

// TestAgentsShareEngine: two agents on one host's engine, each with its own
// data directory, are two nodes that report the same engine id, and
// berth nodes says they share it.
func TestAgentsShareEngine(t *testing.T) {
	s := startFleetServer(t, 10*time.Second)
	a := startAgent(t, s, "", "--cpus", "1", "--memory-mb", "512")
	b := startAgent(t, s, "", "--cpus", "1", "--memory-mb", "512")
	s.waitNode(a.id, 10*time.Second, berth.NodeReady)
	s.waitNode(b.id, 10*time.Second, berth.NodeReady)
	engine := func(id string) string {
		var n struct {
			Facts struct {
				EngineID string `json:"engine_id"`
			} `json:"facts"`
		}
		s.call("GET", "/v1/nodes/"+id, nil, &n)
		return n.Facts.EngineID
	}
	deadline := time.Now().Add(10 * time.Second)
	for (engine(a.id) == "" || engine(b.id) == "") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if ea, eb := engine(a.id), engine(b.id); ea == "" || ea != eb {
		t.Fatalf("engine ids %q and %q, want the one engine's", ea, eb)
	}
	out, stderr, code := s.cli(t, "", "nodes")
	if code != 0 || strings.Count(out, "(engine shared)") != 2 {
		t.Errorf("berth nodes: exit %d, %q %q; want both nodes marked as sharing an engine", code, out, stderr)
	}
}
