package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/berth-run/berth/internal/cost"
)

// PricePoint is the price of an instance type of a pool from At on, USD
// per hour.
type PricePoint struct {
	Pool, InstanceType string
	At                 time.Time
	Price              float64
}

// RecordPrices stores price points; a point at a moment already stored
// for its type replaces it.
func (s *Store) RecordPrices(ctx context.Context, pts []PricePoint) error {
	if len(pts) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		for _, p := range pts {
			if !(p.Price >= 0) {
				return fmt.Errorf("price %v of %s in pool %s is not a price", p.Price, p.InstanceType, p.Pool)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO prices (pool, instance_type, at, price) VALUES (?, ?, ?, ?)
				ON CONFLICT (pool, instance_type, at) DO UPDATE SET price = excluded.price`,
				p.Pool, p.InstanceType, ts(p.At), p.Price); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record prices: %w", err)
	}
	return nil
}

// series is the recorded price of one instance type of one pool: a step
// function. Before its first point it is the price the host's agent
// reported (fallback).
type series struct {
	at       []time.Time
	price    []float64
	fallback float64
}

var _ cost.Price = series{}

// Price returns the price at t.
func (s series) Price(t time.Time) float64 {
	i := sort.Search(len(s.at), func(i int) bool { return s.at[i].After(t) })
	if i == 0 {
		return s.fallback
	}
	return s.price[i-1]
}

// NextPriceChange returns the next recorded point after t.
func (s series) NextPriceChange(t time.Time) time.Time {
	i := sort.Search(len(s.at), func(i int) bool { return s.at[i].After(t) })
	if i == len(s.at) {
		return cost.Fixed(0).NextPriceChange(t)
	}
	return s.at[i]
}

// priceBook reads the price series of a pool's instance types as they are
// asked for, each once, through q: the store's readers, or a transaction
// that reads with them.
type priceBook struct {
	q    querier
	ctx  context.Context
	read map[[2]string]series
}

func newPriceBook(ctx context.Context, q querier) *priceBook {
	return &priceBook{q: q, ctx: ctx, read: map[[2]string]series{}}
}

// price is the price of instance type typ of pool, falling back to
// fallback where nothing is recorded (no type, or before the first point).
func (b *priceBook) price(pool, typ string, fallback float64) (cost.Price, error) {
	sr, err := b.series(pool, typ)
	if err != nil {
		return nil, err
	}
	if len(sr.at) == 0 {
		return cost.Fixed(fallback), nil
	}
	sr.fallback = fallback
	return sr, nil
}

// recorded reports whether prices of instance type typ of pool are
// recorded.
func (b *priceBook) recorded(pool, typ string) (bool, error) {
	sr, err := b.series(pool, typ)
	return len(sr.at) > 0, err
}

// series reads the recorded prices of instance type typ of pool, once;
// none for no type.
func (b *priceBook) series(pool, typ string) (series, error) {
	if typ == "" {
		return series{}, nil
	}
	key := [2]string{pool, typ}
	if sr, ok := b.read[key]; ok {
		return sr, nil
	}
	rows, err := b.q.QueryContext(b.ctx, `SELECT at, price FROM prices WHERE pool = ? AND instance_type = ? ORDER BY at`, pool, typ)
	if err != nil {
		return series{}, fmt.Errorf("read prices of %s in pool %s: %w", typ, pool, err)
	}
	defer rows.Close()
	var sr series
	for rows.Next() {
		var at string
		var p float64
		if err := rows.Scan(&at, &p); err != nil {
			return series{}, fmt.Errorf("read prices of %s in pool %s: %w", typ, pool, err)
		}
		t, err := parseTS(at)
		if err != nil {
			return series{}, err
		}
		sr.at, sr.price = append(sr.at, t), append(sr.price, p)
	}
	if err := rows.Err(); err != nil {
		return series{}, fmt.Errorf("read prices of %s in pool %s: %w", typ, pool, err)
	}
	b.read[key] = sr
	return sr, nil
}

// recordedPrice is the price recorded for instance type typ of pool at
// at; 0 where none is.
func recordedPrice(ctx context.Context, q querier, pool, typ string, at time.Time) (float64, error) {
	var p float64
	err := q.QueryRowContext(ctx, `SELECT price FROM prices WHERE pool = ? AND instance_type = ? AND at <= ?
		ORDER BY at DESC LIMIT 1`, pool, typ, ts(at)).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the price of %s in pool %s: %w", typ, pool, err)
	}
	return p, nil
}
