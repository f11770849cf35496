package main

import (
	"context"
	"errors"
)

// runSimDeadline runs `berth sim deadline`.
func runSimDeadline(ctx context.Context, env *cliEnv, args []string) error {
	return errors.New("not built yet")
}
