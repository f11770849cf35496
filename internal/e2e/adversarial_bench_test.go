package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/nodeapi"
)

// The attack of BenchmarkAdversarial.
const (
	idleRamp     = 10 * time.Second // idle connections opened (in the first half) and settled
	attackRamp   = 10 * time.Second // floods and trickles started
	attackWindow = 60 * time.Second // measured
	quietWindow  = 10 * time.Second // the admin stream alone, before the attack
	adminEvery   = 20 * time.Millisecond
	floodWorkers = 8    // connections of each flood, each sending as fast as it is answered
	tricklers    = 500  // of each kind: bodies, headers
	costRounds   = 3    // of each request kind, interleaved
	costRequests = 8000 // of a small kind per round; a 1 MiB kind sends a tenth
	// perSource is how many requests a spread flood sends from one source
	// address: fewer than the joins the server lets one address make at once.
	perSource = 25
)

// BenchmarkAdversarial measures berth server (no local agent) under a mix
// of hostile requests sent as fast as this one process can send them:
// deep JSON (40 KB, 20,000 levels) to POST /v1/agent/join with a valid and
// an invalid join token and to POST /v1/jobs with the admin token; 1 MiB
// bodies with bad tokens; joins with the valid join token, from one source
// address and from many (the server limits joins per source, so floods of
// the join route come from many addresses of 127.0.0.0/8); bodies and
// headers trickled a byte a second; and idle connections, each dialled
// again a second after the server closes it: 1.2 times the server's
// --max-connections (its default), so that its guard closes idle ones for
// new ones all along, or half of it. Meanwhile a steady stream of
// well-formed admin calls (GET and POST /v1/jobs, alternating, every 20 ms)
// is timed; it is timed alone before, too. Beforehand, on the quiet server,
// it measures the server's CPU time per request: GET /healthz, a bad token
// shaped like an API token (looked up in the store), a bad token of no
// known shape, a bad API token with a 1 MiB body, interleaved. Figures are
// the server process's (/proc/PID). Run alone, with
//
//	go test ./internal/e2e -run '^$' -bench Adversarial -benchtime 1x -count 3 -timeout 30m
func BenchmarkAdversarial(b *testing.B) {
	b.Run("idle=1.2xbound", func(b *testing.B) { adversarial(b, 1.2) })
	b.Run("idle=0.5xbound", func(b *testing.B) { adversarial(b, 0.5) })
}

// adversarial runs BenchmarkAdversarial with idle connections of share
// times the server's bound.
func adversarial(b *testing.B, share float64) {
	s := startDefendedServer(b)
	pid := s.cmd.Process.Pid
	a := newArsenal(b, s)
	for _, c := range requestCosts(b, pid, a) {
		b.ReportMetric(c.micros, c.name+"-cpu-us")
	}
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	ctx, cancel := context.WithTimeout(context.Background(), quietWindow)
	quiet := adminStream(ctx, hc, s)
	cancel()
	b.ReportMetric(rssMB(b, pid, "VmRSS"), "rss-before-MB")
	var calls adminCalls
	var atk attackResult
	for b.Loop() {
		calls, atk = underAttack(b, s, a, hc, int(share*float64(a.bound)))
	}
	report(b, "quiet-admin", quiet.all)
	report(b, "admin", calls.all)
	b.ReportMetric(msAt(calls.kept, 99), "admin-kept-conn-p99-ms")
	b.ReportMetric(float64(len(calls.dialled)), "admin-new-conns")
	b.ReportMetric(float64(calls.status5xx), "admin-5xx")
	b.ReportMetric(float64(calls.failed), "admin-errors")
	b.ReportMetric(atk.cpuPct, "server-cpu-%")
	b.ReportMetric(atk.clientPct, "client-cpu-%")
	b.ReportMetric(atk.machinePct, "machine-cpu-%")
	b.ReportMetric(atk.rate, "attack-req/s")
	b.ReportMetric(atk.idleRSS, "rss-idle-conns-MB")
	b.ReportMetric(atk.maxRSS, "rss-MB")
	b.ReportMetric(rssMB(b, pid, "VmHWM"), "peak-rss-MB")
	b.ReportMetric(float64(atk.maxFDs), "server-fds")
	b.ReportMetric(float64(atk.maxQueue), "accept-queue")
	if code := s.call("GET", "/healthz", nil, nil); code != http.StatusOK {
		b.Errorf("GET /healthz after the attack = %d", code)
	}
	s.stop(syscall.SIGTERM)
	logServerErrors(b, s.out.String())
}

