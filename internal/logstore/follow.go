package logstore

import "sync"

// followers wakes the readers that follow jobs' output (Read with Follow).
// Each followed job has one channel, closed and replaced whenever the
// job's output grows or the job, or one of its attempts, ends (Wake): its
// followers then read again. A follower waits on it in its own goroutine,
// and starts none. Only jobs being followed have an entry, dropped with
// their last follower, so memory grows with the jobs followed, not with
// those written, and a write to an unfollowed job costs a map lookup.
type followers struct {
	// mu guards jobs.
	mu   sync.Mutex
	jobs map[string]*followed
}

// followed is a job's entry: its channel and how many follow it.
type followed struct {
	changed chan struct{} // closed and replaced at each wake
	n       int
}

// join registers a follower of the job and returns the job's entry; the
// follower calls leave with it when it stops.
func (f *followers) join(jobID string) *followed {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jobs == nil {
		f.jobs = make(map[string]*followed)
	}
	j, ok := f.jobs[jobID]
	if !ok {
		j = &followed{changed: make(chan struct{})}
		f.jobs[jobID] = j
	}
	j.n++
	return j
}

// leave unregisters a follower of the job.
func (f *followers) leave(jobID string, j *followed) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j.n--
	if j.n == 0 && f.jobs[jobID] == j {
		delete(f.jobs, jobID)
	}
}

// changed returns the channel that the job's next wake closes. A follower
// takes it before it reads, so that a change made while it reads wakes
// it at once after.
func (f *followers) changed(j *followed) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return j.changed
}

// wake wakes the job's followers, if it has any.
func (f *followers) wake(jobID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j, ok := f.jobs[jobID]; ok {
		close(j.changed)
		j.changed = make(chan struct{})
	}
}

// count is how many jobs are followed.
func (f *followers) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.jobs)
}

// Wake tells the followers of the job's output to look again: call it once
// the job, or one of its attempts, has ended (the store says so), so that
// they see it and stop. Output written through the Store wakes them by
// itself.
func (s *Store) Wake(jobID string) { s.followers.wake(jobID) }
