package dockertest

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/moby/moby/client"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// shimBuild is the berth binary built once per test process for Shim.
var shimBuild struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// Shim returns the path of a berth binary built statically
// (CGO_ENABLED=0), as warm containers need it, once per test process: it
// is the shim of warm containers (`berth shim`). Every test process builds
// it to the same path in the system's temporary directory, built under a
// name of its own and renamed into place, so no copy is left behind.
func Shim(t testing.TB) string {
	t.Helper()
	b := &shimBuild
	b.once.Do(func() {
		dir := filepath.Join(os.TempDir(), "berth-test-shim")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, "berth")
		tmp := fmt.Sprintf("%s.%d", b.path, os.Getpid())
		cmd := exec.Command("go", "build", "-o", tmp, "github.com/berth-run/berth/cmd/berth")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		b.out, b.err = cmd.CombinedOutput()
		if b.err == nil {
			b.err = os.Rename(tmp, b.path)
		}
		os.Remove(tmp)
	})
	if b.err != nil {
		t.Fatalf("build a static berth: %v\n%s", b.err, b.out)
	}
	return b.path
}

// ImageWith returns tag, an image of the test image's files with changes
// applied (Dockerfile instructions: `ENTRYPOINT ["/bin/echo"]`, `USER
// 65534`), imported into the engine when it lacks it.
func ImageWith(t testing.TB, tag string, changes ...string) string {
	t.Helper()
	c := Client(t)
	ctx := context.Background()
	if _, err := c.ImageInspect(ctx, tag); err == nil {
		return tag
	}
	busybox, err := os.ReadFile(BusyboxPath)
	if err != nil {
		unavailable(t, fmt.Errorf("build %s: %w (install busybox-static)", tag, err))
	}
	root, err := rootFS(busybox)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(root), SourceName: "-"}, tag,
		client.ImageImportOptions{Message: "berth test image", Changes: append([]string{"ENV PATH=/bin"}, changes...)})
	if err != nil {
		t.Fatalf("import %s: %v", tag, err)
	}
	_, _ = io.Copy(io.Discard, res)
	res.Close()
	if _, err := c.ImageInspect(ctx, tag); err != nil {
		t.Fatalf("import %s: %v", tag, err)
	}
	return tag
}
