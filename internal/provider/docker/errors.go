package docker

import (
	"fmt"

	"github.com/berth-run/berth/internal/provider"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// wrap adds op to an engine error and marks it with the provider's
// sentinel when there is one: ErrUnavailable when the engine cannot be
// reached, ErrNotFound when the container does not exist.
func wrap(op string, err error) error {
	switch {
	case isUnavailable(err):
		return fmt.Errorf("%s: %w: %w", op, provider.ErrUnavailable, err)
	case isNotFound(err):
		return fmt.Errorf("%s: %w: %w", op, provider.ErrNotFound, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

func isUnavailable(err error) bool {
	return err != nil && (client.IsErrConnectionFailed(err) || cerrdefs.IsUnavailable(err))
}

func isNotFound(err error) bool { return err != nil && cerrdefs.IsNotFound(err) }

func isConflict(err error) bool { return err != nil && cerrdefs.IsConflict(err) }

func isInvalid(err error) bool { return err != nil && cerrdefs.IsInvalidArgument(err) }
