package control

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider/ec2"
	"github.com/berth-run/berth/internal/provider/ec2/ec2fake"
	"github.com/berth-run/berth/internal/store"
)

// ec2Plane is a control plane whose one pool is an ec2 pool on the EC2
// wire fake, over HTTP, in real time. Launched instances never join.
type ec2Plane struct {
	plane *Plane
	fake  *ec2fake.Fake
	// launched receives the time of each instance the fake launches.
	launched chan time.Time
}

func startEC2Plane(tb testing.TB, boot time.Duration) *ec2Plane {
	tb.Helper()
	e := &ec2Plane{launched: make(chan time.Time, 1<<16)}
	e.fake = ec2fake.New(ec2fake.Config{BootTime: boot, Launched: func(ec2fake.Instance) { e.launched <- time.Now() }})
	e.fake.PutLaunchTemplate(ec2fake.LaunchTemplate{Name: "berth-workers", HTTPTokens: "required", HopLimit: 1})
	srv := httptest.NewServer(e.fake)
	tb.Cleanup(srv.Close)
	client := awsec2.New(awsec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), HTTPClient: ec2fake.HTTPClient(srv.Client())})
	spec := berth.PoolSpec{Name: "spot", Provider: berth.ProviderEC2, Market: berth.Spot, Max: berth.MaxPoolSize, LaunchTemplate: "berth-workers",
		InstanceTypes: []berth.InstanceType{{Name: "m5.large", Price: 0.096}}}.WithDefaults()
	ctx := context.Background()
	pool, err := ec2.New(ctx, client, ec2.Config{Spec: spec, Cluster: "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		tb.Fatal(err)
	}
	logs, err := logstore.New(filepath.Join(dir, "logs"), 0)
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := auth.LoadOrCreate(dir)
	if err != nil {
		tb.Fatal(err)
	}
	e.plane = NewPlane(PlaneConfig{Pools: []FleetPool{{Spec: spec, Provider: pool}}}, st, keys, logs, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { e.plane.Run(ctx) })
	tb.Cleanup(func() { cancel(); wg.Wait(); st.Close() })
	return e
}

// BenchmarkQueuedToCreateFleet is the time from a job's submission to the
// EC2 Fleet request that launches its host: each job fills an m5.large,
// so each needs a host of its own. It reports the p50 and p99.
func BenchmarkQueuedToCreateFleet(b *testing.B) {
	e := startEC2Plane(b, time.Hour)
	time.Sleep(time.Second) // the first rounds: offerings read
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, _, err := e.plane.Store.CreateJob(context.Background(), berth.JobSpec{Image: "busybox", CPU: 2, MemoryMB: 8000}.WithDefaults(), start); err != nil {
			b.Fatal(err)
		}
		e.plane.Kick()
		select {
		case at := <-e.launched:
			lat = append(lat, at.Sub(start))
		case <-time.After(30 * time.Second):
			b.Fatal("no CreateFleet within 30s")
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkSteadyStateAPICalls counts the EC2 API calls of a Spot pool at
// steady state: 100 instances joined as nodes, 1,000 jobs running on them,
// nothing changing, the fleet on its default timer, for a minute of real
// time per iteration. It reports calls per minute, in all and by action.
func BenchmarkSteadyStateAPICalls(b *testing.B) {
	e := startEC2Plane(b, time.Second)
	ctx := context.Background()
	p := e.plane
	// 1,000 jobs of 0.125 vCPU and 800 MiB: ten fill an m5.large, so the
	// fleet launches 100 for them.
	var jobs []berth.Job
	for range 1000 {
		j, _, err := p.Store.CreateJob(ctx, berth.JobSpec{Image: "busybox", CPU: 0.125, MemoryMB: 800}.WithDefaults(), time.Now())
		if err != nil {
			b.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	p.Kick()
	deadline := time.Now().Add(time.Minute)
	for len(e.fake.Instances()) < 100 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// Their agents join, ready, and start what is placed on them.
	for _, in := range e.fake.Instances() {
		st := nodeapi.Status{Name: in.ID, CPU: 2, MemoryMB: 8192, Healthy: true,
			Facts: nodeapi.Facts{InstanceID: in.ID, InstanceType: in.Type, Market: string(in.Market)}}
		n, _, err := p.Registry.Join(ctx, "spot", st)
		if err != nil {
			b.Fatal(err)
		}
		st.Ready = true
		if _, err := p.Registry.Heartbeat(ctx, n.ID, st); err != nil {
			b.Fatal(err)
		}
	}
	// Heartbeats keep the nodes alive from now on.
	stop := make(chan struct{})
	var beats sync.WaitGroup
	beats.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Second):
			}
			nodes, _ := p.Registry.Nodes(ctx)
			for _, n := range nodes {
				_, _ = p.Registry.Heartbeat(ctx, n.ID, nodeapi.Status{Name: n.Name, CPU: n.CPU, MemoryMB: n.MemoryMB, Healthy: true, Facts: n.Facts})
			}
		}
	})
	defer func() { close(stop); beats.Wait() }()
	p.Kick()
	running := 0
	for time.Now().Before(deadline.Add(time.Minute)) {
		running = 0
		for _, j := range jobs {
			got, err := p.Store.Job(ctx, j.ID)
			if err != nil {
				b.Fatal(err)
			}
			if a := got.CurrentAttempt(); a != nil && a.Active() {
				if a.StartedAt == nil {
					if _, err := p.Store.AttemptStarted(ctx, a.ID, "c-"+a.ID, time.Now()); err != nil {
						b.Fatal(err)
					}
				}
				running++
			}
		}
		if running == len(jobs) {
			break
		}
		time.Sleep(time.Second)
	}
	if running != len(jobs) {
		j, _ := p.Store.Job(ctx, jobs[0].ID)
		nodes, _ := p.Registry.Nodes(ctx)
		var states []string
		for _, n := range nodes[:min(3, len(nodes))] {
			states = append(states, string(n.State)+" "+n.Reason)
		}
		b.Fatalf("%d jobs running on %d instances, want 1000; a job is %s (%s); nodes: %q", running, len(e.fake.Instances()), j.State, j.Reason, states)
	}
	time.Sleep(15 * time.Second) // settle: the last kicked rounds
	for b.Loop() {
		before := len(e.fake.Calls())
		time.Sleep(time.Minute)
		calls := e.fake.Calls()[before:]
		by := map[string]int{}
		for _, c := range calls {
			by[c.Action]++
		}
		b.ReportMetric(float64(len(calls)), "calls/min")
		for action, n := range by {
			b.ReportMetric(float64(n), action+"/min")
		}
	}
}
