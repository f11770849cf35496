package agent

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// fakeProbe answers RunProbe with its answers in turn, the last one again
// once they run out, and logs the command lines it was given.
type fakeProbe struct {
	// mu guards answers and calls.
	mu      sync.Mutex
	answers []probeAnswer
	calls   [][]string
	// hold, when set, holds each probe until it is closed.
	hold chan struct{}
}

type probeAnswer struct {
	code int
	out  string
	err  error
}

func (p *fakeProbe) RunProbe(ctx context.Context, program string, args ...string) (int, []byte, error) {
	if p.hold != nil {
		select {
		case <-p.hold:
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, append([]string{program}, args...))
	a := p.answers[min(len(p.calls), len(p.answers))-1]
	return a.code, []byte(a.out), a.err
}

func (p *fakeProbe) probes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

var (
	reached   = probeAnswer{out: "berth-imds-probe: reached: GET /latest/meta-data/ answered 200 OK without a token (IMDSv1)\n"}
	unreached = probeAnswer{out: "berth-imds-probe: unreachable: PUT /latest/api/token: no answer within 1s; GET /latest/meta-data/: answered 401 Unauthorized\n"}
	noVerdict = probeAnswer{code: 127, out: "exec /berth/probe: no such file or directory\n"}
	noEngine  = probeAnswer{err: errors.New("create probe container: engine unavailable")}
)

const (
	reachedReason = "containers on this host can reach the instance metadata service at 169.254.169.254:80; " +
		"set the IMDSv2 hop limit to 1 (aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 1 --http-tokens required) " +
		"or start the agent with --allow-container-imds"
	unknownReason = "cannot tell whether containers on this host can reach the instance metadata service at 169.254.169.254:80"
)

// TestContainerIMDS: an agent whose containers reach the metadata service,
// or that cannot tell, reports its node unhealthy with the reason and runs
// nothing, probing again a minute later, and works once the probe finds
// the service out of reach; with Allow it works at once.
func TestContainerIMDS(t *testing.T) {
	tests := []struct {
		name       string
		answers    []probeAnswer
		allow      bool
		wantReason string // at first; "" for a healthy node
		wantLater  string // a minute later
		wantProbes int    // in all
	}{
		{"reached, then fixed", []probeAnswer{reached, unreached}, false, reachedReason, "", 2},
		{"reached, still", []probeAnswer{reached}, false, reachedReason, reachedReason, 2},
		{"reached, allowed", []probeAnswer{reached}, true, "", "", 1},
		{"out of reach", []probeAnswer{unreached}, false, "", "", 1},
		{"no verdict", []probeAnswer{noVerdict, unreached}, false, unknownReason, "", 2},
		{"no engine", []probeAnswer{noEngine, unreached}, false, unknownReason, "", 2},
		{"no verdict, allowed", []probeAnswer{noVerdict}, true, "", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := newFakeServer(berth.NodeReady)
				runner := fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096})
				probe := &fakeProbe{answers: tt.answers}
				guard := &MetadataGuard{Addr: "169.254.169.254:80", Program: "/usr/bin/berth", Runner: probe, Allow: tt.allow}
				ctx, cancel := context.WithCancel(t.Context())
				a := New(Config{NodeID: "node_a", HealthInterval: 5 * time.Second, ContainerIMDS: guard}, srv, runner, discardSink{}, quiet())
				done := make(chan struct{})
				go func() { defer close(done); a.Run(ctx) }()
				defer func() { cancel(); <-done }()
				srv.assign("att_1", "FAKE_RUN_FOR", "1h")

				check := func(when, wantReason string) {
					t.Helper()
					srv.mu.Lock()
					last := srv.beats[len(srv.beats)-1]
					srv.mu.Unlock()
					if wantReason == "" {
						if !last.Healthy {
							t.Errorf("%s: node unhealthy (%q), want healthy", when, last.Reason)
						}
						if got := running(t, runner); !slices.Equal(got, []string{"att_1"}) {
							t.Errorf("%s: running %v, want [att_1]", when, got)
						}
						return
					}
					if last.Healthy || !strings.HasPrefix(last.Reason, wantReason) {
						t.Errorf("%s: node healthy %v, reason %q; want unhealthy, reason %q", when, last.Healthy, last.Reason, wantReason)
					}
					if got := running(t, runner); len(got) != 0 {
						t.Errorf("%s: running %v, want nothing", when, got)
					}
				}
				time.Sleep(30 * time.Second)
				check("at first", tt.wantReason)
				time.Sleep(time.Minute)
				check("a minute later", tt.wantLater)
				if n := probe.probes(); n != tt.wantProbes {
					t.Errorf("%d probes, want %d", n, tt.wantProbes)
				}
				probe.mu.Lock()
				defer probe.mu.Unlock()
				if want := []string{"/usr/bin/berth", ProbeCommand, "169.254.169.254:80"}; !slices.Equal(probe.calls[0], want) {
					t.Errorf("probe ran %q, want %q", probe.calls[0], want)
				}
			})
		})
	}
}