// startDefendedServer starts berth server without a local agent and with
// its default limits (startBenchFleetServer lifts the limit on joins from
// one address); the advertised URL lets agents join it on loopback.
func startDefendedServer(b *testing.B) *server {
	addr := freeAddr(b)
	s := &server{t: b, data: privateDir(b), addr: addr, scheme: "http", hc: http.DefaultClient,
		args: []string{"--local-agent=false", "--log-level", "warn", "--advertise-url", "http://" + addr}}
	s.start()
	b.Cleanup(func() { s.stop(syscall.SIGTERM) })
	return s
}

// arsenal is the requests of the attack, each whole on the wire.
type arsenal struct {
	addr   string
	bound  int // the server's --max-connections
	floods []*flood
	// sources counts the source addresses the spread floods have used.
	sources atomic.Uint32
	// healthz, badGet, badPlain and badBig are the kinds whose cost is
	// measured.
	healthz, badGet, badPlain, badBig []byte
	// trickleBody is a job submitted with the admin token, its body sent a
	// byte a second; trickleHead is a request whose headers are.
	trickleBody, trickleHead trickled
}

func newArsenal(b *testing.B, s *server) *arsenal {
	raw, err := os.ReadFile(filepath.Join(s.data, "join.token"))
	if err != nil {
		b.Fatal(err)
	}
	join := strings.TrimSpace(string(raw))
	// The same token with another MAC.
	badJoin := join[:strings.LastIndexByte(join, '.')+1] + base64.RawURLEncoding.EncodeToString(make([]byte, sha256.Size))
	sum := sha256.Sum256([]byte("not a token"))
	badPlain := hex.EncodeToString(sum[:]) // of the admin token's shape
	badAPI := "bat_" + badPlain            // an API token's shape: looked up

	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deep16K := strings.Repeat("[", 8000) + strings.Repeat("]", 8000) // within join's 16 KiB
	big := strings.Repeat(" ", 1<<20)
	joinBody, _ := json.Marshal(nodeapi.JoinRequest{Status: nodeapi.Status{Name: "flood", CPU: 4, MemoryMB: 8192, Healthy: true}})
	a := &arsenal{
		addr:  s.addr,
		bound: maxConnections(b, s.cmd.Process.Pid),
		floods: []*flood{
			{name: "deep JSON 40 KB, join, valid token", req: post("/v1/agent/join", join, deep), spread: true},
			{name: "deep JSON 16 KB, join, valid token", req: post("/v1/agent/join", join, deep16K), spread: true},
			{name: "deep JSON 40 KB, join, invalid token", req: post("/v1/agent/join", badJoin, deep), spread: true},
			{name: "deep JSON 40 KB, jobs, admin token", req: post("/v1/jobs", s.token, deep)},
			{name: "1 MiB, jobs, bad API token", req: post("/v1/jobs", badAPI, big)},
			{name: "1 MiB, join, bad join token", req: post("/v1/agent/join", badJoin, big), spread: true},
			{name: "joins, valid token, many sources", req: post("/v1/agent/join", join, string(joinBody)), spread: true},
			{name: "joins, valid token, one source", req: post("/v1/agent/join", join, string(joinBody))},
		},
		healthz:  []byte("GET /healthz HTTP/1.1\r\nHost: berth\r\n\r\n"),
		badGet:   []byte("GET /v1/jobs HTTP/1.1\r\nHost: berth\r\nAuthorization: Bearer " + badAPI + "\r\n\r\n"),
		badPlain: []byte("GET /v1/jobs HTTP/1.1\r\nHost: berth\r\nAuthorization: Bearer " + badPlain + "\r\n\r\n"),
		badBig:   post("/v1/jobs", badAPI, big),
	}
	slow := `{"image":"x"}` + strings.Repeat(" ", 40000)
	a.trickleBody = trickled{post("/v1/jobs", s.token, slow), 0}
	a.trickleBody.at = len(a.trickleBody.req) - len(slow)
	head := "GET /v1/jobs HTTP/1.1\r\nHost: berth\r\n"
	a.trickleHead = trickled{[]byte(head + "X-Slow: " + strings.Repeat("a", 40000) + "\r\n\r\n"), len(head)}
	return a
}

