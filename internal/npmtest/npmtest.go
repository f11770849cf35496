// Package npmtest finds and starts, for tests, the tools that berth's
// tests take from the npm registry (fauxqs for SQS, dynalite for
// DynamoDB): each is installed in a folder named by an environment
// variable, and a test that needs one skips without it, or fails when
// the matching BERTH_REQUIRE_ variable is 1, as .ci/run sets it.
package npmtest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Package is one npm package a test needs.
type Package struct {
	Name    string // "fauxqs"
	Env     string // the variable naming its folder: "BERTH_FAUXQS"
	Require string // the variable that makes its absence fail: "BERTH_REQUIRE_FAUXQS"
	Install string // how to install it: "npm install --prefix /tmp/fauxqs fauxqs@1.9.2"
	File    string // a file in the folder that the test runs: "dist/app.js"
}

// Path returns the absolute path of p's File, or skips t when p's folder
// is not given (fails it when it is required), or fails t when the file
// is not there.
func (p Package) Path(t testing.TB) string {
	t.Helper()
	dir := os.Getenv(p.Env)
	hint := p.Install + " and point " + p.Env + " at its node_modules/" + p.Name
	if dir == "" && os.Getenv(p.Require) == "1" {
		t.Fatalf("%s=1 but %s is not set: %s", p.Require, p.Env, hint)
	}
	if dir == "" {
		t.Skipf("%s is not set: %s", p.Env, hint)
	}
	path, err := filepath.Abs(filepath.Join(dir, p.File))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s: %v", p.Env, err)
	}
	return path
}

// Serve runs node with args, a script that listens on a loopback port
// and prints its URL (http://127.0.0.1:PORT) as its first line, and
// returns that URL; the process is killed when t ends.
func (p Package) Serve(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("node", args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.Name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- strings.TrimSpace(sc.Text())
		}
		close(line)
	}()
	select {
	case addr, ok := <-line:
		if !ok || !strings.HasPrefix(addr, "http://127.0.0.1:") {
			t.Fatalf("%s did not say where it listens (%q)", p.Name, addr)
		}
		return addr
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start within 30s", p.Name)
	}
	return ""
}
