// Package dockertest gives tests the local Docker engine and berth's test
// image. A test that needs the engine calls Client (or Image); when the
// engine cannot be reached the test is skipped, or fails when
// BERTH_REQUIRE_DOCKER=1, as in CI, so that a missing engine never passes
// unnoticed there.
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
)

// RequireEnv is the environment variable that turns a missing engine into a
// test failure.
const RequireEnv = "BERTH_REQUIRE_DOCKER"

// TestImage is the tag of berth's test image: a static busybox, with sh and
// the common applets under /bin.
const TestImage = "berth-test/busybox:latest"

// BusyboxPath is where the host's static busybox is read from.
const BusyboxPath = "/bin/busybox"

// applets are the busybox applets the test image links under /bin; keep
// scripts/test-images.sh in step.
func applets() []string {
	return []string{
		"sh", "ash", "sleep", "echo", "cat", "true", "false", "tail", "head",
		"dd", "env", "kill", "printf", "ls", "rm", "mkdir", "seq", "yes", "wc",
		"grep", "sed", "tr", "test", "[", "id", "ps", "touch", "sync",
	}
}

// Client returns a client of the engine named by DOCKER_HOST (by default the
// local socket), closed when the test ends. It skips the test when the
// engine does not answer, or fails it when BERTH_REQUIRE_DOCKER=1.
func Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(client.FromEnv)
	if err != nil {
		unavailable(t, fmt.Errorf("docker client: %w", err))
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		unavailable(t, fmt.Errorf("ping docker engine at %s: %w", c.DaemonHost(), err))
	}
	return c
}

// Image returns TestImage, importing it into the engine first when it is
// missing. It needs the host's static busybox at BusyboxPath
// (Debian: busybox-static).
func Image(t testing.TB) string {
	t.Helper()
	c := Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.ImageInspect(ctx, TestImage)
	if err == nil {
		return TestImage
	}
	if !cerrdefs.IsNotFound(err) {
		t.Fatalf("inspect image %s: %v", TestImage, err)
	}
	busybox, err := os.ReadFile(BusyboxPath)
	if err != nil {
		unavailable(t, fmt.Errorf("build %s: %w (install busybox-static, or run scripts/test-images.sh)", TestImage, err))
	}
	if err := Import(ctx, c, busybox); err != nil {
		t.Fatalf("build %s: %v", TestImage, err)
	}
	return TestImage
}

// Import builds TestImage in the engine from the busybox binary: a root
// file system holding /bin/busybox, the applets as symbolic links to it,
// and /tmp. Importing again replaces the tag; it is safe to race.
func Import(ctx context.Context, c *client.Client, busybox []byte) error {
	return importImage(ctx, c, busybox, TestImage)
}

// importImage builds the test image as tag.
func importImage(ctx context.Context, c *client.Client, busybox []byte, tag string) error {
	root, err := rootFS(busybox)
	if err != nil {
		return err
	}
	res, err := c.ImageImport(ctx,
		client.ImageImportSource{Source: bytes.NewReader(root), SourceName: "-"},
		tag,
		client.ImageImportOptions{
			Message: "berth test image: static busybox",
			Changes: []string{"ENV PATH=/bin", `CMD ["/bin/sh"]`},
		})
	if err != nil {
		return fmt.Errorf("import %s: %w", tag, err)
	}
	defer res.Close()
	// The import finishes when its progress stream ends; the engine
	// reports failures inside it.
	dec := json.NewDecoder(res)
	for {
		var msg jsonstream.Message
		err := dec.Decode(&msg)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("import %s: %w", tag, err)
		}
		if msg.Error != nil {
			return fmt.Errorf("import %s: %w", tag, msg.Error)
		}
	}
	if _, err := c.ImageInspect(ctx, tag); err != nil {
		return fmt.Errorf("import %s: %w", tag, err)
	}
	return nil
}

// rootFS is the test image's file system as a tar archive.
func rootFS(busybox []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	hdrs := []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "bin/", Mode: 0o755, ModTime: mtime},
		{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777, ModTime: mtime},
		{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(busybox)), ModTime: mtime},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("test image tar: %w", err)
		}
	}
	if _, err := tw.Write(busybox); err != nil {
		return nil, fmt.Errorf("test image tar: %w", err)
	}
	for _, a := range applets() {
		h := &tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: mtime}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("test image tar: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("test image tar: %w", err)
	}
	return buf.Bytes(), nil
}

// unavailable ends the test for want of the engine: a failure when
// BERTH_REQUIRE_DOCKER=1, else a skip that says how to require it.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%v (%s=1)", err, RequireEnv)
	}
	t.Skipf("docker engine not available, skipping: %v (set %s=1 to fail instead)", err, RequireEnv)
}

// Gateway returns the address of the host on the engine's default bridge
// network (docker0's, 172.17.0.1 as a rule): a server the test starts on it
// is one that the containers of the test's jobs reach, as they would reach
// a service of their host.
func Gateway(t testing.TB) string {
	t.Helper()
	c := Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	if err != nil {
		t.Fatalf("inspect the engine's bridge network: %v", err)
	}
	for _, cfg := range res.Network.IPAM.Config {
		if cfg.Gateway.Is4() {
			return cfg.Gateway.String()
		}
	}
	t.Fatalf("the engine's bridge network has no IPv4 gateway: %+v", res.Network.IPAM.Config)
	return ""
}
