package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// TestKillNineRecovery kills the server hard while jobs run and wait, and
// restarts it: every job is still there, the running ones are adopted (not
// run again), and all finish, each with one attempt.
func TestKillNineRecovery(t *testing.T) {
	s := startServer(t, "--cpus", "2")
	var jobs []berth.Job
	for i := range 6 {
		jobs = append(jobs, s.submit(berth.JobSpec{Image: s.image, CPU: 1,
			Command: []string{"sh", "-c", fmt.Sprintf("echo start %d; sleep 3; echo end %d", i, i)}}))
	}
	s.waitState(jobs[0].ID, 30*time.Second, berth.Running)
	s.waitState(jobs[1].ID, 30*time.Second, berth.Running)
	s.stop(syscall.SIGKILL)
	killedAt := time.Now()
	s.start()
	j := s.job(jobs[0].ID)
	if j.State != berth.Running && !j.State.Terminal() {
		t.Errorf("after restart a running job is %s, want running or finished", j.State)
	}
	if since := time.Since(killedAt); since > 10*time.Second {
		t.Errorf("restart took %s, want under 10s", since)
	}
	for _, j := range jobs {
		j = s.waitTerminal(j.ID, 60*time.Second)
		if j.State != berth.Succeeded || len(j.Attempts) != 1 {
			t.Errorf("job %s: state %s, %d attempts (%q); want succeeded with one attempt", j.ID, j.State, len(j.Attempts), j.Reason)
		}
		if logs := s.logs(j.ID); strings.Count(logs, "start") != 1 || strings.Count(logs, "end") != 1 {
			t.Errorf("job %s logs %q, want one start and one end", j.ID, logs)
		}
	}
}

// TestContainerGoneWhileDown: a running job whose container disappears
// while the server is down is re-queued, without spending a retry.
func TestContainerGoneWhileDown(t *testing.T) {
	s := startServer(t)
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sleep", "3"}})
	s.waitState(j.ID, 30*time.Second, berth.Running)
	s.stop(syscall.SIGKILL)
	for _, c := range containers(t, j.ID) {
		run(t, "docker", "rm", "-f", c)
	}
	s.start()
	j = s.waitTerminal(j.ID, 60*time.Second)
	if j.State != berth.Succeeded || j.Retried != 0 || j.Requeued != 1 || len(j.Attempts) != 2 {
		t.Errorf("job whose container vanished: state %s, retried %d, requeued %d, %d attempts; want succeeded, 0, 1, 2", j.State, j.Retried, j.Requeued, len(j.Attempts))
	}
	if !strings.Contains(j.Attempts[0].Reason, "re-queued") && !strings.Contains(j.Attempts[0].Reason, "vanished") {
		t.Errorf("first attempt's reason = %q, want it to say the container vanished", j.Attempts[0].Reason)
	}
}

// TestRandomKills kills the server at random moments while jobs are
// submitted and run. No accepted job is lost, none runs twice at once, and
// none is stuck.
func TestRandomKills(t *testing.T) {
	s := startServer(t, "--cpus", "2")
	r := rand.New(rand.NewPCG(7, 7))
	var accepted []string
	for round := range 5 {
		stop := make(chan struct{})
		var mu sync.Mutex
		var wg sync.WaitGroup
		wg.Add(1)
		sub := rand.New(rand.NewPCG(7, uint64(round))) // the submitter's own: r is this goroutine's
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ms := 100 + sub.IntN(900)
				body := fmt.Sprintf(`{"image":%q,"cpu":0.5,"command":["sh","-c","sleep %g"]}`, s.image, float64(ms)/1000)
				var j berth.Job
				code, err := tryCall(s, "POST", "/v1/jobs", body, &j)
				if err == nil && code == http.StatusCreated {
					mu.Lock()
					accepted = append(accepted, j.ID)
					mu.Unlock()
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		time.Sleep(time.Duration(300+r.IntN(1500)) * time.Millisecond)
		s.stop(syscall.SIGKILL)
		close(stop)
		wg.Wait()
		t.Logf("round %d: %d jobs accepted so far", round, len(accepted))
		s.start()
	}
	for _, id := range accepted {
		j := s.waitTerminal(id, 120*time.Second)
		if j.State != berth.Succeeded {
			t.Errorf("job %s: %s (%q), want succeeded", id, j.State, j.Reason)
		}
		for i := 1; i < len(j.Attempts); i++ {
			prev, cur := j.Attempts[i-1], j.Attempts[i]
			if prev.FinishedAt == nil || cur.CreatedAt.Before(*prev.FinishedAt) {
				t.Errorf("job %s: attempt %s began at %v before attempt %s finished at %v", id, cur.ID, cur.CreatedAt, prev.ID, prev.FinishedAt)
			}
		}
	}
	if len(accepted) == 0 {
		t.Fatal("no job was accepted")
	}
}

// tryCall is call without failing the test on a connection error: the
// server may be dead.
func tryCall(s *server, method, path, body string, out any) (int, error) {
	req, err := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, json.Unmarshal(data, out)
}

// TestCallbackDelivery: a finished job is POSTed to its callback_url,
// signed; a receiver that fails at first gets it again.
func TestCallbackDelivery(t *testing.T) {
	s := startServer(t, "--callback-allow", "127.0.0.1") // the receiver is on loopback
	key, err := os.ReadFile(filepath.Join(s.data, "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	type delivery struct {
		body []byte
		sig  string
	}
	got := make(chan delivery, 10)
	var mu sync.Mutex
	calls := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		got <- delivery{b, r.Header.Get("X-Berth-Signature")}
	}))
	defer recv.Close()
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "exit 2"}, CallbackURL: recv.URL + "/done",
		Env: map[string]string{"API_KEY": "hunter2-secret"}})
	select {
	case d := <-got:
		m := hmac.New(sha256.New, []byte(strings.TrimSpace(string(key))))
		m.Write(d.body)
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); d.sig != want {
			t.Errorf("X-Berth-Signature = %q, want %q", d.sig, want)
		}
		var cb berth.Job
		if err := json.Unmarshal(d.body, &cb); err != nil || cb.ID != j.ID || cb.State != berth.Failed || cb.ExitCode == nil || *cb.ExitCode != 2 {
			t.Errorf("callback body = %s, want job %s failed with exit 2", d.body, j.ID)
		}
		if strings.Contains(string(d.body), "hunter2-secret") || strings.Contains(string(d.body), "API_KEY") {
			t.Errorf("callback body = %s, want no env", d.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no callback within 30s (%d tries)", calls)
	}
}

