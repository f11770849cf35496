package store

// OnEnd sets fn, called after each commit that closed an attempt or ended
// a job, with the job's id: a follower of the job's output then looks
// again, and stops once the job has ended (logstore.Store.Wake). It covers
// every way a job ends: an attempt finished, lost with its node or its
// node retired, a cancel, a schedule's run replaced. Set it before the
// store is used; nil sets none.
func (s *Store) OnEnd(fn func(jobID string)) { s.onEnd = fn }

// ended tells the OnEnd hook about the jobs a committed change ended or
// closed attempts of.
func (s *Store) ended(jobIDs ...string) {
	if s.onEnd == nil {
		return
	}
	for _, id := range jobIDs {
		s.onEnd(id)
	}
}
