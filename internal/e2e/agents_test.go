package e2e

import (
	"fmt"
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
	"github.com/berth-run/berth/internal/nodeapi"
)

// succeededOnce checks that a job succeeded, that exactly one of its
// attempts exited 0, and that its output ends once.
func succeededOnce(t *testing.T, s *server, j berth.Job) {
	t.Helper()
	if j.State != berth.Succeeded {
		t.Errorf("job %s: %s (%q), want succeeded", j.ID, j.State, j.Reason)
		return
	}
	zero := 0
	for _, a := range j.Attempts {
		if a.ExitCode != nil && *a.ExitCode == 0 {
			zero++
		}
	}
	if zero != 1 {
		t.Errorf("job %s: %d attempts exited 0 (%+v), want exactly one", j.ID, zero, j.Attempts)
	}
	if n := strings.Count(s.logs(j.ID), "end\n"); n != 1 {
		t.Errorf("job %s: its output ends %d times, want once", j.ID, n)
	}
}

// TestAgentsKillNine: a server and three agents, each a process with its
// own capacity on the one engine, run 30 jobs. One agent's host dies
// mid-run (kill -9, its containers gone): its node is lost after the
// lease, its jobs run again elsewhere, and every job succeeds, exactly once.
func TestAgentsKillNine(t *testing.T) {
	s := startFleetServer(t, 3*time.Second)
	agents := []*agentProc{
		startAgent(t, s, "", "--name", "a", "--cpus", "2", "--memory-mb", "2048"),
		startAgent(t, s, "", "--name", "b", "--cpus", "2", "--memory-mb", "2048"),
		startAgent(t, s, "", "--name", "c", "--cpus", "1", "--memory-mb", "1024"),
	}
	for _, a := range agents {
		s.waitNode(a.id, 10*time.Second, berth.NodeReady)
	}
	var jobs []berth.Job
	for i := range 30 {
		jobs = append(jobs, s.submit(berth.JobSpec{Image: s.image, CPU: 0.5, MemoryMB: 128,
			Command: []string{"sh", "-c", fmt.Sprintf("echo start %d; sleep 3; echo end", i)}}))
	}
	victim := agents[0]
	deadline := time.Now().Add(20 * time.Second)
	for s.nodes()[victim.id].UsedCPU < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("agent a never ran 4 jobs at once: %+v", s.nodes()[victim.id])
		}
		time.Sleep(25 * time.Millisecond)
	}
	time.Sleep(time.Second)
	victim.stop(syscall.SIGKILL)
	removeNodeContainers(t, victim.id) // the host went down with it
	lostAt := time.Now()
	s.waitNode(victim.id, 10*time.Second, berth.NodeLost)
	t.Logf("node lost %s after the kill", time.Since(lostAt).Round(time.Millisecond))
	requeued := 0
	for _, j := range jobs {
		j = s.waitTerminal(j.ID, 90*time.Second)
		succeededOnce(t, s, j)
		if j.Requeued > 0 {
			requeued++
			if j.Retried != 0 || j.Attempts[0].Node != victim.id || j.Attempts[0].Reason != "node lost" || j.Attempts[len(j.Attempts)-1].Node == victim.id {
				t.Errorf("re-queued job %s: retried %d, attempts %+v; want the first lost on a, the last elsewhere", j.ID, j.Retried, j.Attempts)
			}
		}
	}
	if requeued == 0 {
		t.Errorf("no job was re-queued: the agent was killed while idle")
	}
	if n := s.nodes()[victim.id]; n.State != berth.NodeLost || n.UsedCPU != 0 {
		t.Errorf("the killed node: %s using %v vCPU, want lost and empty", n.State, n.UsedCPU)
	}
}

