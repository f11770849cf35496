package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	berth "github.com/berth-run/berth"
)

// Sealer encrypts secret_env values for the database and decrypts them
// again (auth.EnvKey). Open fails for a value sealed with other
// additional data or another key.
type Sealer interface {
	Seal(plain, ad []byte) ([]byte, error)
	Open(sealed, ad []byte) ([]byte, error)
}

// Options are what OpenWith takes beside the path; the zero value is a
// store that refuses jobs with secret_env.
type Options struct {
	// Secrets seals jobs' secret_env values: the database holds them
	// only sealed.
	Secrets Sealer
}

// errNoSealer refuses a job with secret_env in a store opened without a
// Sealer.
var errNoSealer = errors.New("this store has no key to seal secret_env with")

// envAD is the additional data a secret_env value is sealed with: it opens
// for its job and variable only.
func envAD(jobID, name string) []byte { return []byte(jobID + "\x00" + name) }

// sealEnv seals the values of env for job jobID, as the secret_env column
// holds them: a JSON object of name to base64, or nil for no variables.
func (s *Store) sealEnv(jobID string, env map[string]string) (any, error) {
	if len(env) == 0 {
		return nil, nil
	}
	if s.sealer == nil {
		return nil, errNoSealer
	}
	out := make(map[string]string, len(env))
	for k, v := range env {
		sealed, err := s.sealer.Seal([]byte(v), envAD(jobID, k))
		if err != nil {
			return nil, fmt.Errorf("seal secret_env.%s of job %s: %w", k, jobID, err)
		}
		out[k] = base64.StdEncoding.EncodeToString(sealed)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// SecretEnv returns the job's secret_env with its values as they were
// submitted, unsealed: for the node that starts its container, and for
// comparing a repeated submission. It returns nil when the job has none,
// and berth.ErrNotFound for an unknown job.
func (s *Store) SecretEnv(ctx context.Context, jobID string) (map[string]string, error) {
	var col sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT secret_env FROM jobs WHERE id = ?`, jobID).Scan(&col)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("secret env of job %s: %w", jobID, berth.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("secret env of job %s: %w", jobID, err)
	}
	if !col.Valid {
		return nil, nil
	}
	if s.sealer == nil {
		return nil, fmt.Errorf("secret env of job %s: %w", jobID, errNoSealer)
	}
	var sealed map[string]string
	if err := json.Unmarshal([]byte(col.String), &sealed); err != nil {
		return nil, fmt.Errorf("secret env of job %s: %w", jobID, err)
	}
	out := make(map[string]string, len(sealed))
	for k, v := range sealed {
		b, err := base64.StdEncoding.DecodeString(v)
		if err == nil {
			b, err = s.sealer.Open(b, envAD(jobID, k))
		}
		if err != nil {
			return nil, fmt.Errorf("secret_env.%s of job %s: %w", k, jobID, err)
		}
		out[k] = string(b)
	}
	return out, nil
}
