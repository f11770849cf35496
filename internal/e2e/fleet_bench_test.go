package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
)

// fleetSize and heartbeatEvery are the simulated fleet of
// BenchmarkServerWithFleet.
const (
	fleetSize      = 1000
	heartbeatEvery = 5 * time.Second
)

// BenchmarkServerWithFleet measures what a fleet of agents costs the
// server: 1,000 simulated agents (in this process) join, then each
// heartbeats every 5 s and holds a long-poll for assignments, as `berth
// agent` does. One iteration is one heartbeat period; the figures are the
// server process's CPU time over the measured periods, as a share of one
// core, and its resident memory at the end. Run with -benchtime 6x (30 s).
func BenchmarkServerWithFleet(b *testing.B) {
	s := startBenchFleetServer(b)
	tok, err := os.ReadFile(filepath.Join(s.data, "join.token"))
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * fleetSize, MaxIdleConns: 2 * fleetSize}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	creds := make([]string, fleetSize)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range creds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var res nodeapi.JoinResponse
			req := nodeapi.JoinRequest{Status: nodeapi.Status{Name: fmt.Sprintf("sim-%04d", i), CPU: 4, MemoryMB: 8192, Healthy: true}}
			if code := fleetCall(ctx, hc, s.url(), strings.TrimSpace(string(tok)), "POST", "/v1/agent/join", req, &res); code != http.StatusCreated {
				b.Errorf("join %d = %d", i, code)
				return
			}
			creds[i] = res.Token
		}()
	}
	wg.Wait()
	if b.Failed() {
		return
	}
	errs := make(chan error, 16)
	for i, cred := range creds {
		wg.Add(2)
		go func() {
			defer wg.Done()
			simHeartbeats(ctx, hc, s.url(), cred, time.Duration(i)*heartbeatEvery/fleetSize, errs)
		}()
		go func() { defer wg.Done(); simPolls(ctx, hc, s.url(), cred, errs) }()
	}
	time.Sleep(heartbeatEvery + time.Second) // every agent has heartbeated and polls
	pid := s.cmd.Process.Pid
	cpu0, t0 := procCPU(b, pid), time.Now()
	for b.Loop() {
		select {
		case err := <-errs:
			b.Fatal(err)
		case <-time.After(heartbeatEvery):
		}
	}
	cpu, wall := procCPU(b, pid)-cpu0, time.Since(t0)
	rss, hwm := procMem(b, pid, "VmRSS"), procMem(b, pid, "VmHWM")
	var list struct{ Nodes []berth.Node }
	s.call("GET", "/v1/nodes", nil, &list)
	ready := 0
	for _, n := range list.Nodes {
		if n.State == berth.NodeReady {
			ready++
		}
	}
	cancel()
	wg.Wait()
	if ready != fleetSize {
		b.Errorf("%d of %d nodes ready at the end", ready, fleetSize)
	}
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%-of-core")
	b.ReportMetric(float64(rss)/1024, "rss-MB")
	b.ReportMetric(float64(hwm)/1024, "peak-rss-MB")
}

func startBenchFleetServer(b *testing.B) *server {
	addr := freeAddr(b)
	s := &server{t: b, data: privateDir(b), addr: addr, scheme: "http", hc: http.DefaultClient,
		args: []string{"--local-agent=false", "--lease-ttl", "30s", "--log-level", "warn",
			"--advertise-url", "http://" + addr, "--join-burst", "100000"}} // its agents all join from this process
	s.start()
	b.Cleanup(func() { s.stop(syscall.SIGTERM) })
	return s
}

// simHeartbeats heartbeats like an agent: every heartbeatEvery, after
// offset; the first asks to be ready.
func simHeartbeats(ctx context.Context, hc *http.Client, base, cred string, offset time.Duration, errs chan<- error) {
	if !sleepCtx(ctx, offset) {
		return
	}
	st := nodeapi.Status{CPU: 4, MemoryMB: 8192, Healthy: true, Ready: true}
	for {
		if code := fleetCall(ctx, hc, base, cred, "PUT", "/v1/agent/node", st, nil); code != http.StatusOK && ctx.Err() == nil {
			select {
			case errs <- fmt.Errorf("heartbeat = %d", code):
			default:
			}
		}
		st.Ready = false
		if !sleepCtx(ctx, heartbeatEvery) {
			return
		}
	}
}

// simPolls long-polls for assignments like an agent.
func simPolls(ctx context.Context, hc *http.Client, base, cred string, errs chan<- error) {
	var v uint64
	for ctx.Err() == nil {
		var as nodeapi.Assignments
		code := fleetCall(ctx, hc, base, cred, "GET", "/v1/agent/assignments?wait=30s&since="+strconv.FormatUint(v, 10), nil, &as)
		if code != http.StatusOK {
			if ctx.Err() == nil {
				select {
				case errs <- fmt.Errorf("poll = %d", code):
				default:
				}
			}
			sleepCtx(ctx, time.Second)
			continue
		}
		v = as.Version
	}
}

func fleetCall(ctx context.Context, hc *http.Client, base, token, method, path string, body, out any) int {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(data, out)
	}
	return resp.StatusCode
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// procCPU is the CPU time (user and system) process pid has used.
func procCPU(b testing.TB, pid int) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 14th and 15th fields of the line.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ
	return time.Duration(ut+st) * time.Second / ticks
}

// procMem reads a memory figure of process pid, in KiB.
func procMem(b testing.TB, pid int, field string) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
