package docker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/dockertest"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/shim"
	"github.com/google/go-cmp/cmp"
)

// warmRunner is a Runner with warm containers, its directory the test's.
func warmRunner(t *testing.T) *Runner {
	t.Helper()
	r, err := NewWarm(dockertest.Client(t), dockertest.Shim(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newWarm creates a warm container, removed when the test ends.
func newWarm(t *testing.T, r *Runner, image string, shape provider.Shape) provider.Warm {
	t.Helper()
	ctx := t.Context()
	w, err := r.CreateWarm(ctx, "node_warmtest", image, shape)
	if err != nil {
		t.Fatalf("CreateWarm(%s) = %v", image, err)
	}
	t.Cleanup(func() { _ = r.Remove(context.Background(), w.ID) })
	return w
}

// claimRun claims w for a job of command and env and returns its exit
// code and output.
func claimRun(t *testing.T, r *Runner, w provider.Warm, command []string, env map[string]string) (int, string) {
	t.Helper()
	ctx := t.Context()
	c := provider.Container{
		JobID: "job_w", AttemptID: berth.NewID("att", time.Now()), Node: w.Node, Image: w.Image,
		Command: command, Env: env, CPU: w.Shape.CPU, MemoryMB: w.Shape.MemoryMB,
	}
	if err := r.Claim(ctx, w, c); err != nil {
		t.Fatalf("Claim() = %v", err)
	}
	st, err := r.Wait(ctx, w.ID)
	if err != nil {
		t.Fatalf("Wait() = %v", err)
	}
	var out bytes.Buffer
	if err := r.Logs(ctx, w.ID, &out); err != nil {
		t.Fatalf("Logs() = %v", err)
	}
	return st.ExitCode, out.String()
}

var smallShape = provider.Shape{CPU: 0.5, MemoryMB: 64}

func TestWarmClaimRunsTheJob(t *testing.T) {
	r := warmRunner(t)
	w := newWarm(t, r, dockertest.Image(t), smallShape)
	code, out := claimRun(t, r, w, []string{"sh", "-c", `echo "pid $$ foo=$FOO"; echo err >&2; exit 3`}, map[string]string{"FOO": "bar"})
	if code != 3 {
		t.Errorf("exit code = %d, want 3", code)
	}
	if want := "pid 1 foo=bar\n"; !strings.Contains(out, want) || !strings.Contains(out, "err\n") {
		t.Errorf("output = %q, want %q and err", out, want)
	}
	// The claim ran its job's process: List reports it as the attempt's.
	cs, err := r.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cs {
		if c.ID == w.ID {
			found = c.JobID == "job_w" && c.AttemptID != ""
		}
	}
	if !found {
		t.Errorf("List() does not report the claimed warm container %s as its attempt's: %+v", w.ID, cs)
	}
}

// TestWarmEntrypointSemantics: the job's process is the one `docker run`
// would start for the image and the job's command.
func TestWarmEntrypointSemantics(t *testing.T) {
	r := warmRunner(t)
	tests := []struct {
		name    string
		changes []string
		command []string
		want    string
	}{
		{"cmd only", []string{`CMD ["echo", "from-cmd"]`}, nil, "from-cmd\n"},
		{"command overrides cmd", []string{`CMD ["echo", "from-cmd"]`}, []string{"echo", "from-job"}, "from-job\n"},
		{"entrypoint only", []string{`ENTRYPOINT ["echo", "from-entrypoint"]`}, nil, "from-entrypoint\n"},
		{"entrypoint and cmd", []string{`ENTRYPOINT ["echo", "ep"]`, `CMD ["cmd"]`}, nil, "ep cmd\n"},
		{"entrypoint and command", []string{`ENTRYPOINT ["echo", "ep"]`, `CMD ["cmd"]`}, []string{"job"}, "ep job\n"},
		{"user and workdir", []string{"USER 65534:65534", "WORKDIR /tmp", `CMD ["sh", "-c", "echo $(id -u):$(id -g) $(pwd)"]`}, nil, "65534:65534 /tmp\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag := "berth-test/warm-" + strings.ReplaceAll(tt.name, " ", "-") + ":latest"
			image := dockertest.ImageWith(t, tag, tt.changes...)
			w := newWarm(t, r, image, smallShape)
			code, out := claimRun(t, r, w, tt.command, nil)
			if code != 0 || out != tt.want {
				t.Errorf("claim with command %q: exit %d, output %q; want 0, %q", tt.command, code, out, tt.want)
			}
		})
	}
}

func TestWarmClaimMissingExecutable(t *testing.T) {
	r := warmRunner(t)
	w := newWarm(t, r, dockertest.Image(t), smallShape)
	err := r.Claim(t.Context(), w, provider.Container{
		JobID: "job_w", AttemptID: "att_noexec", Image: w.Image, Command: []string{"no-such-program"},
		CPU: w.Shape.CPU, MemoryMB: w.Shape.MemoryMB,
	})
	var se *provider.StartError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "executable file not found") {
		t.Fatalf("Claim() = %v, want a *StartError: executable file not found", err)
	}
}

// TestWarmRefusesMismatchedClaim: the shim takes no claim for another
// shape or image, and waits on for one that fits.
func TestWarmRefusesMismatchedClaim(t *testing.T) {
	r := warmRunner(t)
	w := newWarm(t, r, dockertest.Image(t), smallShape)
	ctx := t.Context()
	for _, tt := range []struct {
		name string
		c    shim.Claim
	}{
		{"memory", shim.Claim{JobID: "j", AttemptID: "a", ImageID: w.ImageID, CPU: 0.5, MemoryMB: 4096, PIDs: w.Shape.PIDs}},
		{"image", shim.Claim{JobID: "j", AttemptID: "a", ImageID: "sha256:other", CPU: 0.5, MemoryMB: 64, PIDs: w.Shape.PIDs}},
	} {
		// Sent as is, past the runner's own choice of container.
		err := shim.Send(ctx, w.Dir, tt.c)
		if !errors.Is(err, shim.ErrRefused) {
			t.Fatalf("%s mismatch: Send() = %v, want ErrRefused", tt.name, err)
		}
		// A refused claim was abandoned: the container serves no one.
		if got := shim.Fate(w.Dir); got != shim.Abandoned {
			t.Errorf("%s mismatch: fate = %q, want %q", tt.name, got, shim.Abandoned)
		}
		os.Remove(filepath.Join(w.Dir, shim.RunDir, shim.FateName))
	}
}

// TestWarmAbandonedClaimNeverRuns: once the agent abandoned a claim, the
// shim refuses it.
func TestWarmAbandonedClaimNeverRuns(t *testing.T) {
	r := warmRunner(t)
	w := newWarm(t, r, dockertest.Image(t), smallShape)
	if ran, err := r.Abandon(t.Context(), w); ran || err != nil {
		t.Fatalf("Abandon() = %v, %v; want false, nil", ran, err)
	}
	err := r.Claim(t.Context(), w, provider.Container{JobID: "j", AttemptID: "a", Image: w.Image, Command: []string{"true"}, CPU: 0.5, MemoryMB: 64})
	if !errors.Is(err, provider.ErrClaimRefused) {
		t.Fatalf("Claim() after Abandon = %v, want ErrClaimRefused", err)
	}
	ws, err := r.ListWarm(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range ws {
		if got.ID == w.ID && got.State != provider.WarmAbandoned {
			t.Errorf("state after Abandon = %s, want %s", got.State, provider.WarmAbandoned)
		}
	}
}

func TestShapeLabel(t *testing.T) {
	s := provider.Shape{CPU: 0.25, MemoryMB: 512, PIDs: 1024}
	if got := parseShape(shapeString(s)); !cmp.Equal(got, s) {
		t.Errorf("parseShape(shapeString(%v)) = %v", s, got)
	}
}

// TestWarmJobCannotRewriteItsClaim: the job's process sees no claim
// record, and what it writes in place of the fate does not change which
// attempt its container is.
func TestWarmJobCannotRewriteItsClaim(t *testing.T) {
	r := warmRunner(t)
	w := newWarm(t, r, dockertest.Image(t), smallShape)
	code, out := claimRun(t, r, w, []string{"sh", "-c",
		"test ! -e " + shim.Dir + "/" + shim.ClaimName + " && rm -f " + shim.Dir + "/fate && echo abandoned > " + shim.Dir + "/fate"}, nil)
	if code != 0 {
		t.Fatalf("job exited %d: %q", code, out)
	}
	cs, err := r.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range cs {
		found = found || c.ID == w.ID && c.JobID == "job_w"
	}
	if !found {
		t.Errorf("List() lost the claimed container %s once its process rewrote its fate", w.ID)
	}
}
