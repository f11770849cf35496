package main

import (
	"fmt"
	"io"
	"os"

	"github.com/berth-run/berth/internal/strict"
)

// maxSpecFile bounds the size of a job or schedule file.
const maxSpecFile = 4 << 20

// readSpecFile reads a JSON or YAML file (path "-" is stdin) into v, a
// pointer to a spec struct. Fields v does not have, and values of the wrong
// kind, are errors naming the field.
func readSpecFile(env *cliEnv, path string, v any) error {
	var r io.Reader = env.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSpecFile+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxSpecFile {
		return fmt.Errorf("%s: larger than %d bytes", path, maxSpecFile)
	}
	if err := strict.Decode(b, v); err != nil {
		if path == "-" {
			path = "stdin"
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