// TestAgentPartition: an agent cut off from the server past the lease TTL
// is lost and its jobs run again elsewhere; when the link heals it kills
// the stale containers it still runs, then gets back to work.
func TestAgentPartition(t *testing.T) {
	s := startFleetServer(t, 3*time.Second)
	p := startProxy(t, s.addr)
	cut := startAgent(t, s, "http://"+p.addr(), "--name", "cut", "--cpus", "1", "--memory-mb", "1024")
	s.waitNode(cut.id, 10*time.Second, berth.NodeReady)
	var jobs []berth.Job
	for i := range 2 {
		jobs = append(jobs, s.submit(berth.JobSpec{Image: s.image, CPU: 0.5, MemoryMB: 128,
			Command: []string{"sh", "-c", fmt.Sprintf("echo start %d; sleep 30; echo end", i)}})) // outlasts a second agent's start on a loaded machine
	}
	var stale []string
	for _, j := range jobs {
		j = s.waitState(j.ID, 20*time.Second, berth.Running)
		stale = append(stale, j.Attempts[0].ID)
	}
	other := startAgent(t, s, "", "--name", "other", "--cpus", "2", "--memory-mb", "2048")
	s.waitNode(other.id, 10*time.Second, berth.NodeReady)

	p.partition()
	s.waitNode(cut.id, 10*time.Second, berth.NodeLost)
	for _, j := range jobs {
		s.waitJob(j.ID, 10*time.Second, "running elsewhere", func(j berth.Job) bool {
			return j.State == berth.Running && j.Attempts[len(j.Attempts)-1].Node == other.id
		})
	}
	for _, a := range stale {
		if len(runningOf(t, a)) != 1 {
			t.Fatalf("the partitioned agent's container of %s does not run: the test would prove nothing", a)
		}
	}
	p.heal()
	healed := time.Now()
	deadline := healed.Add(3 * time.Second) // they would end on their own much later
	for _, a := range stale {
		for len(runningOf(t, a)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("stale container of %s still runs 3s after the link healed\nagent output:\n%s", a, cut.out)
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	t.Logf("stale containers killed %s after the link healed", time.Since(healed).Round(time.Millisecond))
	s.waitNode(cut.id, 10*time.Second, berth.NodeReady)
	for _, j := range jobs {
		j = s.waitTerminal(j.ID, 60*time.Second)
		succeededOnce(t, s, j)
		if len(j.Attempts) != 2 || j.Requeued != 1 || j.Retried != 0 {
			t.Errorf("job %s: %d attempts, requeued %d, retried %d; want 2, 1, 0", j.ID, len(j.Attempts), j.Requeued, j.Retried)
		}
	}
	// Back at work: with the other node drained, the healed one takes a
	// new job.
	if code := s.call("POST", "/v1/nodes/"+other.id+"/drain", nil, nil); code != http.StatusOK {
		t.Fatalf("drain = %d", code)
	}
	j := s.waitTerminal(s.submit(berth.JobSpec{Image: s.image, Command: []string{"echo", "end"}}).ID, 30*time.Second)
	succeededOnce(t, s, j)
	if j.Attempts[0].Node != cut.id {
		t.Errorf("the new job ran on %s, want the healed node %s", j.Attempts[0].Node, cut.id)
	}
}

// fakeIMDS is the instance metadata service (IMDSv2: token first) of one
// Spot instance. Its interruption notice is action, once the test arms
// it, or the one Notice tells.
type fakeIMDS struct {
	// ID, Type, Zone and Region describe the instance: ID "" is i-0e2e,
	// and the others are not found when "".
	ID, Type, Zone, Region string
	// Notice, when set, tells whether and when the instance got its
	// interruption notice: spot/instance-action then names its reclaim,
	// berth.SpotNotice later.
	Notice func() (time.Time, bool)

	mu     sync.Mutex
	action string
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		w.Write([]byte("imds-token"))
		return
	}
	if r.Header.Get("X-aws-ec2-metadata-token") != "imds-token" {
		http.Error(w, "no token", http.StatusUnauthorized)
		return
	}
	id := f.ID
	if id == "" {
		id = "i-0e2e"
	}
	item := map[string]string{
		"instance-id":                 id,
		"instance-type":               f.Type,
		"placement/availability-zone": f.Zone,
		"placement/region":            f.Region,
		"instance-life-cycle":         "spot",
		"spot/instance-action":        f.instanceAction(),
	}[strings.TrimPrefix(r.URL.Path, "/latest/meta-data/")]
	if item == "" {
		http.NotFound(w, r)
		return
	}
	w.Write([]byte(item))
}

// instanceAction is the Spot interruption notice, "" before there is one.
func (f *fakeIMDS) instanceAction() string {
	if f.Notice != nil {
		at, ok := f.Notice()
		if !ok {
			return ""
		}
		return fmt.Sprintf(`{"action": "terminate", "time": %q}`, at.Add(berth.SpotNotice).UTC().Format(time.RFC3339))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.action
}

// TestSpotInterruption: the metadata service arms a Spot interruption:
// within 5 s the node drains and its jobs are re-queued ("spot reclaimed on
// i-0e2e", no retry spent), its containers are stopped, and the jobs
// succeed elsewhere.
func TestSpotInterruption(t *testing.T) {
	s := startFleetServer(t, 5*time.Second)
	imds := &fakeIMDS{}
	md := httptest.NewServer(imds)
	defer md.Close()
	spot := startAgent(t, s, "", "--imds", md.URL, "--cpus", "1", "--memory-mb", "1024")
	n := s.waitNode(spot.id, 30*time.Second, berth.NodeReady)
	if n.Name != "i-0e2e" {
		t.Errorf("node name %q, want the instance id", n.Name)
	}
	var jobs []berth.Job
	for i := range 2 {
		jobs = append(jobs, s.submit(berth.JobSpec{Image: s.image, CPU: 0.5, MemoryMB: 128,
			Command: []string{"sh", "-c", fmt.Sprintf("echo start %d; sleep 20; echo end", i)}})) // outlasts a second agent's start on a loaded machine
	}
	var first []string
	for _, j := range jobs {
		j = s.waitState(j.ID, 20*time.Second, berth.Running)
		first = append(first, j.Attempts[0].ID)
	}
	other := startAgent(t, s, "", "--cpus", "2", "--memory-mb", "2048")
	s.waitNode(other.id, 10*time.Second, berth.NodeReady)

	imds.mu.Lock()
	imds.action = `{"action": "terminate", "time": "2026-11-22T10:02:00Z"}`
	imds.mu.Unlock()
	armed := time.Now()
	for _, j := range jobs {
		j = s.waitJob(j.ID, 10*time.Second, "re-queued", func(j berth.Job) bool { return j.Requeued == 1 })
		if !strings.HasPrefix(j.Reason, "spot reclaimed on i-0e2e") && j.State == berth.Queued {
			t.Errorf("job %s re-queued with reason %q", j.ID, j.Reason)
		}
	}
	took := time.Since(armed)
	t.Logf("jobs re-queued %s after the notice was armed", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("jobs re-queued %s after the notice, want within 5s", took)
	}
	var node struct {
		berth.Node
		Notice string `json:"notice"`
		Facts  nodeapi.Facts
	}
	s.call("GET", "/v1/nodes/"+spot.id, nil, &node)
	if node.State != berth.NodeDraining || node.Notice != "spot_interruption" || node.Facts.Market != "spot" {
		t.Errorf("reclaimed node: %s, notice %q, market %q; want draining, spot_interruption, spot", node.State, node.Notice, node.Facts.Market)
	}
	for _, j := range jobs {
		j = s.waitTerminal(j.ID, 60*time.Second)
		succeededOnce(t, s, j)
		if j.Retried != 0 || len(j.Attempts) != 2 || j.Attempts[1].Node != other.id || j.Attempts[0].Reason != "spot reclaimed on i-0e2e" {
			t.Errorf("job %s: retried %d, attempts %+v; want the second on the other node", j.ID, j.Retried, j.Attempts)
			continue
		}
		// One live attempt at a time: the second was placed only once the
		// first's container had stopped.
		if first, second := j.Attempts[0], j.Attempts[1]; first.FinishedAt == nil || second.CreatedAt.Before(*first.FinishedAt) {
			t.Errorf("job %s: second attempt placed at %v, before the first ended at %v", j.ID, second.CreatedAt, first.FinishedAt)
		}
	}
	for _, a := range first {
		if len(runningOf(t, a)) > 0 {
			t.Errorf("the reclaimed node's container of %s still runs", a)
		}
	}
}

// TestAgentRestartAdopts: an agent killed and started again while its job
// runs adopts the container: the job runs once, its output whole.
func TestAgentRestartAdopts(t *testing.T) {
	s := startFleetServer(t, 10*time.Second)
	a := startAgent(t, s, "", "--cpus", "1")
	s.waitNode(a.id, 10*time.Second, berth.NodeReady)
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "echo start; sleep 4; echo end"}})
	s.waitState(j.ID, 20*time.Second, berth.Running)
	a.stop(syscall.SIGKILL)
	a.start()
	j = s.waitTerminal(j.ID, 30*time.Second)
	succeededOnce(t, s, j)
	if len(j.Attempts) != 1 || strings.Count(s.logs(j.ID), "start\n") != 1 {
		t.Errorf("job after the agent restarted: %d attempts, logs %q; want one attempt, one start", len(j.Attempts), s.logs(j.ID))
	}
}

