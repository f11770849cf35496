package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/fake"
)

// TestJobLogsStreams: GET /v1/jobs/{id}/logs keeps stdout and stderr apart
// (?stream=), reads one attempt (?attempt=) and writes JSON lines
// (?format=json) with each piece's time and stream, the bytes of text that
// is not UTF-8 in base64.
func TestJobLogsStreams(t *testing.T) {
	p := startPlane(t)
	id, token := p.join(t, "default")
	remote := agent.NewRemote(p.srv.URL, token, p.srv.Client())
	ctx, cancel := context.WithCancel(context.Background())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := agent.New(agent.Config{NodeID: id, HealthInterval: 100 * time.Millisecond, PollWait: 5 * time.Second},
		remote, fake.New(provider.Capacity{CPU: 2, MemoryMB: 2048}), agent.NewShipper(ctx, remote, quiet), quiet)
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	defer func() { cancel(); <-done }()

	code, body := p.do(t, p.admin, "POST", "/v1/jobs", berth.JobSpec{Image: "busybox",
		Env: map[string]string{"FAKE_OUTPUT": "raw", "FAKE_RUN_FOR": "10ms"}})
	if code != http.StatusCreated {
		t.Fatalf("submit: %d %s", code, body)
	}
	var j berth.Job
	json.Unmarshal(body, &j)
	for deadline := time.Now().Add(10 * time.Second); !j.State.Terminal() && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, body = p.do(t, p.admin, "GET", "/v1/jobs/"+j.ID, nil)
		json.Unmarshal(body, &j)
	}
	if j.State != berth.Succeeded || len(j.Attempts) != 1 {
		t.Fatalf("job: %s (%q), %d attempts; want succeeded once", j.State, j.Reason, len(j.Attempts))
	}
	att := j.Attempts[0].ID

	// The attempt's log as an agent that tells the streams apart writes it.
	w, err := p.api.d.Logs.Writer(j.ID, att)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	enc := logstore.NewEncoder(w, func() time.Time { return at })
	io.WriteString(enc.Stream(logstore.Stdout), "out 1\n")
	io.WriteString(enc.Stream(logstore.Stderr), "err 1\n")
	io.WriteString(enc.Stream(logstore.Stdout), "bin \xff\n")
	w.Close()

	path := "/v1/jobs/" + j.ID + "/logs"
	tests := []struct {
		query string
		code  int
		want  string
	}{
		{"", 200, "out 1\nerr 1\nbin \xff\n"},
		{"?stream=stdout", 200, "out 1\nbin \xff\n"},
		{"?stream=stderr&follow=1", 200, "err 1\n"},
		{"?attempt=" + att + "&stream=stderr", 200, "err 1\n"},
		{"?format=text", 200, "out 1\nerr 1\nbin \xff\n"},
		{"?format=json&stream=stderr", 200,
			`{"time":"2026-03-01T12:00:00Z","attempt":"` + att + `","stream":"stderr","text":"err 1\n"}` + "\n"},
		{"?format=json&stream=stdout", 200,
			`{"time":"2026-03-01T12:00:00Z","attempt":"` + att + `","stream":"stdout","text":"out 1\n"}` + "\n" +
				`{"time":"2026-03-01T12:00:00Z","attempt":"` + att + `","stream":"stdout","text":"bin \ufffd\n","data":"YmluIP8K"}` + "\n"},
		{"?attempt=att_nope", 404, "attempt att_nope of job " + j.ID + ": not found"},
		{"?stream=stdin", 400, "stream: must be stdout or stderr"},
		{"?format=xml", 400, "format: must be text or json"},
		{"?colour=blue", 400, "colour: unknown query parameter"},
	}
	for _, tt := range tests {
		code, body := p.do(t, p.admin, "GET", path+tt.query, nil)
		if code != tt.code || code == 200 && string(body) != tt.want || code != 200 && !strings.Contains(string(body), tt.want) {
			t.Errorf("GET logs%s = %d %q; want %d %q", tt.query, code, body, tt.code, tt.want)
		}
	}
}

// follower is a GET /v1/jobs/{id}/logs?follow=1 in progress.
type follower struct {
	resp *http.Response
	r    *bufio.Reader
}

// followLogs opens a followed log of job over a connection of its own, given
// up after 10 s.
func followLogs(t *testing.T, p *plane, hc *http.Client, job string) *follower {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", p.srv.URL+"/v1/jobs/"+job+"/logs?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET logs?follow=1: %s", resp.Status)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &follower{resp: resp, r: bufio.NewReader(resp.Body)}
}

// settleGoroutines fails the test unless the process is back to at most
// want goroutines within 5 s.
func settleGoroutines(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > want {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, want at most %d:\n%s", runtime.NumGoroutine(), want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFollowedLogsWokenByOutput: a follower of a running job's log gets
// each line as it is appended, without waiting for a poll, and its stream
// ends as soon as the attempt is reported finished; followers of a queued
// job stop when it is cancelled. Every follower's goroutines are gone
// afterwards.
func TestFollowedLogsWokenByOutput(t *testing.T) {
	p := startPlane(t)
	_, job, att := placedAttempt(t, p)
	queued, _, err := p.store.CreateJob(context.Background(), berth.JobSpec{Image: "busybox", Pool: "none"}.WithDefaults(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	before := runtime.NumGoroutine()

	f := followLogs(t, p, hc, job)
	var lat []time.Duration
	var offset int64
	for i := range 20 {
		line := fmt.Sprintf("line %d\n", i)
		start := time.Now()
		if _, _, err := p.api.d.Logs.WriteAt(job, att, offset, []byte(line)); err != nil {
			t.Fatal(err)
		}
		offset += int64(len(line))
		got, err := f.r.ReadString('\n')
		if err != nil || got != line {
			t.Fatalf("followed log read %q, %v; want %q", got, err, line)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("append to receipt: median %v, slowest %v", lat[len(lat)/2], lat[len(lat)-1])
	if _, err := p.store.FinishAttempt(context.Background(), att, berth.Outcome{Kind: berth.Exited, ExitCode: new(0)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(f.r); err != nil || len(rest) != 0 {
		t.Errorf("followed log after the attempt finished: %q, %v; want its end", rest, err)
	}

	var waiting []*follower
	for range 50 {
		waiting = append(waiting, followLogs(t, p, hc, queued.ID))
	}
	if code, body := p.do(t, p.admin, "POST", "/v1/jobs/"+queued.ID+"/cancel", nil); code != http.StatusOK {
		t.Fatalf("cancel: %d %s", code, body)
	}
	for _, f := range waiting {
		if rest, err := io.ReadAll(f.r); err != nil || len(rest) != 0 {
			t.Errorf("followed log of a cancelled job: %q, %v; want its end", rest, err)
		}
		f.resp.Body.Close()
	}
	f.resp.Body.Close()
	http.DefaultClient.CloseIdleConnections() // p.do's
	settleGoroutines(t, before)
}
