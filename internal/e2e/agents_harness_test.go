package e2e

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// startFleetServer starts a server with no local agent, and leases of ttl,
// that agents may join: it advertises its own loopback address, which the
// agents of these tests reach.
func startFleetServer(t *testing.T, ttl time.Duration, flags ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	return startServerAt(t, addr, append([]string{"--local-agent=false", "--lease-ttl", ttl.String(), "--advertise-url", "http://" + addr}, flags...)...)
}

// agentProc is one `berth agent` process and its data directory.
type agentProc struct {
	t    testing.TB
	data string
	args []string
	env  []string // added to the test's environment
	cmd  *exec.Cmd
	out  *syncBuffer
	id   string // the node's id, once joined
}

// startAgent starts an agent of s's default pool, reaching it at url ("" for
// s directly), with the extra flags given; it waits until the node joined.
func startAgent(t testing.TB, s *server, url string, flags ...string) *agentProc {
	t.Helper()
	return startAgentEnv(t, s, url, nil, flags...)
}

// startAgentEnv is startAgent with variables added to the agent's
// environment.
func startAgentEnv(t testing.TB, s *server, url string, env []string, flags ...string) *agentProc {
	t.Helper()
	if url == "" {
		url = s.url()
	}
	tok, err := os.ReadFile(filepath.Join(s.data, "join.token"))
	if err != nil {
		t.Fatal(err)
	}
	a := &agentProc{t: t, data: privateDir(t), args: append([]string{"agent", "--server", url,
		"--join-token", strings.TrimSpace(string(tok)), "--heartbeat", "300ms", "--poll-wait", "5s",
		"--imds", "off", "--stop-grace", "2s", "--orphan-after", "0"}, flags...), env: env} // never power this machine off
	a.start()
	t.Cleanup(func() {
		a.stop(syscall.SIGKILL)
		removeNodeContainers(t, a.id)
	})
	return a
}

func (a *agentProc) start() {
	a.t.Helper()
	if err := a.spawn(); err != nil {
		a.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for a.id == "" {
		if b, err := os.ReadFile(filepath.Join(a.data, "node.id")); err == nil && len(bytes.TrimSpace(b)) > 0 {
			a.id = string(bytes.TrimSpace(b))
			break
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("berth agent did not join within 15s; output:\n%s", a.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spawn starts the agent process and returns without waiting for it to
// join; it is safe off the test's goroutine.
func (a *agentProc) spawn() error {
	args := append(a.args, "--data", a.data)
	a.cmd = exec.Command(binary, args...)
	if len(a.env) > 0 {
		a.cmd.Env = append(os.Environ(), a.env...)
	}
	a.out = &syncBuffer{}
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	return a.cmd.Start()
}

// stop signals the agent and waits for it to exit.
func (a *agentProc) stop(sig syscall.Signal) {
	if a.cmd == nil || a.cmd.Process == nil {
		return
	}
	_ = a.cmd.Process.Signal(sig)
	_ = a.cmd.Wait()
	a.cmd = nil
}

// nodes reads the nodes, by id.
func (s *server) nodes() map[string]berth.Node {
	s.t.Helper()
	var list struct{ Nodes []berth.Node }
	s.call("GET", "/v1/nodes", nil, &list)
	out := map[string]berth.Node{}
	for _, n := range list.Nodes {
		out[n.ID] = n
	}
	return out
}

// waitNode polls the node until it is in state want.
func (s *server) waitNode(id string, timeout time.Duration, want berth.NodeState) berth.Node {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := s.nodes()[id]
		if n.State == want {
			return n
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("node %s is %q after %s, want %s\nserver output:\n%s", id, n.State, timeout, want, s.out)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// runningOf lists the running containers of an attempt.
func runningOf(t testing.TB, attemptID string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-q", "--filter", "label=berth.attempt="+attemptID).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

// removeNodeContainers removes a node's containers, running or not: a host
// that died takes its containers with it.
func removeNodeContainers(t testing.TB, node string) {
	if node == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label=berth.node="+node).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return
	}
	_ = exec.CommandContext(ctx, "docker", append([]string{"rm", "-f"}, strings.Fields(string(out))...)...).Run()
}

// syncBuffer is a bytes.Buffer safe for a process and a test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// tcpProxy forwards a TCP address to another, and can cut the link: then
// the connections it holds go silent and new ones are held without an
// answer, as when packets are dropped. Healing closes what it held.
type tcpProxy struct {
	ln     net.Listener
	target string

	// mu guards cut and conns.
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.heal() })
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = true
		cut := p.cut
		p.mu.Unlock()
		if cut {
			continue // held, silent
		}
		go p.forward(c)
	}
}

func (p *tcpProxy) forward(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[u] = true
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			p.mu.Lock()
			cut := p.cut
			p.mu.Unlock()
			if cut { // the link is down: what was read is lost
				io.Copy(io.Discard, src)
				return
			}
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	go pipe(u, c)
	pipe(c, u)
}

// partition cuts the link.
func (p *tcpProxy) partition() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
}

// heal restores the link; the connections held through the cut are closed.
func (p *tcpProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}
