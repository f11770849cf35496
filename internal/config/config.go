// Package config reads berth's configuration file, berth.yaml: the pools of
// capacity berth places work on, in YAML or JSON. Load checks every field
// and names the one at fault ("pools[1].instance_types[0].cpu"), and checks
// what the root package cannot: the cron expressions of pool windows.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cron"
	"github.com/berth-run/berth/internal/strict"
)

// maxFile bounds the size of a configuration file.
const maxFile = 4 << 20

// Config is the content of berth.yaml.
type Config struct {
	// Pools, in the order written: placement and overflow prefer earlier
	// pools when all else is equal.
	Pools []berth.PoolSpec `json:"pools"`
}

// Default is the configuration without a file: the local engine as the
// only pool.
func Default() Config {
	local := berth.PoolSpec{Name: "local", Provider: berth.ProviderLocal}
	return Config{Pools: []berth.PoolSpec{local.WithDefaults()}}
}

// Load reads and checks the configuration file at path. Relative trace paths
// in it are taken relative to the file's folder.
func Load(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("load config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	if len(b) > maxFile {
		return Config{}, fmt.Errorf("load config %s: larger than %d bytes", path, maxFile)
	}
	c, err := Parse(b, filepath.Dir(path))
	if err != nil {
		return Config{}, fmt.Errorf("load config %s: %w", path, err)
	}
	return c, nil
}

// Parse reads a configuration in YAML or JSON. dir is the folder relative
// trace paths start from. The pools come back with their defaults filled
// in. Every problem with a field is a *berth.FieldError.
func Parse(b []byte, dir string) (Config, error) {
	var c Config
	if err := strict.Decode(b, &c); err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	for i := range c.Pools {
		p := c.Pools[i].WithDefaults()
		p.InstanceTypes = append([]berth.InstanceType(nil), p.InstanceTypes...)
		for j := range p.InstanceTypes {
			if t := p.InstanceTypes[j].SpotTrace; t != "" && !filepath.IsAbs(t) && dir != "" {
				p.InstanceTypes[j].SpotTrace = filepath.Join(dir, t)
			}
		}
		c.Pools[i] = p
	}
	return c, nil
}

// Validate checks the pools and their windows' cron expressions. There is
// at least one pool.
func (c Config) Validate() error {
	if len(c.Pools) == 0 {
		return &berth.FieldError{Field: "pools", Problem: "needs at least one pool, such as {name: local, provider: local} for the server's own engine"}
	}
	if err := berth.ValidatePools(c.Pools); err != nil {
		return err
	}
	for i, p := range c.Pools {
		if p.Window == nil {
			continue
		}
		if _, err := ParseWindow(*p.Window); err != nil {
			var fe *berth.FieldError
			if errors.As(err, &fe) {
				fe.Field = fmt.Sprintf("pools[%d].window.%s", i, fe.Field)
			}
			return err
		}
	}
	return nil
}

// Pool returns the pool called name.
func (c Config) Pool(name string) (berth.PoolSpec, bool) {
	for _, p := range c.Pools {
		if p.Name == name {
			return p, true
		}
	}
	return berth.PoolSpec{}, false
}

// Window is a parsed pool window.
type Window struct {
	Opens, Closes *cron.Expression
}

// ParseWindow parses w's cron expressions in its time zone. Errors are
// *berth.FieldError naming opens, closes or time_zone.
func ParseWindow(w berth.PoolWindow) (Window, error) {
	loc, err := time.LoadLocation(w.TimeZone)
	if err != nil {
		return Window{}, &berth.FieldError{Field: "time_zone", Problem: fmt.Sprintf("%q is not a time zone such as Europe/Paris", w.TimeZone)}
	}
	opens, err := cron.Parse(w.Opens, loc)
	if err != nil {
		return Window{}, &berth.FieldError{Field: "opens", Problem: err.Error()}
	}
	closes, err := cron.Parse(w.Closes, loc)
	if err != nil {
		return Window{}, &berth.FieldError{Field: "closes", Problem: err.Error()}
	}
	win := Window{Opens: opens, Closes: closes}
	if win.never() {
		return Window{}, &berth.FieldError{Field: "closes", Problem: fmt.Sprintf("%q closes whenever %q opens: the pool would never be open", w.Closes, w.Opens)}
	}
	return win, nil
}

// never reports whether the window closes at every moment it opens, over
// five years (a leap day's window opens in them) or its first thousand
// openings (expressions spelt differently, such as "0 0 * * *" and
// "@daily").
func (w Window) never() bool {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for end, n := t.AddDate(5, 0, 0), 0; t.Before(end) && n < 1000; n++ {
		o := w.Opens.Next(t)
		if o.IsZero() || !o.Before(end) {
			return true
		}
		if !w.Closes.Next(o.Add(-time.Minute)).Equal(o) {
			return false
		}
		t = o
	}
	return true
}

// Open reports whether the window is open at t: its next event after t is
// a close (or it opens and closes at the same minute, which counts as
// closed). It also returns when that next event is.
func (w Window) Open(t time.Time) (open bool, next time.Time) {
	o, c := w.Opens.Next(t), w.Closes.Next(t)
	if c.Before(o) {
		return true, c
	}
	return false, o
}
