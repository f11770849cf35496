package logstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Size is how many bytes the attempt's log holds as stored (0 when it has
// none yet).
func (s *Store) Size(jobID, attemptID string) (int64, error) {
	path, err := s.path(jobID, attemptID)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stat log: %w", err)
	}
	return fi.Size(), nil
}
