package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/store"
)

// nodeView is a node as the API shows it: its place in the schedule and
// what else berth knows of it.
type nodeView struct {
	berth.Node
	Facts         nodeapi.Facts      `json:"facts"`
	DrainDeadline *time.Time         `json:"drain_deadline,omitempty"`
	Notice        nodeapi.NoticeKind `json:"notice,omitempty"`
	NoticeAt      *time.Time         `json:"notice_at,omitempty"`
	// Drained: the node takes no new work, whether live or not; a lost
	// node comes back draining.
	Drained bool `json:"drained"`
	// Conflict is the last refusal of a second agent that presented the
	// node's credential.
	Conflict string `json:"conflict,omitempty"`
}

func viewNode(n store.NodeInfo) nodeView {
	return nodeView{Node: n.Node, Facts: n.Facts, DrainDeadline: n.DrainDeadline, Notice: n.Notice, NoticeAt: n.NoticeAt,
		Drained: n.Drained, Conflict: n.Conflict}
}

// deleteNode retires the node and revokes its credential.
func (s *Server) deleteNode(w http.ResponseWriter, r *http.Request) {
	n, err := s.d.Nodes.Delete(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Changed(n.ID)
	writeJSON(w, http.StatusOK, viewNode(n))
}

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	nodes, err := s.d.Nodes.Nodes(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	views := make([]nodeView, len(nodes))
	for i, n := range nodes {
		views[i] = viewNode(n)
	}
	writeJSON(w, http.StatusOK, map[string]any{"nodes": views})
}

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) {
	n, err := s.d.Nodes.Node(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewNode(n))
}

// drainRequest is the body of POST /v1/nodes/{id}/drain.
type drainRequest struct {
	// Deadline, when set, is how long running work may go on; what still
	// runs then is stopped and re-queued. "0s" stops it at once.
	Deadline *berth.Duration `json:"deadline,omitempty"`
}

