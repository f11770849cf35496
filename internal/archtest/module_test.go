package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// modulePath is berth's module; the tests check that go list agrees.
const modulePath = "github.com/berth-run/berth"

// pure are the packages that decide: data and now in, a plan out. Paths are
// relative to the module; "" is the root package, the domain.
var pure = []string{"", "internal/scheduler", "internal/autoscale", "internal/cost", "internal/deadline"}

// glue are the packages that turn the fleet into what the pure packages
// decide from, shared by the server and berth sim. They are pure too, but
// may import the pure packages.
var glue = []string{"internal/fleetview"}

// listed is what go list says of one package.
type listed struct {
	ImportPath string
	Dir        string
	Standard   bool
	Imports    []string
	Error      *struct{ Err string }
}

// goList runs go list -e -json with args in the module's folder and returns
// the packages it prints.
func goList(t *testing.T, args ...string) []listed {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-e", "-json"}, args...)...)
	cmd.Dir = moduleDir(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list %s: decode: %v", strings.Join(args, " "), err)
		}
		if p.Error != nil {
			t.Errorf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

var moduleDirOnce = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", err
	}
	path, dir, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok || path != modulePath {
		return "", errors.New("go list -m: want module " + modulePath + ", got " + string(out))
	}
	return dir, nil
})

// moduleDir returns the module's root folder.
func moduleDir(t *testing.T) string {
	t.Helper()
	dir, err := moduleDirOnce()
	if err != nil {
		t.Fatalf("find the module: %v", err)
	}
	return dir
}

// importPath returns the import path of the package at rel in the module.
func importPath(rel string) string {
	if rel == "" {
		return modulePath
	}
	return modulePath + "/" + rel
}

// relPath returns path relative to the module's folder, with slashes.
func relPath(t *testing.T, path string) string {
	t.Helper()
	rel, err := filepath.Rel(moduleDir(t), path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(rel)
}
