package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	berth "github.com/berth-run/berth"
)

func TestParseYAMLAndJSONAgree(t *testing.T) {
	y := `
pools:
  - name: spot
    provider: fake
    market: spot
    instance_types:
      - {name: m5.large, cpu: 2, memory_mb: 8192, price: 0.096, spot_trace: traces/a.json}
    max: 4
    scale_in_delay: 30s
`
	j := `{"pools": [{"name": "spot", "provider": "fake", "market": "spot", "max": 4, "scale_in_delay": "30s",
	  "instance_types": [{"name": "m5.large", "cpu": 2, "memory_mb": 8192, "price": 0.096, "spot_trace": "traces/a.json"}]}]}`
	cy, err := Parse([]byte(y), "/etc/berth")
	if err != nil {
		t.Fatalf("Parse(yaml) = %v", err)
	}
	cj, err := Parse([]byte(j), "/etc/berth")
	if err != nil {
		t.Fatalf("Parse(json) = %v", err)
	}
	if diff := cmp.Diff(cy, cj); diff != "" {
		t.Errorf("YAML and JSON differ (-yaml +json):\n%s", diff)
	}
	if got := cy.Pools[0].InstanceTypes[0].SpotTrace; got != "/etc/berth/traces/a.json" {
		t.Errorf("spot_trace = %q, want it relative to the config's folder", got)
	}
}

func TestParseNamesTheField(t *testing.T) {
	tests := []struct {
		name, doc, field string
	}{
		{"unknown top-level", "pool: []", "pool"},
		{"unknown nested", "pools: [{name: a, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: 1, gpus: 1}]}]", "pools[0].instance_types[0].gpus"},
		{"wrong kind", "pools: [{name: a, provider: fake, max: many}]", "pools[0].max"},
		{"bad duration", "pools: [{name: a, provider: local, scale_in_delay: soon}]", "pools[0].scale_in_delay"},
		{"validation", "pools: [{name: a, provider: fake, max: 1}]", "pools[0].instance_types"},
		{"bad cron", `pools: [{name: a, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: 1}], window: {opens: "0 25 * * *", closes: "0 6 * * *"}}]`, "pools[0].window.opens"},
		{"empty", "", ""},
		{"no pools", "pools: []", "pools"},
		{"no pools in JSON", "{}", "pools"},
		{"serverless with max", "pools: [{name: f, provider: fake-serverless, max: 3, serverless: {vcpu_second_usd: 0.1}}]", "pools[0].max"},
		{"unknown provider", "pools: [{name: s, provider: gcp}]", "pools[0].provider"},
		{"negative price", "pools: [{name: a, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: -1}]}]", "pools[0].instance_types[0].price"},
		{"window never open", `pools: [{name: a, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: 1}], window: {opens: "0 2 * * *", closes: "0 2 * * *"}}]`, "pools[0].window.closes"},
		{"window never open, spelt two ways", `pools: [{name: a, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: 1}], window: {opens: "0 0 * * *", closes: "@daily"}}]`, "pools[0].window.closes"},
		{"duplicate key in JSON", `{"pools": [{"name": "a", "provider": "local", "name": "b"}]}`, "pools[0].name"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc), "")
		var fe *berth.FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: Parse() = %v, want an error on field %q", tt.name, err, tt.field)
		}
	}
}

// TestLeapDayWindow: a window that opens only on leap days is open on
// them, not refused as never open.
func TestLeapDayWindow(t *testing.T) {
	doc := `pools: [{name: a, provider: fake, max: 1, instance_types: [{name: t, cpu: 1, memory_mb: 512, price: 1}], window: {opens: "0 0 29 2 *", closes: "0 6 29 2 *"}}]`
	if _, err := Parse([]byte(doc), ""); err != nil {
		t.Errorf("Parse(a leap day's window) = %v, want it taken", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "berth.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestWindowOpen(t *testing.T) {
	w, err := ParseWindow(berth.PoolWindow{Opens: "0 2 * * *", Closes: "0 6 * * *", TimeZone: "Europe/Paris"})
	if err != nil {
		t.Fatal(err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	at := func(h, m int) time.Time { return time.Date(2026, 1, 10, h, m, 0, 0, paris) }
	tests := []struct {
		t        time.Time
		open     bool
		nextHour int
	}{
		{at(1, 59), false, 2},
		{at(2, 0), true, 6},
		{at(5, 59), true, 6},
		{at(6, 0), false, 2},
		{at(12, 0), false, 2},
	}
	for _, tt := range tests {
		open, next := w.Open(tt.t)
		if open != tt.open || next.In(paris).Hour() != tt.nextHour {
			t.Errorf("Open(%s) = %v, next %s; want %v, next at %d:00", tt.t.Format("15:04"), open, next.In(paris).Format("15:04"), tt.open, tt.nextHour)
		}
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil || len(c.Pools) != 1 || c.Pools[0].Provider != berth.ProviderLocal {
		t.Errorf("Default() = %+v, %v; want one valid local pool", c, err)
	}
}
