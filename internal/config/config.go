// Package config reads berth's configuration file, berth.yaml: the pools of
// capacity berth places work on, in YAML or JSON. Load checks every field
// and names the one at fault ("pools[1].instance_types[0].cpu"), and checks
// what the root package cannot: the cron expressions of pool windows.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	yaml "go.yaml.in/yaml/v3"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cron"
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
	if err := Decode(b, &c); err != nil {
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

// Validate checks the pools and their windows' cron expressions.
func (c Config) Validate() error {
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
	return Window{Opens: opens, Closes: closes}, nil
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

// Decode reads a YAML or JSON document into the struct v points to,
// refusing unknown fields and values of the wrong kind; the error is a
// *berth.FieldError naming the field by its path.
func Decode(b []byte, v any) error {
	b = bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))
	if len(b) == 0 {
		return &berth.FieldError{Problem: "the file is empty"}
	}
	doc := b
	if !json.Valid(b) {
		j, err := yamlToJSON(b)
		if err != nil {
			return &berth.FieldError{Problem: err.Error()}
		}
		doc = j
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return &berth.FieldError{Problem: "malformed: " + err.Error()}
	}
	if err := check(generic, reflectType(v), ""); err != nil {
		return err
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return &berth.FieldError{Problem: err.Error()}
	}
	return nil
}

// yamlToJSON converts a YAML document to JSON.
func yamlToJSON(b []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, errors.New("holds more than one YAML document")
	}
	budget := 1 << 20
	v, err := yamlValue(&n, &budget)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// yamlValue converts n to a value encoding/json writes; scalars keep their
// YAML meaning (numbers, booleans, null) except that timestamps and other
// tags stay strings.
func yamlValue(n *yaml.Node, budget *int) (any, error) {
	if *budget--; *budget < 0 {
		return nil, errors.New("too many YAML nodes after expanding aliases")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0], budget)
	case yaml.AliasNode:
		return yamlValue(n.Alias, budget)
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, budget)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a plain name", k.Line)
			}
			v, err := yamlValue(n.Content[i+1], budget)
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			return v, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML", n.Line)
}
