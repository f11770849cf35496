package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/scheduler"
)

// checkLabels checks the labels placement reads, naming them under prefix
// ("labels." or "job.labels."). A job pinned to a pool (berth.pool) must
// name one that exists: a configured pool, the default pool of agents, or
// one that a node has joined. An agent may join a pool of any name with
// its join token (GET /v1/pools/{name}), so a new agent pool can take
// pinned jobs once its first node has joined.
func (s *Server) checkLabels(r *http.Request, labels map[string]string, prefix string) error {
	if err := scheduler.CheckLabels(labels); err != nil {
		return prefixed(prefix, err)
	}
	name := labels[scheduler.LabelPool]
	if name == "" {
		return nil
	}
	pools, err := s.pools(r)
	if err != nil {
		return err
	}
	names := make([]string, len(pools))
	for i, p := range pools {
		if p.Name == name {
			return nil
		}
		names[i] = p.Name
	}
	return &berth.FieldError{Field: prefix + "labels." + scheduler.LabelPool,
		Problem: fmt.Sprintf("no pool named %s; pools: %s (an agent's pool exists once its first node joins)", name, strings.Join(names, ", "))}
}

// prefixed puts prefix before the field of a *berth.FieldError.
func prefixed(prefix string, err error) error {
	if fe, ok := err.(*berth.FieldError); ok && prefix != "" {
		return &berth.FieldError{Field: prefix + fe.Field, Problem: fe.Problem}
	}
	return err
}
