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

func startEC2Plane(tb testing.TB) *ec2Plane {
	tb.Helper()
	e := &ec2Plane{launched: make(chan time.Time, 1<<16)}
	e.fake = ec2fake.New(ec2fake.Config{BootTime: time.Hour, Launched: func(ec2fake.Instance) { e.launched <- time.Now() }})
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
	e := startEC2Plane(b)
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