// post is a whole POST request with a bearer token.
func post(path, token, body string) []byte {
	return []byte(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: berth\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, token, len(body), body))
}

// maxConnections is the server's default --max-connections: half its
// limit of open files (which Go raises to the hard limit), at most 4,096.
func maxConnections(b *testing.B, pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			soft, err := strconv.Atoi(strings.Fields(rest)[0])
			if err != nil {
				b.Fatal(err)
			}
			return max(min(soft/2, 4096), 16)
		}
	}
	b.Fatalf("no open-file limit in /proc/%d/limits", pid)
	return 0
}

// wire is one client connection that sends whole requests as bytes and
// reads their answers, dialling again when the server closed it.
type wire struct {
	addr string
	// sources, when set, spreads the requests over source addresses:
	// each connection dials from the next one, and ends after perSource
	// requests.
	sources *atomic.Uint32
	c       net.Conn
	br      *bufio.Reader
	sent    int // on c
}

// send sends req and returns the answer's status, or 0 when the
// connection was cut without one (as when the server refuses a body
// unread and resets the connection). err is a failure to dial.
func (w *wire) send(req []byte) (int, error) {
	if w.c == nil {
		d := net.Dialer{Timeout: 10 * time.Second}
		if w.sources != nil {
			n := w.sources.Add(1)
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, byte(1+n>>16%250), byte(n>>8), byte(n))}
		}
		c, err := d.Dial("tcp", w.addr)
		if err != nil {
			return 0, err
		}
		w.c, w.br, w.sent = c, bufio.NewReader(c), 0
	}
	w.sent++
	_ = w.c.SetDeadline(time.Now().Add(time.Minute))
	_, werr := w.c.Write(req)
	resp, err := http.ReadResponse(w.br, nil)
	if err != nil {
		w.close()
		return 0, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if werr != nil || resp.Close || (w.sources != nil && w.sent >= perSource) {
		w.close()
	}
	return resp.StatusCode, nil
}

func (w *wire) close() {
	if w.c != nil {
		w.c.Close()
		w.c = nil
	}
}

// tally counts answers by status (0: cut without an answer, -1: dial
// failed).
type tally map[int]int64

func (t tally) String() string {
	var parts []string
	for _, code := range slices.Sorted(maps.Keys(t)) {
		name := strconv.Itoa(code)
		switch code {
		case 0:
			name = "cut"
		case -1:
			name = "dial failed"
		}
		parts = append(parts, fmt.Sprintf("%s %d", name, t[code]))
	}
	return strings.Join(parts, ", ")
}

// sendN sends req n times over workers connections and tallies the answers.
func sendN(addr string, req []byte, n, workers int) tally {
	var mu sync.Mutex
	out := tally{}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w := &wire{addr: addr}
			defer w.close()
			t := tally{}
			for next.Add(1) <= int64(n) {
				code, err := w.send(req)
				if err != nil {
					code = -1
				}
				t[code]++
			}
			mu.Lock()
			defer mu.Unlock()
			for k, v := range t {
				out[k] += v
			}
		})
	}
	wg.Wait()
	return out
}

// cost is the server's CPU time per request of a kind.
type cost struct {
	name   string
	micros float64
}

// requestCosts measures the server's CPU time (user and system) per
// request of each kind, in rounds that interleave the kinds so that they
// share the machine's noise.
func requestCosts(b *testing.B, pid int, a *arsenal) []cost {
	kinds := []struct {
		name string
		req  []byte
		n    int
	}{
		{"healthz", a.healthz, costRequests},
		{"reject", a.badGet, costRequests},
		{"reject-plain", a.badPlain, costRequests},
		{"reject-1MiB", a.badBig, costRequests / 10},
	}
	cpu := make([]time.Duration, len(kinds))
	answers := make([]tally, len(kinds))
	for range costRounds {
		for i, k := range kinds {
			cpu0 := procCPU(b, pid)
			t := sendN(a.addr, k.req, k.n, 8)
			cpu[i] += procCPU(b, pid) - cpu0
			if answers[i] == nil {
				answers[i] = tally{}
			}
			for code, n := range t {
				answers[i][code] += n
			}
		}
	}
	out := make([]cost, len(kinds))
	var line []string
	for i, k := range kinds {
		n := float64(costRounds * k.n)
		out[i] = cost{k.name, float64(cpu[i].Microseconds()) / n}
		line = append(line, fmt.Sprintf("%s %.1f µs over %d (%v)", k.name, out[i].micros, int(n), answers[i]))
	}
	b.Logf("server CPU a request: %s", strings.Join(line, "; "))
	return out
}

