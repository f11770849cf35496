package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// fakeIMDS is an EC2 instance metadata service, version 2 only: every read
// needs a session token from PUT /latest/api/token. Knobs: arm a Spot
// interruption or a rebalance recommendation, expire the token. It counts
// reads refused for want of a valid token.
type fakeIMDS struct {
	// mu guards the fields below it.
	mu        sync.Mutex
	token     string
	tokens    int
	action    string // the body of spot/instance-action; "" for 404
	rebalance string
	refused   int
}

func (f *fakeIMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "missing ttl", http.StatusBadRequest)
			return
		}
		f.tokens++
		f.token = "tok-" + string(rune('a'+f.tokens))
		w.Write([]byte(f.token))
		return
	}
	if r.Method != http.MethodGet || f.token == "" || r.Header.Get("X-aws-ec2-metadata-token") != f.token {
		f.refused++
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var body string
	switch r.URL.Path {
	case "/latest/meta-data/instance-id":
		body = "i-0abc123"
	case "/latest/meta-data/instance-type":
		body = "m5.large"
	case "/latest/meta-data/placement/availability-zone":
		body = "eu-west-1a"
	case "/latest/meta-data/instance-life-cycle":
		body = "spot"
	case "/latest/meta-data/spot/instance-action":
		body = f.action
	case "/latest/meta-data/events/recommendations/rebalance":
		body = f.rebalance
	}
	if body == "" {
		http.NotFound(w, r)
		return
	}
	w.Write([]byte(body))
}

func TestIMDSFacts(t *testing.T) {
	f := &fakeIMDS{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	m := NewIMDS(srv.URL, nil)
	got, err := m.Facts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := nodeapi.Facts{InstanceID: "i-0abc123", InstanceType: "m5.large", Zone: "eu-west-1a", Market: "spot"}
	if got != want {
		t.Errorf("Facts() = %+v, want %+v", got, want)
	}
	f.mu.Lock()
	f.token = "expired" // the service forgot the session: a new token is taken once
	f.mu.Unlock()
	if _, err := m.Facts(t.Context()); err != nil {
		t.Errorf("Facts() after the token expired = %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokens != 2 || f.refused != 1 {
		t.Errorf("tokens taken %d, reads refused %d; want 2 and 1", f.tokens, f.refused)
	}
}

// TestSpotNotice: the agent reports a Spot interruption and a rebalance
// recommendation soon after the metadata service arms them, each once.
func TestSpotNotice(t *testing.T) {
	f := &fakeIMDS{}
	imds := httptest.NewServer(f)
	defer imds.Close()
	srv := newFakeServer(berth.NodeReady)
	ctx, cancel := context.WithCancel(t.Context())
	a := New(Config{NodeID: "node_a", HealthInterval: time.Second, IMDS: NewIMDS(imds.URL, nil), NoticeInterval: 50 * time.Millisecond},
		srv, fake.New(provider.Capacity{CPU: 1, MemoryMB: 1024}), discardSink{}, quiet())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	time.Sleep(200 * time.Millisecond)
	f.mu.Lock()
	f.action = `{"action": "terminate", "time": "2026-11-22T10:02:00Z"}`
	f.mu.Unlock()
	armed := time.Now()
	notices := func() []nodeapi.Notice {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return append([]nodeapi.Notice(nil), srv.notices...)
	}
	for len(notices()) == 0 {
		if time.Since(armed) > 2*time.Second {
			t.Fatal("no notice reported 2s after the interruption was armed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f.mu.Lock()
	f.rebalance = `{"noticeTime": "2026-11-22T10:00:30Z"}`
	f.mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	at := time.Date(2026, 11, 22, 10, 2, 0, 0, time.UTC)
	rat := time.Date(2026, 11, 22, 10, 0, 30, 0, time.UTC)
	want := []nodeapi.Notice{
		{Kind: nodeapi.SpotInterruption, Action: "terminate", Time: &at},
		{Kind: nodeapi.Rebalance, Time: &rat},
	}
	if diff := cmp.Diff(want, notices()); diff != "" {
		t.Errorf("notices (-want +got):\n%s", diff)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused != 0 {
		t.Errorf("%d reads were made without a valid token", f.refused)
	}
}
