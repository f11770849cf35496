package main

import (
	"context"
	"fmt"
	"runtime/debug"
)

// version is berth's version. Releases set it at build time:
//
//	go build -ldflags "-X main.version=v1.2.0" ./cmd/berth
//
// Left empty, it is read from the build: the main module's version (go
// install ...@v1.2.0), else the commit it was built from, else "dev".
var version string

// runVersion runs `berth version` (and `berth --version`).
func runVersion(_ context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "version", "version")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	_, err := fmt.Fprintf(env.stdout, "berth version %s\n", buildVersion(version, debug.ReadBuildInfo))
	return err
}

// buildVersion is set when it is not empty, else the version the build
// info holds: the main module's, else its commit (cut to 12 digits, with
// "-dirty" when the tree had changes), else "dev".
func buildVersion(set string, read func() (*debug.BuildInfo, bool)) string {
	if set != "" {
		return set
	}
	info, ok := read()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
