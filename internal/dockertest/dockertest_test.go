package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// TestImportedImageRuns imports the test image under a tag of its own and
// runs a script that needs every applet, a trap and /tmp.
func TestImportedImageRuns(t *testing.T) {
	c := Client(t)
	busybox, err := os.ReadFile(BusyboxPath)
	if err != nil {
		unavailable(t, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tag := fmt.Sprintf("berth-test/busybox:import-%d", time.Now().UnixNano())
	if err := importImage(ctx, c, busybox, tag); err != nil {
		t.Fatalf("importImage() = %v", err)
	}
	t.Cleanup(func() {
		_, _ = c.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true})
	})

	script := `for a in ` + strings.Join(applets(), " ") + `; do
	[ -x /bin/$a ] || echo "missing $a"
done
trap 'echo trapped' USR1
kill -USR1 $$
echo hello > /tmp/f && cat /tmp/f
echo "$PATH"`
	out, code := run(t, ctx, c, tag, []string{"sh", "-c", script})
	if want := "trapped\nhello\n/bin\n"; out != want || code != 0 {
		t.Errorf("script in %s: output %q, exit %d; want %q, 0", tag, out, code, want)
	}
}

// TestImageIsInEngine checks that Image returns a tag the engine has.
func TestImageIsInEngine(t *testing.T) {
	c := Client(t)
	tag := Image(t)
	if _, err := c.ImageInspect(t.Context(), tag); err != nil {
		t.Errorf("ImageInspect(%s) after Image() = %v", tag, err)
	}
}

// run runs cmd in image and returns its output and exit code.
func run(t *testing.T, ctx context.Context, c *client.Client, image string, cmd []string) (string, int) {
	t.Helper()
	res, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{Image: image, Cmd: cmd},
	})
	if err != nil {
		t.Fatalf("ContainerCreate() = %v", err)
	}
	defer func() {
		_, _ = c.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true})
	}()
	wait := c.ContainerWait(ctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := c.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("ContainerStart() = %v", err)
	}
	var code int
	select {
	case w := <-wait.Result:
		code = int(w.StatusCode)
	case err := <-wait.Error:
		t.Fatalf("ContainerWait() = %v", err)
	}
	logs, err := c.ContainerLogs(ctx, res.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("ContainerLogs() = %v", err)
	}
	defer logs.Close()
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, logs); err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return out.String(), code
}

// recorder is a testing.TB that notes how a test ended instead of ending
// the real one.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
	cleanups        []func()
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Skipf(f string, a ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(f, a...)
	runtime.Goexit()
}
func (r *recorder) Fatalf(f string, a ...any) {
	r.failed, r.msg = true, fmt.Sprintf(f, a...)
	runtime.Goexit()
}

// TestClientWithoutEngine checks that a missing engine skips the test, or
// fails it when BERTH_REQUIRE_DOCKER=1.
func TestClientWithoutEngine(t *testing.T) {
	tests := []struct {
		require       string
		skip, fail    bool
		wantInMessage string
	}{
		{require: "", skip: true, wantInMessage: RequireEnv + "=1 to fail"},
		{require: "0", skip: true, wantInMessage: RequireEnv + "=1 to fail"},
		{require: "1", fail: true, wantInMessage: RequireEnv + "=1"},
	}
	for _, tt := range tests {
		t.Run("require="+tt.require, func(t *testing.T) {
			t.Setenv("DOCKER_HOST", "unix://"+t.TempDir()+"/docker.sock")
			t.Setenv(RequireEnv, tt.require)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				Client(r)
			}()
			<-done
			for _, f := range r.cleanups {
				f()
			}
			if r.skipped != tt.skip || r.failed != tt.fail {
				t.Errorf("Client() without engine: skipped %v, failed %v; want %v, %v", r.skipped, r.failed, tt.skip, tt.fail)
			}
			if !strings.Contains(r.msg, tt.wantInMessage) || !strings.Contains(r.msg, "docker.sock") {
				t.Errorf("Client() message %q, want it to name the socket and %q", r.msg, tt.wantInMessage)
			}
		})
	}
}
