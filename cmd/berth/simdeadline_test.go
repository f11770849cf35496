package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTrace writes a synthetic trace: Spot available 3 hours out of every 4,
// 10-minute ticks, 30 days.
func writeTrace(t *testing.T, dir, name string) string {
	t.Helper()
	var data []string
	for i := range 30 * 24 * 6 {
		v := "1"
		if i%24 >= 18 {
			v = "0"
		}
		data = append(data, v)
	}
	p := filepath.Join(dir, name)
	body := fmt.Sprintf(`{"metadata":{"gap_seconds":600},"data":[%s]}`, strings.Join(data, ","))
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cliEnv{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(context.Background(), env, append([]string{"sim", "deadline"}, args...))
	return out.String(), errb.String(), code
}

func TestSimDeadlineJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "synthetic")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	tr := writeTrace(t, dir, "zone-a.json")
	out, errOut, code := runCLI(t, "--trace", tr, "--job-hours", "24", "--job-fraction", "0.6,0.9", "--starts", "20", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Overall struct {
			Policies map[string]struct {
				Cost         float64 `json:"cost"`
				SpotFraction float64 `json:"spot_fraction"`
				Misses       int     `json:"deadline_misses"`
				Samples      int     `json:"samples"`
			} `json:"policies"`
			BoundBreaches int `json:"bound_breaches"`
		} `json:"overall"`
		Cells []struct {
			Group       string  `json:"group"`
			JobFraction float64 `json:"job_fraction"`
		} `json:"cells"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if len(doc.Cells) != 2 || doc.Cells[0].Group != "synthetic" || doc.Cells[1].JobFraction != 0.9 {
		t.Errorf("cells = %+v, want the synthetic group at 0.6 and 0.9", doc.Cells)
	}
	omni := doc.Overall.Policies["omniscient"]
	for _, name := range []string{"greedy", "uniform_progress", "berth", "omniscient"} {
		p, ok := doc.Overall.Policies[name]
		switch {
		case !ok:
			t.Errorf("policy %s missing from %s", name, out)
		case p.Samples != 40 || p.Misses != 0:
			t.Errorf("%s: %d samples, %d misses; want 40 and 0", name, p.Samples, p.Misses)
		case p.Cost <= 0 || p.Cost > 1 || p.Cost < omni.Cost:
			t.Errorf("%s: cost %v, want in [omniscient %v, 1]", name, p.Cost, omni.Cost)
		}
	}
	if doc.Overall.BoundBreaches != 0 {
		t.Errorf("bound breaches = %d, want 0", doc.Overall.BoundBreaches)
	}
}

func TestSimDeadlineTable(t *testing.T) {
	tr := writeTrace(t, t.TempDir(), "zone-b.json")
	out, errOut, code := runCLI(t, "--trace", tr, "--job-hours", "24", "--deadline-hours", "36", "--starts", "5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"greedy", "uniform_progress", "berth", "omniscient", "0.67", "36.0h"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestSimDeadlineErrors(t *testing.T) {
	tr := writeTrace(t, t.TempDir(), "zone-c.json")
	tests := [][]string{
		{},
		{"--trace", tr, "--output", "yaml"},
		{"--trace", tr, "--deadline-hours", "60", "--job-fraction", "0.8"},
		{"--trace", tr, "--job-fraction", "1.5"},
		{"--trace", tr, "--checkpoint", "sometimes"},
		{"--trace", filepath.Join(t.TempDir(), "missing.json")},
		{"--trace", tr, "--job-hours", "48", "--deadline-hours", "40"},
	}
	for _, args := range tests {
		if _, _, code := runCLI(t, args...); code == 0 {
			t.Errorf("berth sim deadline %v: exit 0, want an error", args)
		}
	}
}

// writePrices writes per-tick Spot prices for the trace name of writeTrace,
// every tick at price.
func writePrices(t *testing.T, dir, name string, price float64) string {
	t.Helper()
	ps := make([]string, 30*24*6)
	for i := range ps {
		ps[i] = fmt.Sprint(price)
	}
	p := filepath.Join(dir, "prices.json")
	body := fmt.Sprintf(`{%q: [%s]}`, name, strings.Join(ps, ","))
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSimDeadlinePerTickPrices(t *testing.T) {
	dir := t.TempDir()
	tr := writeTrace(t, dir, "zone-d.json")
	costs := func(args ...string) (map[string]float64, int) {
		t.Helper()
		out, errOut, code := runCLI(t, append([]string{"--trace", tr, "--job-hours", "24", "--job-fraction", "0.7", "--starts", "10", "--output", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var doc struct {
			Priced  int `json:"traces_priced_per_tick"`
			Overall struct {
				Policies map[string]struct {
					Cost float64 `json:"cost"`
				} `json:"policies"`
			} `json:"overall"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		c := map[string]float64{}
		for k, v := range doc.Overall.Policies {
			c[k] = v.Cost
		}
		return c, doc.Priced
	}
	// Spot at a quarter of the on-demand price on every tick is the flat
	// ratio 4.
	flat, n := costs("--price-ratio", "4")
	if n != 0 {
		t.Errorf("--price-ratio 4: %d traces priced per tick, want 0", n)
	}
	perTick, n := costs("--prices", writePrices(t, dir, "zone-d", 1), "--on-demand-price", "4")
	if n != 1 {
		t.Errorf("--prices: %d traces priced per tick, want 1", n)
	}
	for name, c := range flat {
		if d := perTick[name] - c; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s: cost %v with per-tick prices, %v with the same flat ratio", name, perTick[name], c)
		}
	}
	dearer, _ := costs("--prices", writePrices(t, dir, "zone-d", 2), "--on-demand-price", "4")
	if dearer["omniscient"] <= perTick["omniscient"] {
		t.Errorf("omniscient cost %v at Spot half of on-demand, want above %v at a quarter", dearer["omniscient"], perTick["omniscient"])
	}
	if _, _, code := runCLI(t, "--trace", tr, "--prices", writePrices(t, dir, "zone-d", 5), "--on-demand-price", "4"); code == 0 {
		t.Error("Spot dearer than on-demand: exit 0, want an error")
	}
	if _, _, code := runCLI(t, "--trace", tr, "--prices", writePrices(t, dir, "zone-d", 1), "--price-ratio", "3"); code == 0 {
		t.Error("--prices with --price-ratio: exit 0, want an error")
	}
}
