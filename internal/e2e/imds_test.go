package e2e

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
)

// metadataMockVersion is the version of AWS's ec2-metadata-mock the tests
// run (.ci/run installs it).
const metadataMockVersion = "v1.13.0"

// metadataMock starts AWS's ec2-metadata-mock on the Docker bridge's
// gateway, where the host and the jobs' containers both reach it, as they
// would reach EC2's metadata service with a hop limit above 1, and
// returns its address. Its Spot and rebalance notices are put off for a
// day. Without the mock the test is skipped, or fails in CI
// (BERTH_REQUIRE_DOCKER=1).
func metadataMock(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("ec2-metadata-mock")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "ec2-metadata-mock")
		if _, err := os.Stat(bin); err != nil {
			msg := "ec2-metadata-mock not found: go install github.com/aws/amazon-ec2-metadata-mock/cmd/ec2-metadata-mock@" + metadataMockVersion
			if os.Getenv(dockertest.RequireEnv) == "1" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	gw := dockertest.Gateway(t)
	addr := freeAddrOn(t, gw)
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--hostname", gw, "--port", port, "--mock-delay-sec", "86400", "--rebalance-delay-sec", "86400")
	cmd.Dir = t.TempDir()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/latest/meta-data/instance-id")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ec2-metadata-mock did not answer on %s within 15s: %v\n%s", addr, err, out)
		}
	}
}

// freeAddrOn returns host:port with a port free on host.
func freeAddrOn(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitNodeReason polls the node until its reason is want.
func (s *server) waitNodeReason(id, want string, timeout time.Duration) berth.Node {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := s.nodes()[id]
		if n.Reason == want {
			return n
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("node %s: healthy %v, reason %q after %s; want reason %q", id, n.Healthy, n.Reason, timeout, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAgentHeldBackWhileContainersReachMetadata: on a host whose containers
// reach the instance metadata service (the mock, on the bridge), the agent
// reads its facts there, probes from a container, and holds its node
// back: unhealthy, the reason in the waiting job's; an agent started with
// --allow-container-imds on the same host runs the job.
func TestAgentHeldBackWhileContainersReachMetadata(t *testing.T) {
	image := dockertest.Image(t)
	mock := metadataMock(t)
	s := startFleetServer(t, 30*time.Second)
	a := startAgent(t, s, "", "--imds", "http://"+mock)
	want := "containers on this host can reach the instance metadata service at " + mock + "; " +
		"set the IMDSv2 hop limit to 1 (aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 1 --http-tokens required) " +
		"or start the agent with --allow-container-imds"
	n := s.waitNodeReason(a.id, want, 30*time.Second)
	if n.Healthy || n.Name != "i-1234567890abcdef0" {
		t.Errorf("node held back: healthy %v, name %q; want unhealthy, named after the mock's instance", n.Healthy, n.Name)
	}
	j := s.submit(berth.JobSpec{Image: image, Command: []string{"true"}})
	s.waitJob(j.ID, 10*time.Second, "its waiting reason to name the metadata service", func(j berth.Job) bool {
		return j.State == berth.Queued && strings.Contains(j.Reason, want)
	})
	a.stop(syscall.SIGTERM)

	b := startAgent(t, s, "", "--imds", "http://"+mock, "--allow-container-imds")
	if j := s.waitTerminal(j.ID, 60*time.Second); j.State != berth.Succeeded || j.Attempts[0].Node != b.id {
		t.Errorf("job with --allow-container-imds: %s (%q) on %s; want succeeded on %s", j.State, j.Reason, j.Attempts[0].Node, b.id)
	}
	if !strings.Contains(b.out.String(), "running jobs anyway (--allow-container-imds)") {
		t.Errorf("the allowing agent does not warn:\n%s", b.out)
	}
}

// TestAgentWorksWhenContainersCannotReachMetadata: the agent reads its
// facts from the metadata service, but its probe container reaches
// nothing at the service's address (a closed port here, the hop limit
// on EC2): the node is healthy and runs the job.
func TestAgentWorksWhenContainersCannotReachMetadata(t *testing.T) {
	image := dockertest.Image(t)
	mock := metadataMock(t)
	closed := freeAddrOn(t, dockertest.Gateway(t))
	s := startFleetServer(t, 30*time.Second)
	a := startAgentEnv(t, s, "", []string{"BERTH_CONTAINER_IMDS_ADDR=" + closed}, "--imds", "http://"+mock)
	if n := s.waitNode(a.id, 30*time.Second, berth.NodeReady); !n.Healthy || n.Name != "i-1234567890abcdef0" {
		t.Errorf("node: healthy %v (%q), name %q; want healthy, named after the mock's instance", n.Healthy, n.Reason, n.Name)
	}
	j := s.submit(berth.JobSpec{Image: image, Command: []string{"true"}})
	if j := s.waitTerminal(j.ID, 60*time.Second); j.State != berth.Succeeded {
		t.Errorf("job: %s (%q), want succeeded", j.State, j.Reason)
	}
	if !strings.Contains(a.out.String(), "containers on this host cannot reach the instance metadata service") {
		t.Errorf("the agent does not say its probe found the service out of reach:\n%s", a.out)
	}
}
