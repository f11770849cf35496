package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// JoinGeneration is a pool's current generation of join tokens.
type JoinGeneration struct {
	Pool       string
	Generation int64
	ExpiresAt  *time.Time // nil: never
}

// Expired reports whether the generation's tokens have expired at now.
func (g JoinGeneration) Expired(now time.Time) bool {
	return g.ExpiresAt != nil && !now.Before(*g.ExpiresAt)
}

// JoinGeneration returns the pool's current generation of join tokens:
// generation 1 without expiry for a pool never rotated.
func (s *Store) JoinGeneration(ctx context.Context, pool string) (JoinGeneration, error) {
	g := JoinGeneration{Pool: pool, Generation: 1}
	var exp sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT generation, expires_at FROM join_tokens WHERE pool = ?`, pool).Scan(&g.Generation, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return g, nil
	}
	if err != nil {
		return JoinGeneration{}, fmt.Errorf("join token of pool %s: %w", pool, err)
	}
	if g.ExpiresAt, err = parseTSPtr(exp); err != nil {
		return JoinGeneration{}, fmt.Errorf("join token of pool %s: %w", pool, err)
	}
	return g, nil
}

// JoinGenerations returns the generations of every rotated pool, by pool.
func (s *Store) JoinGenerations(ctx context.Context) (map[string]JoinGeneration, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT pool, generation, expires_at FROM join_tokens`)
	if err != nil {
		return nil, fmt.Errorf("join tokens: %w", err)
	}
	defer rows.Close()
	out := map[string]JoinGeneration{}
	for rows.Next() {
		var (
			g   JoinGeneration
			exp sql.NullString
		)
		if err := rows.Scan(&g.Pool, &g.Generation, &exp); err != nil {
			return nil, fmt.Errorf("join tokens: %w", err)
		}
		if g.ExpiresAt, err = parseTSPtr(exp); err != nil {
			return nil, fmt.Errorf("join tokens: %w", err)
		}
		out[g.Pool] = g
	}
	return out, rows.Err()
}

// RotateJoinToken moves the pool to a new generation of join tokens, whose
// token expires at expires (nil: never): the tokens of older generations
// are refused from then on. Nodes that joined keep their credentials.
func (s *Store) RotateJoinToken(ctx context.Context, pool string, expires *time.Time, now time.Time) (JoinGeneration, error) {
	var g JoinGeneration
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO join_tokens (pool, generation, expires_at, rotated_at)
			VALUES (?, 2, ?, ?)
			ON CONFLICT (pool) DO UPDATE SET generation = join_tokens.generation + 1, expires_at = excluded.expires_at,
			rotated_at = excluded.rotated_at`, pool, tsPtr(expires), ts(now)); err != nil {
			return err
		}
		var exp sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT generation, expires_at FROM join_tokens WHERE pool = ?`, pool).
			Scan(&g.Generation, &exp); err != nil {
			return err
		}
		g.Pool = pool
		var err error
		g.ExpiresAt, err = parseTSPtr(exp)
		return err
	})
	if err != nil {
		return JoinGeneration{}, fmt.Errorf("rotate the join token of pool %s: %w", pool, err)
	}
	return g, nil
}

// PurgeSilentNodes deletes the nodes that joined before cutoff and were
// never heard from after their join (joining or lost, no heartbeat
// recorded, no attempt ever placed on them): joins that came to nothing
// leave no rows behind. It returns the ids it deleted.
func (s *Store) PurgeSilentNodes(ctx context.Context, cutoff time.Time) ([]string, error) {
	var ids []string
	err := s.write(ctx, func(tx *sql.Tx) error {
		ids = ids[:0]
		rows, err := tx.QueryContext(ctx, `DELETE FROM nodes WHERE state IN ('joining', 'lost')
			AND last_seen = created_at AND created_at < ?
			AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.node_id = nodes.id) RETURNING id`, ts(cutoff))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("purge silent nodes: %w", err)
	}
	return ids, nil
}
