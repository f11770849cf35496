package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	berth "github.com/berth-run/berth"
)

// APIToken is a scoped API token as the store keeps it: never its secret,
// only the secret's hash.
type APIToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Valid reports whether the token admits requests at now: not revoked,
// not expired.
func (t APIToken) Valid(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

const apiTokenCols = `id, name, role, created_at, expires_at, revoked_at`

func scanAPIToken(sc scanner) (APIToken, error) {
	var (
		t                APIToken
		created          string
		expires, revoked sql.NullString
	)
	if err := sc.Scan(&t.ID, &t.Name, &t.Role, &created, &expires, &revoked); err != nil {
		return APIToken{}, err
	}
	var err error
	if t.CreatedAt, err = parseTS(created); err != nil {
		return APIToken{}, err
	}
	if t.ExpiresAt, err = parseTSPtr(expires); err != nil {
		return APIToken{}, err
	}
	if t.RevokedAt, err = parseTSPtr(revoked); err != nil {
		return APIToken{}, err
	}
	return t, nil
}

// CreateAPIToken keeps a new token whose secret hashes to hash.
func (s *Store) CreateAPIToken(ctx context.Context, t APIToken, hash string) (APIToken, error) {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens (id, name, role, hash, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)`, t.ID, t.Name, t.Role, hash, ts(t.CreatedAt), tsPtr(t.ExpiresAt))
		return err
	})
	if err != nil {
		return APIToken{}, fmt.Errorf("create API token %s: %w", t.ID, err)
	}
	return t, nil
}

// APITokenByHash returns the token whose secret hashes to hash, revoked or
// expired ones too, or berth.ErrNotFound.
func (s *Store) APITokenByHash(ctx context.Context, hash string) (APIToken, error) {
	t, err := scanAPIToken(s.r.QueryRowContext(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return APIToken{}, fmt.Errorf("API token: %w", berth.ErrNotFound)
	}
	if err != nil {
		return APIToken{}, fmt.Errorf("API token: %w", err)
	}
	return t, nil
}

// APITokens returns every token, the newest first.
func (s *Store) APITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiTokenCols+` FROM api_tokens ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("API tokens: %w", err)
	}
	defer rows.Close()
	out := []APIToken{}
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("API tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeAPIToken revokes the token at now; revoking it again changes
// nothing. An unknown id is berth.ErrNotFound.
func (s *Store) RevokeAPIToken(ctx context.Context, id string, now time.Time) (APIToken, error) {
	var t APIToken
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ts(now), id); err != nil {
			return err
		}
		var err error
		t, err = scanAPIToken(tx.QueryRowContext(ctx, `SELECT `+apiTokenCols+` FROM api_tokens WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("API token %s: %w", id, berth.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return APIToken{}, fmt.Errorf("revoke API token %s: %w", id, err)
	}
	return t, nil
}