// flood is one kind of request sent in a loop by floodWorkers connections.
type flood struct {
	name   string
	req    []byte
	spread bool // over source addresses
	sent   atomic.Int64
	// mu guards answers.
	mu      sync.Mutex
	answers tally
}

func (f *flood) run(ctx context.Context, a *arsenal) {
	w := &wire{addr: a.addr}
	if f.spread {
		w.sources = &a.sources
	}
	defer w.close()
	t := tally{}
	for ctx.Err() == nil {
		code, err := w.send(f.req)
		if err != nil {
			code = -1
			sleepCtx(ctx, 10*time.Millisecond)
		}
		t[code]++
		f.sent.Add(1)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answers == nil {
		f.answers = tally{}
	}
	for k, v := range t {
		f.answers[k] += v
	}
}

// attackResult is what the server did under attack.
type attackResult struct {
	idleRSS   float64 // MB, with the idle connections open, before the floods
	cpuPct    float64 // the server's CPU time over the window, % of one core
	clientPct float64 // this process's, the attacker's and the admin's
	// machinePct is every process's CPU time, % of one core: on a shared
	// machine, more than the server's and the client's.
	machinePct float64
	rate       float64 // flood requests answered (or cut) a second, in the window
	maxRSS     float64 // MB, sampled every 500 ms in the window
	maxFDs     int     // open files, sampled with it
	maxQueue   int     // connections waiting in the listener's accept queue, sampled with it
}

// underAttack opens the idle connections, starts the trickles and floods,
// and after attackRamp times the admin stream for attackWindow.
func underAttack(b *testing.B, s *server, a *arsenal, hc *http.Client, idle int) (adminCalls, attackResult) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var dials, dialsFailed atomic.Int64
	for i := range idle {
		offset := time.Duration(i) * idleRamp / 2 / time.Duration(idle)
		wg.Go(func() { holdIdle(ctx, a.addr, i%2 == 0, a.healthz, offset, &dials, &dialsFailed) })
	}
	time.Sleep(idleRamp)
	var res attackResult
	res.idleRSS = rssMB(b, s.cmd.Process.Pid, "VmRSS")
	trickles := make([]trickleEnds, 2*tricklers)
	for i := range trickles {
		t := a.trickleBody
		if i%2 == 1 {
			t = a.trickleHead
		}
		offset := time.Duration(i) * time.Second / time.Duration(len(trickles))
		wg.Go(func() { trickles[i] = trickle(ctx, a.addr, t, offset) })
	}
	for _, f := range a.floods {
		for range floodWorkers {
			wg.Go(func() { f.run(ctx, a) })
		}
	}
	time.Sleep(attackRamp)
	calls, rates := res.measure(b, s, hc, a.floods)
	cancel()
	wg.Wait()
	for i, f := range a.floods {
		b.Logf("%-36s %5.0f/s in the window; answers from the start: %v", f.name, rates[i], f.answers)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	b.Logf("load average %s; %d idle connections against the server's bound of %d: %d dials, %d failed; trickled bodies: %v; trickled headers: %v",
		strings.Join(strings.Fields(string(load))[:3], " "), idle, a.bound, dials.Load(), dialsFailed.Load(), merge(trickles, 0), merge(trickles, 1))
	b.Logf("admin calls under attack: %d answered %v, %d errors %s; p50/p99 ms: GET %.1f/%.1f, POST %.1f/%.1f, kept connections %.1f/%.1f, %d new ones %.1f/%.1f",
		len(calls.all), calls.answers, calls.failed, calls.firstErr,
		msAt(calls.get, 50), msAt(calls.get, 99), msAt(calls.post, 50), msAt(calls.post, 99),
		msAt(calls.kept, 50), msAt(calls.kept, 99), len(calls.dialled), msAt(calls.dialled, 50), msAt(calls.dialled, 99))
	return calls, res
}

// measure times the admin stream for attackWindow and notes the CPU time
// of the server, of this process and of the machine meanwhile, and each
// flood's rate.
func (res *attackResult) measure(b *testing.B, s *server, hc *http.Client, floods []*flood) (adminCalls, []float64) {
	pid := s.cmd.Process.Pid
	rates := make([]float64, len(floods))
	for i, f := range floods {
		rates[i] = -float64(f.sent.Load())
	}
	cpu0, own0, busy0, t0 := procCPU(b, pid), procCPU(b, os.Getpid()), machineBusy(), time.Now()
	calls := res.window(b, s, hc)
	cpu, own, busy, wall := procCPU(b, pid)-cpu0, procCPU(b, os.Getpid())-own0, machineBusy()-busy0, time.Since(t0).Seconds()
	res.cpuPct = 100 * cpu.Seconds() / wall
	res.clientPct = 100 * own.Seconds() / wall
	res.machinePct = 100 * busy.Seconds() / wall
	for i, f := range floods {
		rates[i] = (rates[i] + float64(f.sent.Load())) / wall
		res.rate += rates[i]
	}
	return calls, rates
}

// window runs the admin stream for attackWindow, sampling the server's
// memory, open files and accept queue meanwhile.
func (res *attackResult) window(b *testing.B, s *server, hc *http.Client) adminCalls {
	pid := s.cmd.Process.Pid
	ctx, cancel := context.WithTimeout(context.Background(), attackWindow)
	defer cancel()
	admin := make(chan adminCalls)
	go func() { admin <- adminStream(ctx, hc, s) }()
	for ctx.Err() == nil {
		res.maxRSS = max(res.maxRSS, rssMB(b, pid, "VmRSS"))
		if fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			res.maxFDs = max(res.maxFDs, len(fds))
		}
		res.maxQueue = max(res.maxQueue, acceptQueue(s.addr))
		sleepCtx(ctx, 500*time.Millisecond)
	}
	return <-admin
}

