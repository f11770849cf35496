package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/nodeapi"
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
}

func viewNode(n store.NodeInfo) nodeView {
	return nodeView{Node: n.Node, Facts: n.Facts, DrainDeadline: n.DrainDeadline, Notice: n.Notice, NoticeAt: n.NoticeAt}
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
	n, err := s.d.Nodes.Drain(r.Context(), r.PathValue("id"), deadline)
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

// poolView is a pool as the API shows it: its nodes' totals and the token
// that admits nodes to it.
type poolView struct {
	Name         string  `json:"name"`
	Nodes        int     `json:"nodes"`
	Ready        int     `json:"ready"`
	CPU          float64 `json:"cpu"`
	MemoryMB     int64   `json:"memory_mb"`
	UsedCPU      float64 `json:"used_cpu"`
	UsedMemoryMB int64   `json:"used_memory_mb"`
	JoinToken    string  `json:"join_token"`
}

// pools sums the nodes by pool; the default pool is always there.
func (s *Server) pools(r *http.Request) (map[string]*poolView, error) {
	nodes, err := s.d.Store.NodeInfos(r.Context())
	if err != nil {
		return nil, err
	}
	pools := map[string]*poolView{auth.DefaultPool: {Name: auth.DefaultPool}}
	for _, n := range nodes {
		p, ok := pools[n.Pool]
		if !ok {
			p = &poolView{Name: n.Pool}
			pools[n.Pool] = p
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
	for _, p := range pools {
		p.JoinToken = s.d.Keys.JoinToken(p.Name)
	}
	return pools, nil
}

func (s *Server) listPools(w http.ResponseWriter, r *http.Request) {
	pools, err := s.pools(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]poolView, 0, len(pools))
	for _, p := range pools {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b poolView) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, map[string]any{"pools": out})
}

// getPool answers any valid pool name, with or without nodes, so that the
// join token of a new pool can be read before its first node joins.
func (s *Server) getPool(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := validPool(name); err != nil {
		s.fail(w, r, err)
		return
	}
	pools, err := s.pools(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, ok := pools[name]
	if !ok {
		p = &poolView{Name: name, JoinToken: s.d.Keys.JoinToken(name)}
	}
	writeJSON(w, http.StatusOK, p)
}