// TestEngineUnavailable starts the server with its engine behind a proxy
// that is down: the server starts, the node is unhealthy, jobs are accepted
// and wait with a reason; when the engine returns they run.
func TestEngineUnavailable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	p := &proxy{path: sock, target: "/var/run/docker.sock"}
	defer p.close()
	s := startServer(t, "--docker-host", "unix://"+sock)
	var nodes struct{ Nodes []berth.Node }
	deadline := time.Now().Add(15 * time.Second)
	for {
		s.call("GET", "/v1/nodes", nil, &nodes)
		if len(nodes.Nodes) == 1 && !nodes.Nodes[0].Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes = %+v, want one unhealthy node", nodes.Nodes)
		}
		time.Sleep(50 * time.Millisecond)
	}
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"echo", "back"}})
	j = s.waitJob(j.ID, 10*time.Second, "waiting with a reason", func(j berth.Job) bool { return strings.Contains(j.Reason, "no node is ready") })
	if j.State != berth.Queued {
		t.Errorf("job while the engine is down: %s, want queued", j.State)
	}
	if want := "Docker engine unreachable at unix://" + sock; !strings.Contains(j.Reason, want) {
		t.Errorf("waiting reason %q, want it to say %q", j.Reason, want)
	}
	if n := strings.Count(s.out.String(), "node unhealthy"); n != 1 {
		t.Errorf("the server log says the node is unhealthy %d times, want once:\n%s", n, s.out)
	}
	p.open(t)
	j = s.waitTerminal(j.ID, 30*time.Second)
	if j.State != berth.Succeeded || !strings.Contains(s.logs(j.ID), "back") {
		t.Errorf("job after the engine returned: %s (%q), want succeeded", j.State, j.Reason)
	}
}

// proxy forwards a unix socket to the engine's, when open.
type proxy struct {
	path, target string
	ln           net.Listener
}

func (p *proxy) open(t *testing.T) {
	ln, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("unix", p.target)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
}

func (p *proxy) close() {
	if p.ln != nil {
		p.ln.Close()
	}
}

// TestCallbackGuarded: by default a job's callback may not reach loopback,
// link-local (the metadata service) or the server's own addresses: the
// submit is refused naming callback_url.
func TestCallbackGuarded(t *testing.T) {
	s := startFleetServer(t, 10*time.Second)
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://169.254.169.254/latest/meta-data/", "http://localhost:9/hook"} {
		var e struct {
			Error struct{ Field, Message string }
		}
		code := s.call("POST", "/v1/jobs", berth.JobSpec{Image: s.image, CallbackURL: u}, &e)
		if code != http.StatusBadRequest || e.Error.Field != "callback_url" {
			t.Errorf("submit with callback %s = %d %+v, want 400 naming callback_url", u, code, e.Error)
		}
	}
}

// TestFinishedWhileDown: a job whose container ends while the server is
// down ends, once the server is back, when its container did: its run
// time and cost do not take the server's downtime in.
func TestFinishedWhileDown(t *testing.T) {
	s := startServer(t)
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "sleep 1"}})
	j = s.waitState(j.ID, 30*time.Second, berth.Running)
	s.stop(syscall.SIGKILL)
	deadline := time.Now().Add(30 * time.Second)
	for len(runningOf(t, j.Attempts[0].ID)) > 0 { // the container ends meanwhile
		if time.Now().After(deadline) {
			t.Fatalf("the job's container still runs 30 s later")
		}
		time.Sleep(50 * time.Millisecond)
	}
	restarted := time.Now()
	s.start()
	j = s.waitTerminal(j.ID, 30*time.Second)
	if j.State != berth.Succeeded || len(j.Attempts) != 1 {
		t.Fatalf("job: %s, %d attempts (%q); want succeeded once", j.State, len(j.Attempts), j.Reason)
	}
	if end := j.Attempts[0].FinishedAt; end == nil || !end.Before(restarted) {
		t.Errorf("the attempt ended at %v, want when its container did, before the server came back at %v", end, restarted)
	}
}