// machineBusy is the CPU time all processes have used since boot (the
// first line of /proc/stat: user, nice, system, irq, softirq), or 0.
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	var busy int64
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		if i <= 2 || i == 5 || i == 6 {
			busy += n
		}
	}
	const ticks = 100 // USER_HZ
	return time.Duration(busy) * time.Second / ticks
}

// acceptQueue is how many connections wait in the accept queue of the
// IPv4 listener on addr, or -1 when it is not found: /proc/net/tcp shows it
// as a listener's rx_queue, and its address in the machine's byte order
// (little-endian here).
func acceptQueue(addr string) int {
	host, port, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host).To4()
	p, _ := strconv.Atoi(port)
	if ip == nil {
		return -1
	}
	local := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], p)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 5 && fs[1] == local && fs[3] == "0A" { // LISTEN
			_, rx, _ := strings.Cut(fs[4], ":")
			n, _ := strconv.ParseInt(rx, 16, 64)
			return int(n)
		}
	}
	return -1
}

// holdIdle keeps a connection open and idle until ctx ends: after one
// request when asked, silent otherwise. When the server closes it (its
// guard, or its timeouts), it dials again a second later.
func holdIdle(ctx context.Context, addr string, ask bool, req []byte, offset time.Duration, dials, failed *atomic.Int64) {
	if !sleepCtx(ctx, offset) {
		return
	}
	for ctx.Err() == nil {
		dials.Add(1)
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			failed.Add(1)
			sleepCtx(ctx, time.Second)
			continue
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		br := bufio.NewReader(c)
		if ask {
			if _, err := c.Write(req); err == nil {
				if resp, err := http.ReadResponse(br, nil); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
		_, _ = br.ReadByte() // until the server closes it
		stop()
		c.Close()
		sleepCtx(ctx, time.Second)
	}
}

// trickled is a request sent slowly: its first at bytes at once, then one
// byte a second.
type trickled struct {
	req []byte
	at  int
}

// trickleEnds are how the server ended trickled requests, and how long
// each connection lasted from its dial.
type trickleEnds struct {
	codes  tally
	lasted []time.Duration
}

func (e trickleEnds) String() string {
	if len(e.lasted) == 0 {
		return "none ended"
	}
	return fmt.Sprintf("%v, lasting %.1f s at p50, %.1f s at most", e.codes, pct(e.lasted, 50).Seconds(), pct(e.lasted, 100).Seconds())
}

// trickle sends t over and over until ctx ends, each on a new connection,
// and notes how the server ended each.
func trickle(ctx context.Context, addr string, t trickled, offset time.Duration) trickleEnds {
	out := trickleEnds{codes: tally{}}
	sleepCtx(ctx, offset)
	for ctx.Err() == nil {
		t0 := time.Now()
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			out.codes[-1]++
			sleepCtx(ctx, time.Second)
			continue
		}
		answered := make(chan int, 1)
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				answered <- 0
				return
			}
			resp.Body.Close()
			answered <- resp.StatusCode
		}()
		if code, ok := trickleOn(ctx, c, t, answered); ok {
			out.codes[code]++
			out.lasted = append(out.lasted, time.Since(t0))
		}
	}
	return out
}

