package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/awsfake"
)

// fakeCloudWatch serves the CloudWatch fake and points the AWS SDK's
// default chain at it, as AWS_ENDPOINT_URL does.
func fakeCloudWatch(t *testing.T) *awsfake.CloudWatch {
	t.Helper()
	f := awsfake.NewCloudWatch()
	srv := httptest.NewServer(awsfake.Endpoint{CloudWatch: f})
	t.Cleanup(srv.Close)
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": srv.URL, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret-key",
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	return f
}

// scrape reads the pool's figures from /metrics, by CloudWatch's names.
func scrape(t *testing.T, api, pool string) map[string]float64 {
	t.Helper()
	res, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	line := regexp.MustCompile(`(?m)^(berth_pool_\w+)\{pool="` + regexp.QuoteMeta(pool) + `"(?:,state="(\w+)")?\} (\S+)$`)
	for _, m := range line.FindAllStringSubmatch(string(body), -1) {
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		switch m[1] {
		case "berth_pool_schedulable_largest":
			out["SchedulableContainers"] = v
		case "berth_pool_instances":
			out["Instances"] += v
		case "berth_pool_waiting_jobs":
			out["QueuedJobs"] = v
		case "berth_pool_running_jobs":
			out["RunningJobs"] = v
		case "berth_pool_cost_usd_per_hour":
			out["CostPerHour"] = v
		}
	}
	return out
}

// TestServerCloudWatch: berth server --cloudwatch-namespace publishes, for
// a fake pool of one host running one job while two wait, the values
// /metrics shows, with the dimensions Cluster and Pool, at high
// resolution for a period under a minute.
func TestServerCloudWatch(t *testing.T) {
	cw := fakeCloudWatch(t)
	config := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(config, []byte(`
pools:
  - name: spot
    provider: fake
    instance_types: [{name: c5a.large, cpu: 2, memory_mb: 4096, price: 0.077}]
    max: 1
    boot_time: 1s
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	env := &cliEnv{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	go func() {
		done <- runServer(ctx, env, []string{"--data", data, "--listen", "127.0.0.1:0", "--local-agent=false", "--config", config,
			"--advertise-url", "http://127.0.0.1:1", "--cluster", "prod", "--cloudwatch-namespace", "berth/test", "--metrics-period", "1s"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("berth server: %v\n%s", err, stderr.String())
		}
	}()
	api := waitListening(t, &stderr, done)
	admin, err := os.ReadFile(filepath.Join(data, auth.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var job struct{ ID string }
		call(t, "POST", api+"/v1/jobs", strings.TrimSpace(string(admin)),
			`{"image": "busybox", "pool": "spot", "cpu": 2, "memory_mb": 1024, "env": {"FAKE_RUN_FOR": "10m"}}`, &job)
	}
	want := map[string]float64{"SchedulableContainers": 0, "Instances": 1, "QueuedJobs": 2, "RunningJobs": 1, "CostPerHour": 0.077}
	var steady time.Time
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if got := scrape(t, api, "spot"); equalFigures(got, want) {
			steady = time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics shows %v after 30s, want %v\n%s", scrape(t, api, "spot"), want, stderr.String())
		}
	}
	// The first figures computed after the fleet was steady.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := map[string]float64{}
		var at time.Time
		for _, d := range cw.Data() {
			if d.Dimensions["Pool"] != "spot" || !d.Timestamp.After(steady) {
				continue
			}
			if at.IsZero() {
				at = d.Timestamp
			}
			if d.Timestamp.Equal(at) {
				got[d.MetricName] = d.Value
				if d.Namespace != "berth/test" || d.Dimensions["Cluster"] != "prod" || len(d.Dimensions) != 2 || d.StorageResolution != 1 {
					t.Errorf("datum %+v, want namespace berth/test, dimensions Cluster=prod and Pool=spot, resolution 1s", d)
				}
			}
		}
		if len(got) == len(want) {
			if !equalFigures(got, scrape(t, api, "spot")) || !equalFigures(got, want) {
				t.Errorf("CloudWatch has %v, /metrics %v, want both %v", got, scrape(t, api, "spot"), want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no figures of pool spot in CloudWatch 10s after the fleet was steady; it has %d data\n%s", len(cw.Data()), stderr.String())
		}
	}
	var clusterWide int
	for _, d := range cw.Data() {
		if _, ok := d.Dimensions["Pool"]; !ok && d.MetricName == "QueuedJobs" {
			clusterWide++
		}
	}
	if clusterWide == 0 {
		t.Errorf("no cluster-wide QueuedJobs in CloudWatch")
	}
}

func equalFigures(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// TestServerCloudWatchRefused: a namespace CloudWatch would refuse, or a
// period under a second, is a usage error naming the flag.
func TestServerCloudWatchRefused(t *testing.T) {
	fakeCloudWatch(t)
	for _, tc := range []struct{ args, want string }{
		{"--cloudwatch-namespace AWS/EC2", `--cloudwatch-namespace "AWS/EC2": the AWS/ namespaces are AWS's own`},
		{"--cloudwatch-namespace " + strings.Repeat("n", 256), "--cloudwatch-namespace"},
		{"--cloudwatch-namespace berth --metrics-period 500ms", "--metrics-period 500ms: give at least 1s"},
	} {
		var stderr lockedBuffer
		env := &cliEnv{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
		args := append([]string{"--data", t.TempDir(), "--listen", "127.0.0.1:0", "--local-agent=false"}, strings.Fields(tc.args)...)
		err := runServer(context.Background(), env, args)
		var exit exitError
		if !errors.As(err, &exit) || exit.code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("berth server %s = %v, stderr %q; want exit 2 and %q", tc.args, err, stderr.String(), tc.want)
		}
	}
}
