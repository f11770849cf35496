package evaluate

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Prices are per-tick hourly Spot prices of one or more pools, kept apart
// from their availability traces.
type Prices struct {
	Spot     map[string][]float64 // by trace name
	OnDemand float64              // hourly on-demand price; zero when the file does not give it
	Gap      time.Duration        // tick; zero when the file does not give it
}

// pricesFile is the layout of a single pool's prices: {"prices": [...],
// "gap_seconds": G, "price_info": {"on_demand_price": P}}.
type pricesFile struct {
	Prices     []float64 `json:"prices"`
	GapSeconds float64   `json:"gap_seconds"`
	PriceInfo  struct {
		OnDemand float64 `json:"on_demand_price"`
	} `json:"price_info"`
}

// ParsePrices reads prices in either of two layouts: one pool's prices,
// named name, or an object mapping trace names to their per-tick prices.
func ParsePrices(r io.Reader, name string) (Prices, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return Prices{}, fmt.Errorf("parse prices: %w", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Prices{}, fmt.Errorf("parse prices: %w", err)
	}
	if _, single := raw["prices"]; single {
		var pf pricesFile
		if err := json.Unmarshal(b, &pf); err != nil {
			return Prices{}, fmt.Errorf("parse prices: %w", err)
		}
		return Prices{
			Spot:     map[string][]float64{name: pf.Prices},
			OnDemand: pf.PriceInfo.OnDemand,
			Gap:      time.Duration(pf.GapSeconds * float64(time.Second)),
		}, nil
	}
	p := Prices{Spot: make(map[string][]float64, len(raw))}
	for k, v := range raw {
		var series []float64
		if err := json.Unmarshal(v, &series); err != nil {
			return Prices{}, fmt.Errorf("parse prices of %s: %w", k, err)
		}
		p.Spot[k] = series
	}
	return p, nil
}

// Apply returns tr with its per-tick Spot prices from p, and ok false when p
// has none for it. onDemand is the hourly on-demand price to use when p
// does not give one.
func (p Prices) Apply(tr Trace, onDemand float64) (out Trace, ok bool, err error) {
	spot, ok := p.Spot[tr.Name]
	if !ok {
		return tr, false, nil
	}
	if p.Gap > 0 && p.Gap != tr.Gap {
		return Trace{}, false, fmt.Errorf("prices of %s: tick %v, trace tick %v", tr.Name, p.Gap, tr.Gap)
	}
	if p.OnDemand > 0 {
		onDemand = p.OnDemand
	}
	out, err = tr.WithPrices(spot, onDemand)
	if err != nil {
		return Trace{}, false, fmt.Errorf("prices of %s: %w", tr.Name, err)
	}
	return out, true, nil
}