// trickleOn trickles t on c until the server answers or closes c (ok), or
// ctx ends.
func trickleOn(ctx context.Context, c net.Conn, t trickled, answered <-chan int) (int, bool) {
	defer c.Close()
	if _, err := c.Write(t.req[:t.at]); err != nil {
		c.Close()
		return <-answered, true
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := t.at; ; i++ {
		select {
		case code := <-answered:
			return code, true
		case <-ctx.Done():
			c.Close()
			<-answered
			return 0, false
		case <-tick.C:
			if i < len(t.req) {
				_, _ = c.Write(t.req[i : i+1])
			}
		}
	}
}

// merge gathers every other of es, from the first-th.
func merge(es []trickleEnds, first int) trickleEnds {
	out := trickleEnds{codes: tally{}}
	for i := first; i < len(es); i += 2 {
		for code, n := range es[i].codes {
			out.codes[code] += n
		}
		out.lasted = append(out.lasted, es[i].lasted...)
	}
	return out
}

// adminCalls are the well-formed admin calls of a stream, their times
// and answers.
type adminCalls struct {
	all, get, post []time.Duration
	kept, dialled  []time.Duration // on a kept-alive connection, on a new one
	answers        tally
	status5xx      int
	failed         int    // no answer
	firstErr       string // of those
}

// adminStream calls the admin API every adminEvery until ctx ends,
// alternating GET /v1/jobs?limit=20 and POST /v1/jobs, each call timed
// from its send to the end of its answer.
func adminStream(ctx context.Context, hc *http.Client, s *server) adminCalls {
	body := fmt.Sprintf(`{"image":%q,"command":["true"]}`, dockertest.TestImage)
	out := adminCalls{answers: tally{}}
	var mu sync.Mutex // guards out
	var wg sync.WaitGroup
	tick := time.NewTicker(adminEvery)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return out
		case <-tick.C:
		}
		req, _ := http.NewRequest("GET", s.url()+"/v1/jobs?limit=20", nil)
		if i%2 == 1 {
			req, _ = http.NewRequest("POST", s.url()+"/v1/jobs", strings.NewReader(body))
		}
		req.Header.Set("Authorization", "Bearer "+s.token)
		var reused bool
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(c httptrace.GotConnInfo) { reused = c.Reused },
		}))
		wg.Go(func() {
			t0 := time.Now()
			resp, err := hc.Do(req)
			if err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			mu.Lock()
			defer mu.Unlock()
			out.add(req.Method, reused, time.Since(t0), resp, err)
		})
	}
}

// msAt is the p-th percentile of ds in milliseconds, 0 when ds is empty.
func msAt(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	return ms(pct(ds, p))
}

func (c *adminCalls) add(method string, reused bool, d time.Duration, resp *http.Response, err error) {
	if err != nil {
		if c.failed++; c.failed == 1 {
			c.firstErr = err.Error()
		}
		return
	}
	c.all = append(c.all, d)
	if method == "GET" {
		c.get = append(c.get, d)
	} else {
		c.post = append(c.post, d)
	}
	if reused {
		c.kept = append(c.kept, d)
	} else {
		c.dialled = append(c.dialled, d)
	}
	c.answers[resp.StatusCode]++
	if resp.StatusCode >= 500 {
		c.status5xx++
	}
}

// logServerErrors logs what the stopped server wrote at level ERROR, and
// any panic.
func logServerErrors(b *testing.B, out string) {
	var bad []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=ERROR") || strings.HasPrefix(line, "panic") {
			bad = append(bad, line)
		}
	}
	if len(bad) > 0 {
		b.Logf("the server logged %d errors; the first: %s", len(bad), strings.Join(bad[:min(len(bad), 5)], "\n"))
	}
}
