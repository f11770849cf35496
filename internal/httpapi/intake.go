package httpapi

import (
	"net/http"
	"strconv"

	berth "github.com/berth-run/berth"
)

// intakePage is the answer of GET /v1/intake.
type intakePage struct {
	// Queues are the intake queues the server reads, with their depth,
	// counters and problem.
	Queues []berth.IntakeQueue `json:"queues"`
	// Refused are the last messages that did not become jobs, newest
	// first.
	Refused []berth.IntakeRefusal `json:"refused"`
}

// listIntake answers GET /v1/intake[?queue=URL][&limit=N]: the intake
// queues and their last refused messages (limit, default 50, at most
// 1000).
func (s *Server) listIntake(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.fail(w, r, &berth.FieldError{Field: "limit", Problem: "must be a number from 1 to 1000"})
			return
		}
		limit = n
	}
	for k := range q {
		if k != "limit" && k != "queue" {
			s.fail(w, r, &berth.FieldError{Field: k, Problem: "is not a parameter of GET /v1/intake (queue, limit)"})
			return
		}
	}
	refused, err := s.d.Store.IntakeRefusals(r.Context(), q.Get("queue"), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := intakePage{Queues: []berth.IntakeQueue{}, Refused: refused}
	for _, in := range s.d.Intakes {
		page.Queues = append(page.Queues, in.Status())
	}
	writeJSON(w, http.StatusOK, page)
}