// TestStolenNodeCredential: an agent's own credential, taken from its data
// directory, cannot report on another node's attempt, read jobs, or act as
// admin; the job it tried to forge runs on to its real end.
func TestStolenNodeCredential(t *testing.T) {
	s := startFleetServer(t, 10*time.Second)
	honest := startAgent(t, s, "", "--cpus", "1")
	s.waitNode(honest.id, 10*time.Second, berth.NodeReady)
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "sleep 2; echo end; exit 3"}})
	j = s.waitState(j.ID, 20*time.Second, berth.Running)
	thief := startAgent(t, s, "", "--cpus", "1")
	s.waitNode(thief.id, 10*time.Second, berth.NodeReady)
	b, err := os.ReadFile(filepath.Join(thief.data, "node.token"))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	att := j.Attempts[0].ID
	for _, tt := range []struct {
		method, path string
		body         any
		want         int
	}{
		{"POST", "/v1/agent/attempts/" + att + "/finished", berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, 403},
		{"POST", "/v1/agent/attempts/" + att + "/started", nodeapi.Started{ContainerID: "forged"}, 403},
		{"POST", "/v1/agent/attempts/" + att + "/logs?offset=0", "forged output", 403},
		{"GET", "/v1/jobs", nil, 401},
		{"GET", "/v1/jobs/" + j.ID, nil, 401},
		{"GET", "/v1/jobs/" + j.ID + "/logs", nil, 401},
		{"POST", "/v1/jobs", berth.JobSpec{Image: s.image}, 401},
		{"GET", "/v1/pools", nil, 401},
		{"POST", "/v1/nodes/" + honest.id + "/drain", nil, 401},
	} {
		if code := s.callWith(tok, tt.method, tt.path, tt.body, nil); code != tt.want {
			t.Errorf("with a node credential %s %s = %d, want %d", tt.method, tt.path, code, tt.want)
		}
	}
	j = s.waitTerminal(j.ID, 30*time.Second)
	if j.State != berth.Failed || j.ExitCode == nil || *j.ExitCode != 3 || strings.Contains(s.logs(j.ID), "forged") {
		t.Errorf("job after the forgeries: %s, exit %v, logs %q; want failed with its own exit code 3", j.State, j.ExitCode, s.logs(j.ID))
	}
}

