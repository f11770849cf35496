package e2e

import (
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
)

// BenchmarkAgentMemory measures a `berth agent` process's resident memory
// idle (joined, heartbeating every 5 s, long-polling) and while it runs 20
// containers (each followed for its logs). Run with -benchtime 1x.
func BenchmarkAgentMemory(b *testing.B) {
	s := startBenchFleetServer(b)
	s.image = dockertest.Image(b)
	a := startAgent(b, s, "", "--heartbeat", "5s", "--poll-wait", "30s", "--cpus", "4", "--memory-mb", "8192", "--log-level", "warn")
	var idle, busy, peak int64
	for b.Loop() {
		s.waitNode(a.id, 10*time.Second, berth.NodeReady)
		time.Sleep(10 * time.Second)
		pid := a.cmd.Process.Pid
		idle = procMem(b, pid, "VmRSS")
		var jobs []berth.Job
		for range 20 {
			jobs = append(jobs, s.submit(berth.JobSpec{Image: s.image, CPU: 0.1, MemoryMB: 32,
				Command: []string{"sh", "-c", "while true; do echo tick; sleep 1; done"}}))
		}
		for _, j := range jobs {
			s.waitState(j.ID, 60*time.Second, berth.Running)
		}
		time.Sleep(10 * time.Second)
		busy, peak = procMem(b, pid, "VmRSS"), procMem(b, pid, "VmHWM")
		for _, j := range jobs {
			s.call("POST", "/v1/jobs/"+j.ID+"/cancel", nil, nil)
		}
		for _, j := range jobs {
			s.waitTerminal(j.ID, 60*time.Second)
		}
	}
	b.ReportMetric(float64(idle)/1024, "idle-rss-MB")
	b.ReportMetric(float64(busy)/1024, "busy-rss-MB")
	b.ReportMetric(float64(peak)/1024, "peak-rss-MB")
}
