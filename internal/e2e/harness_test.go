package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// binary is the berth binary built once for every test.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "berth")
	build := exec.Command("go", "build", "-o", binary, "github.com/berth-run/berth/cmd/berth")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build berth:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one `berth server` process and its data directory.
type server struct {
	t     testing.TB
	data  string
	addr  string
	args  []string
	env   []string // added to the test's environment
	cmd   *exec.Cmd
	out   *bytes.Buffer
	token string
	image string
	// scheme is http, or https with hc trusting the server's CA.
	scheme string
	hc     *http.Client
}

// startServer starts berth server on a free port with a new data directory
// and the extra flags given, and waits until it answers.
func startServer(t *testing.T, flags ...string) *server {
	t.Helper()
	return startServerAt(t, freeAddr(t), flags...)
}

// startServerAt is startServer listening on addr.
func startServerAt(t *testing.T, addr string, flags ...string) *server {
	t.Helper()
	image := dockertest.Image(t)
	s := &server{t: t, data: privateDir(t), addr: addr, args: flags, image: image, scheme: "http", hc: http.DefaultClient}
	s.start()
	t.Cleanup(func() {
		s.stop(syscall.SIGTERM)
		removeContainers(t, s.data)
	})
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (s *server) start() {
	s.t.Helper()
	args := append([]string{"server", "--data", s.data, "--listen", s.addr, "--stop-grace", "2s"}, s.args...)
	s.cmd = exec.Command(binary, args...)
	if len(s.env) > 0 {
		s.cmd.Env = append(os.Environ(), s.env...)
	}
	s.out = &bytes.Buffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := s.hc.Get(s.url() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("berth server did not answer within 15s; output:\n%s", s.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(s.data, "admin.token"))
	if err != nil {
		s.t.Fatal(err)
	}
	s.token = strings.TrimSpace(string(tok))
}

// url is where the server's API is.
func (s *server) url() string { return s.scheme + "://" + s.addr }

// stop signals the server and waits for it to exit.
func (s *server) stop(sig syscall.Signal) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// call sends a request to the API with the admin token and decodes a JSON
// answer into out (when out is not nil). It returns the status.
func (s *server) call(method, path string, body any, out any) int {
	s.t.Helper()
	return s.callWith(s.token, method, path, body, out)
}

func (s *server) callWith(token, method, path string, body any, out any) int {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.url()+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

// submit submits spec and returns the job, failing the test on anything but 201.
func (s *server) submit(spec berth.JobSpec) berth.Job {
	s.t.Helper()
	var j berth.Job
	if code := s.call("POST", "/v1/jobs", spec, &j); code != http.StatusCreated {
		s.t.Fatalf("POST /v1/jobs = %d, want 201", code)
	}
	return j
}

func (s *server) job(id string) berth.Job {
	s.t.Helper()
	var j berth.Job
	if code := s.call("GET", "/v1/jobs/"+id, nil, &j); code != http.StatusOK {
		s.t.Fatalf("GET /v1/jobs/%s = %d", id, code)
	}
	return j
}

// waitJob polls the job until cond holds or the timeout passes.
func (s *server) waitJob(id string, timeout time.Duration, what string, cond func(berth.Job) bool) berth.Job {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j := s.job(id)
		if cond(j) {
			return j
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("job %s not %s within %s: state %s, reason %q\nserver output:\n%s", id, what, timeout, j.State, j.Reason, s.out)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (s *server) waitState(id string, timeout time.Duration, want berth.State) berth.Job {
	s.t.Helper()
	return s.waitJob(id, timeout, string(want), func(j berth.Job) bool { return j.State == want })
}

func (s *server) waitTerminal(id string, timeout time.Duration) berth.Job {
	s.t.Helper()
	return s.waitJob(id, timeout, "finished", func(j berth.Job) bool { return j.State.Terminal() })
}

func (s *server) logs(id string) string {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.url()+"/v1/jobs/"+id+"/logs", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := s.hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// containers lists the containers berth made for a job, running or not.
func containers(t testing.TB, jobID string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=berth.job="+jobID).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

// removeContainers removes what a test's server left behind, so that tests
// do not see each other's containers.
func removeContainers(t testing.TB, data string) {
	node, err := os.ReadFile(filepath.Join(data, "node.id"))
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label=berth.node="+strings.TrimSpace(string(node))).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return
	}
	args := append([]string{"rm", "-f"}, strings.Fields(string(out))...)
	_ = exec.CommandContext(ctx, "docker", args...).Run()
}

// run runs a command, failing the test if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func decodeJSON(resp *http.Response, out any) error {
	return json.NewDecoder(resp.Body).Decode(out)
}

// privateDir is a new data directory for berth, private to this user:
// berth refuses one that others may open, as t.TempDir's own are.
func privateDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}
