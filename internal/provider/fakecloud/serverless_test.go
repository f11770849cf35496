package fakecloud

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/providertest"
)

var fargate = berth.Serverless{VCPUSecond: berth.FargateVCPUSecond, GBSecond: berth.FargateGBSecond}

func env(kv ...string) providertest.Program {
	p := providertest.Program{Env: make(map[string]string)}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Env[kv[i]] = kv[i+1]
	}
	return p
}

func TestServerlessConformance(t *testing.T) {
	s := NewServerless(fargate, 1)
	s.SetStartLatency(time.Millisecond, 3*time.Millisecond) // real time here
	providertest.RunRunnerTests(t, providertest.Harness{
		NewRunner:    func(*testing.T) provider.Runner { return s },
		Image:        "berth-test/any:1",
		MissingImage: "missing/image:1",
		Exit:         func(code int) providertest.Program { return env("FAKE_EXIT_CODE", strconv.Itoa(code)) },
		Sleep:        func(d time.Duration) providertest.Program { return env("FAKE_RUN_FOR", d.String()) },
		Print: func(lines []providertest.Line, gap time.Duration) providertest.Program {
			var b strings.Builder
			for _, l := range lines {
				b.WriteString(l.Text + "\n")
			}
			return env("FAKE_OUTPUT", b.String(), "FAKE_RUN_FOR", (gap * time.Duration(len(lines))).String())
		},
		TrapTerm: func() providertest.Program { return env("FAKE_OUTPUT", "ready\n", "FAKE_RUN_FOR", "1h") },
		IgnoreTerm: func() providertest.Program {
			return env("FAKE_OUTPUT", "ready\n", "FAKE_RUN_FOR", "1h", "FAKE_IGNORE_SIGTERM", "1")
		},
		ExceedMemory:   func(int64) providertest.Program { return env("FAKE_OOM", "1") },
		MissingCommand: func() providertest.Program { return env("FAKE_START_ERROR", "exec: not found") },
	})
}

// TestServerlessStartLatency: with the default latencies every start takes
// 30–90 s of virtual time, and they spread over the range.
func TestServerlessStartLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewServerless(fargate, 42)
		var lo, hi time.Duration = time.Hour, 0
		for i := range 40 {
			c := provider.Container{JobID: "job", AttemptID: "att" + strconv.Itoa(i), Image: "img:1", Env: map[string]string{"FAKE_RUN_FOR": "1s"}}
			id, err := s.Create(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			if err := s.Start(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			d := time.Since(begin)
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo < 30*time.Second || hi > 90*time.Second || hi-lo < 30*time.Second {
			t.Errorf("start latencies in [%v, %v], want spread over 30–90s", lo, hi)
		}
	})
}

func TestServerlessCost(t *testing.T) {
	// One hour of 1 vCPU and 2 GiB on Fargate: 0.04048 + 2·0.004445.
	got := NewServerless(fargate, 1).Cost(1, 2048, time.Hour)
	if want := 0.04048 + 2*0.004445; math.Abs(got-want) > 1e-9 {
		t.Errorf("Cost(1 vCPU, 2 GiB, 1h) = %v, want %v", got, want)
	}
}
