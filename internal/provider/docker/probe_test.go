package docker

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/moby/moby/client"
)

// TestMain lets the test binary be the program of probe containers, as the
// berth binary is: run with ProbeCommand, it probes and exits.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == agent.ProbeCommand {
		os.Exit(agent.MetadataProbeMain(os.Args[2:], os.Stdout))
	}
	os.Exit(m.Run())
}

// TestRunProbe runs the metadata probe in a container, with this
// dynamically linked test binary mounted into the empty probe image: a
// metadata service on the bridge's gateway is reached, a closed port is
// not, and a static program (busybox) runs too. No probe container is
// left.
func TestRunProbe(t *testing.T) {
	c := dockertest.Client(t)
	r := New(c)
	gw := dockertest.Gateway(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ami-id\ninstance-id\n")) // IMDSv1: no token needed
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	closed, err := net.Listen("tcp", net.JoinHostPort(gw, "0"))
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tests := []struct {
		name    string
		program string
		args    []string
		code    int
		want    string
	}{
		{"a metadata service on the gateway", self, []string{agent.ProbeCommand, ln.Addr().String()}, 0, "berth-imds-probe: reached: "},
		{"a closed port", self, []string{agent.ProbeCommand, closedAddr}, 0, "berth-imds-probe: unreachable: "},
		// Static busybox runs, and, called "probe", knows no such applet.
		{"a static program", dockertest.BusyboxPath, nil, 127, "probe: applet not found"},
	}
	for _, tt := range tests {
		code, out, err := r.RunProbe(ctx, tt.program, tt.args...)
		if err != nil || code != tt.code || !strings.HasPrefix(string(out), tt.want) {
			t.Errorf("%s: RunProbe = %d, %q, %v; want %d, %q...", tt.name, code, out, err, tt.code, tt.want)
		}
	}
	left, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelProbe)})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 0 {
		t.Errorf("%d probe containers left, want none", len(left.Items))
	}
}

// TestProgramMounts: a static program is mounted alone; a dynamically
// linked one (this test binary) with its loader where it names it and its
// libraries under probeLibs.
func TestProgramMounts(t *testing.T) {
	ms, env, err := programMounts(dockertest.BusyboxPath)
	if err != nil || len(ms) != 1 || ms[0].Target != probeProgram || !ms[0].ReadOnly || env != nil {
		t.Errorf("programMounts(static busybox) = %+v, %v, %v; want the program alone", ms, env, err)
	}
	self, _ := os.Executable()
	interp, needed, err := elfNeeds(self)
	if err != nil {
		t.Fatal(err)
	}
	if interp == "" {
		t.Skip("this test binary is statically linked")
	}
	ms, env, err = programMounts(self)
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range ms {
		targets[m.Target] = m.ReadOnly
	}
	want := append([]string{probeProgram, interp}, func() (ts []string) {
		for _, n := range needed {
			ts = append(ts, probeLibs+"/"+n)
		}
		return ts
	}()...)
	for _, w := range want {
		if !targets[w] {
			t.Errorf("programMounts(%s): no read-only mount at %s in %+v", self, w, ms)
		}
	}
	if len(env) != 1 || env[0] != "LD_LIBRARY_PATH="+probeLibs {
		t.Errorf("programMounts env = %q, want LD_LIBRARY_PATH=%s", env, probeLibs)
	}
}