func (s *Server) drainNode(w http.ResponseWriter, r *http.Request) {
	var req drainRequest
	if err := decodeOptional(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	var deadline *time.Time
	if req.Deadline != nil {
		if *req.Deadline < 0 {
			s.fail(w, r, &berth.FieldError{Field: "deadline", Problem: "must not be negative"})
			return
		}
		t := time.Now().Add(time.Duration(*req.Deadline))
		deadline = &t
	}
	n, err := s.d.Nodes.Drain(r.Context(), r.PathValue("id"), deadline, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewNode(n))
}

func (s *Server) undrainNode(w http.ResponseWriter, r *http.Request) {
	n, err := s.d.Nodes.Undrain(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewNode(n))
}

// The API's views of a pool are the domain's.
type (
	poolView      = berth.PoolStatus
	instanceView  = berth.PoolInstance
	autoscaleView = berth.PoolSignal
)

// pools sums the nodes by pool, the configured pools first, in order; the
// default pool is always there.
func (s *Server) pools(ctx context.Context) ([]*poolView, error) {
	nodes, err := s.d.Store.NodeInfos(ctx)
	if err != nil {
		return nil, err
	}
	var out []*poolView
	byName := map[string]*poolView{}
	add := func(p *poolView) {
		byName[p.Name] = p
		out = append(out, p)
	}
	if s.d.Fleet != nil {
		for _, st := range s.d.Fleet.Pools(time.Now()) {
			add(configuredPool(st))
		}
	}
	var others []*poolView
	for _, n := range nodes {
		p, ok := byName[n.Pool]
		if !ok {
			p = &poolView{Name: n.Pool}
			byName[n.Pool] = p
			others = append(others, p)
		}
		p.Nodes++
		if n.State == berth.NodeLost {
			continue
		}
		if n.State == berth.NodeReady {
			p.Ready++
		}
		p.CPU += n.CPU
		p.MemoryMB += n.MemoryMB
		p.UsedCPU += n.UsedCPU
		p.UsedMemoryMB += n.UsedMemoryMB
	}
	if byName[auth.DefaultPool] == nil {
		others = append(others, &poolView{Name: auth.DefaultPool})
	}
	slices.SortFunc(others, func(a, b *poolView) int { return strings.Compare(a.Name, b.Name) })
	out = append(out, others...)
	gens, err := s.d.Store.JoinGenerations(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range out {
		s.setJoinToken(p, gens[p.Name])
	}
	return out, nil
}

// setJoinToken gives p the join token of generation g (a pool never
// rotated has none stored: generation 1).
func (s *Server) setJoinToken(p *poolView, g store.JoinGeneration) {
	if g.Generation == 0 {
		g.Generation = 1
	}
	p.JoinToken = s.d.Keys.JoinToken(p.Name, g.Generation)
	p.JoinTokenExpiresAt = g.ExpiresAt
}

// rotateRequest is the body of POST /v1/pools/{name}/rotate-token.
type rotateRequest struct {
	// Expires, when set, is how long the new token admits nodes.
	Expires *berth.Duration `json:"expires,omitempty"`
}

// rotateJoinToken gives the pool a new join token: the old one is refused
// from then on; nodes that joined with it keep their credentials, and
// callback tokens are not touched.
func (s *Server) rotateJoinToken(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := validPool(name); err != nil {
		s.fail(w, r, err)
		return
	}
	var req rotateRequest
	if err := decodeOptional(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	now := time.Now()
	var expires *time.Time
	if req.Expires != nil {
		if *req.Expires <= 0 {
			s.fail(w, r, &berth.FieldError{Field: "expires", Problem: "must be positive, such as 24h"})
			return
		}
		t := now.Add(time.Duration(*req.Expires))
		expires = &t
	}
	g, err := s.d.Store.RotateJoinToken(r.Context(), name, expires, now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := &poolView{Name: name}
	s.setJoinToken(p, g)
	s.d.Log.Info("join token rotated", "pool", name, "generation", g.Generation, "expires", expires)
	if s.d.JoinTokenRotated != nil {
		s.d.JoinTokenRotated(name, g.Generation)
	}
	writeJSON(w, http.StatusOK, p)
}

// configuredPool is the view of a pool of the configuration.
func configuredPool(st control.PoolStatus) *poolView {
	spec := st.Spec
	p := &poolView{Name: spec.Name, Provider: spec.Provider, Spec: &spec, Window: st.Window, Offerings: st.Offerings, Problem: st.Problem}
	for _, in := range st.Instances {
		v := instanceView{ID: in.ID, InstanceType: in.InstanceType, Market: in.Market, Zone: in.Zone, State: string(in.State),
			Node: st.Nodes[in.ID], Job: in.Tags[provider.TagJob], LaunchedAt: in.LaunchedAt, Reclaimed: in.Reclaimed}
		if in.Interrupted() {
			t := in.InterruptAt
			v.InterruptAt = &t
		}
		if !in.TerminatedAt.IsZero() {
			t := in.TerminatedAt
			v.TerminatedAt = &t
		}
		p.Instances = append(p.Instances, v)
	}
	if m := st.Metric; m != nil {
		p.Autoscale = &autoscaleView{SchedulableLargest: m.Schedulable, ShapeCPU: m.ShapeCPU, ShapeMemoryMB: m.ShapeMemoryMB,
			Waiting: m.Waiting, Hosts: m.Hosts}
	}
	return p
}

func (s *Server) listPools(w http.ResponseWriter, r *http.Request) {
	pools, err := s.pools(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pools": pools})
}

// getPool answers any valid pool name, with or without nodes, so that the
// join token of a new pool can be read before its first node joins.
func (s *Server) getPool(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := validPool(name); err != nil {
		s.fail(w, r, err)
		return
	}
	pools, err := s.pools(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, p := range pools {
		if p.Name == name {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	g, err := s.d.Store.JoinGeneration(r.Context(), name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := &poolView{Name: name}
	s.setJoinToken(p, g)
	writeJSON(w, http.StatusOK, p)
}