// TestContainerIMDSSlowProbe: while a probe runs, the node heartbeats on,
// unhealthy until the verdict is in, and runs nothing.
func TestContainerIMDSSlowProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(berth.NodeReady)
		runner := fake.New(provider.Capacity{CPU: 4, MemoryMB: 4096})
		probe := &fakeProbe{answers: []probeAnswer{unreached}, hold: make(chan struct{})}
		guard := &MetadataGuard{Addr: "169.254.169.254:80", Program: "/usr/bin/berth", Runner: probe}
		ctx, cancel := context.WithCancel(t.Context())
		a := New(Config{NodeID: "node_a", HealthInterval: 5 * time.Second, ContainerIMDS: guard}, srv, runner, discardSink{}, quiet())
		done := make(chan struct{})
		go func() { defer close(done); a.Run(ctx) }()
		defer func() { cancel(); <-done }()
		srv.assign("att_1", "FAKE_RUN_FOR", "1h")
		time.Sleep(30 * time.Second)
		srv.mu.Lock()
		beats := slices.Clone(srv.beats)
		srv.mu.Unlock()
		if len(beats) < 5 {
			t.Errorf("%d heartbeats in 30 s of a probe, want one every 5 s", len(beats))
		}
		for _, b := range beats {
			if b.Healthy || !strings.HasPrefix(b.Reason, "checking whether containers on this host can reach the instance metadata service at 169.254.169.254:80") {
				t.Errorf("heartbeat during the probe: healthy %v, reason %q; want unhealthy, checking", b.Healthy, b.Reason)
			}
		}
		if got := running(t, runner); len(got) != 0 {
			t.Errorf("running %v during the probe, want nothing", got)
		}
		close(probe.hold)
		time.Sleep(10 * time.Second)
		if got := running(t, runner); !slices.Equal(got, []string{"att_1"}) {
			t.Errorf("running %v after the verdict, want [att_1]", got)
		}
	})
}

// TestProbeMetadata: the probe finds the service reached when it hands out
// a session token (IMDSv2 within the hop limit) or answers without one
// (IMDSv1), and out of reach when the token's answer never comes (the hop
// limit) while reads without one are refused, or when nothing listens.
func TestProbeMetadata(t *testing.T) {
	imds := func(put, get int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" && put == 0:
				<-r.Context().Done() // the answer is dropped on its way (hop limit 1)
			case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
				w.WriteHeader(put)
				w.Write([]byte("token"))
			case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/":
				w.WriteHeader(get)
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name    string
		addr    string
		reached bool
		how     string
	}{
		{"IMDSv2 within the hop limit", imds(200, 401), true, "PUT /latest/api/token answered 200 OK with a session token (IMDSv2)"},
		{"IMDSv1", imds(403, 200), true, "GET /latest/meta-data/ answered 200 OK without a token (IMDSv1)"},
		{"hop limit 1, tokens required", imds(0, 401), false, "PUT /latest/api/token: no answer within 1s; GET /latest/meta-data/: answered 401 Unauthorized"},
		{"nothing listens", closed, false, "connection refused"},
	}
	for _, tt := range tests {
		reached, how := ProbeMetadata(context.Background(), tt.addr, 200*time.Millisecond)
		if reached != tt.reached || !strings.Contains(how, tt.how) {
			t.Errorf("%s: ProbeMetadata = %v, %q; want %v, %q", tt.name, reached, how, tt.reached, tt.how)
		}
	}
}

// TestProbeVerdict: the agent reads what MetadataProbeMain prints, and
// takes anything else for a probe that did not run.
func TestProbeVerdict(t *testing.T) {
	var out strings.Builder
	if code := MetadataProbeMain(nil, &out); code != 2 {
		t.Errorf("MetadataProbeMain() without an address = %d, want 2", code)
	}
	for _, a := range []probeAnswer{reached, unreached} {
		reached, how, err := parseVerdict(a.code, []byte(a.out))
		if err != nil || reached != (a.out == reachedOut()) || how == "" {
			t.Errorf("parseVerdict(%q) = %v, %q, %v", a.out, reached, how, err)
		}
	}
	if _, _, err := parseVerdict(noVerdict.code, []byte(noVerdict.out)); err == nil || !strings.Contains(err.Error(), "exited 127") {
		t.Errorf("parseVerdict of a probe that did not run = %v, want an error naming its exit code", err)
	}
	if _, _, err := parseVerdict(1, []byte(reached.out)); err == nil {
		t.Errorf("parseVerdict of a verdict with exit code 1 = nil error, want one")
	}
}

func reachedOut() string { return reached.out }