// TestServerRestartWithAgents: the server is killed and restarted while a
// remote agent runs a job: the agent carries on, no node is lost, and the
// job runs once.
func TestServerRestartWithAgents(t *testing.T) {
	s := startFleetServer(t, 5*time.Second)
	a := startAgent(t, s, "", "--cpus", "1")
	s.waitNode(a.id, 10*time.Second, berth.NodeReady)
	j := s.submit(berth.JobSpec{Image: s.image, Command: []string{"sh", "-c", "echo start; sleep 6; echo end"}})
	s.waitState(j.ID, 20*time.Second, berth.Running)
	s.stop(syscall.SIGKILL)
	time.Sleep(2 * time.Second)
	s.start()
	j = s.waitTerminal(j.ID, 30*time.Second)
	succeededOnce(t, s, j)
	if len(j.Attempts) != 1 || j.Requeued != 0 {
		t.Errorf("job across the server's restart: %d attempts, requeued %d; want one attempt", len(j.Attempts), j.Requeued)
	}
	if n := s.nodes()[a.id]; n.State != berth.NodeReady {
		t.Errorf("node after the restart: %s, want ready", n.State)
	}
	// The agent hears of new work at once, though its last version came
	// from the old server.
	start := time.Now()
	j = s.waitState(s.submit(berth.JobSpec{Image: s.image, Command: []string{"sleep", "1"}}).ID, 10*time.Second, berth.Running)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a job after the restart took %s to start, want the long-poll to wake at once", took)
	}
}

// TestAgentFencesItself: an agent that cannot reach the server kills its
// own containers before the server's lease runs out, so that when the job
// runs again elsewhere its old container is gone: never two live attempts.
func TestAgentFencesItself(t *testing.T) {
	s := startFleetServer(t, 4*time.Second)
	p := startProxy(t, s.addr)
	cut := startAgent(t, s, "http://"+p.addr(), "--name", "cut", "--cpus", "1", "--memory-mb", "1024", "--heartbeat", "500ms", "--fence-after", "2s")
	s.waitNode(cut.id, 10*time.Second, berth.NodeReady)
	j := s.waitState(s.submit(berth.JobSpec{Image: s.image, CPU: 0.5, MemoryMB: 128, Command: []string{"sleep", "30"}}).ID, 20*time.Second, berth.Running)
	stale := j.Attempts[0].ID
	other := startAgent(t, s, "", "--name", "other", "--cpus", "2", "--memory-mb", "2048")
	s.waitNode(other.id, 10*time.Second, berth.NodeReady)

	p.partition()
	j = s.waitJob(j.ID, 20*time.Second, "running elsewhere", func(j berth.Job) bool {
		return j.State == berth.Running && j.Attempts[len(j.Attempts)-1].Node == other.id
	})
	if n := len(runningOf(t, stale)); n != 0 {
		t.Errorf("when the job ran again elsewhere, its old container still ran on the cut-off node")
	}
	if j.Retried != 0 || j.Requeued != 1 {
		t.Errorf("job: retried %d, requeued %d; want 0 and 1", j.Retried, j.Requeued)
	}
	p.heal()
	s.waitNode(cut.id, 15*time.Second, berth.NodeReady)
}
