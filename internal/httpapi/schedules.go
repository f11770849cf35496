package httpapi

import (
	"fmt"
	"net/http"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/cron"
)

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) {
	var spec berth.ScheduleSpec
	if err := decode(w, r, &spec); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := spec.Validate(); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.checkPool(r.Context(), spec.Job, "job."); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.checkHolds(r.Context(), spec.Job, "job."); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.checkCallback(r.Context(), spec.Job.CallbackURL, "job.callback_url"); err != nil {
		s.fail(w, r, err)
		return
	}
	loc, _ := spec.Location() // Validate checked it
	expr, err := cron.Parse(spec.Cron, loc)
	if err != nil {
		s.fail(w, r, &berth.FieldError{Field: "cron", Problem: err.Error()})
		return
	}
	if spec.Concurrency == "" {
		spec.Concurrency = berth.Allow
	}
	if spec.TimeZone == "" {
		spec.TimeZone = "UTC"
	}
	spec.Job = spec.Job.WithDefaults()
	now := time.Now()
	sch, err := s.d.Store.CreateSchedule(r.Context(), spec, expr.Next(now), now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Changed("")
	w.Header().Set("Location", "/v1/schedules/"+sch.ID)
	writeJSON(w, http.StatusCreated, sch)
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	list, err := s.d.Store.Schedules(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []berth.Schedule{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedules": list})
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	sch, err := s.d.Store.Schedule(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, fmt.Errorf("schedule %s: %w", r.PathValue("id"), err))
		return
	}
	writeJSON(w, http.StatusOK, sch)
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	if err := s.d.Store.DeleteSchedule(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, fmt.Errorf("schedule %s: %w", r.PathValue("id"), err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
