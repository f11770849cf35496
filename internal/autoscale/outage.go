package autoscale

import "time"

// outageGap is how soon after the end of an avoidance a new refusal of
// the type still belongs to the same outage: the next launch attempt comes
// a round or two after the type stops being avoided.
const outageGap = time.Minute

// OutageLog learns how long one Spot type's capacity stays out once gone.
// An outage begins with a refusal (a launch refused for want of capacity,
// or an interruption notice) and lasts while refusals follow within
// outageGap of the end of the avoidance the last one started; it is taken
// to end when that avoidance does. The zero value is an empty log. It is
// pure: the caller passes the times.
type OutageLog struct {
	start, until time.Time // the current or last outage
	total        time.Duration
	n            int // outages that ended, in total
}

// Refused records that the type was refused at now and is avoided until
// until.
func (l *OutageLog) Refused(now, until time.Time) {
	if l.start.IsZero() || now.After(l.until.Add(outageGap)) {
		l.close()
		l.start = now
	}
	if until.After(l.until) {
		l.until = until
	}
}

// close adds the last outage to the total.
func (l *OutageLog) close() {
	if !l.start.IsZero() {
		l.total += l.until.Sub(l.start)
		l.n++
	}
	l.start, l.until = time.Time{}, time.Time{}
}

// Typical returns the mean length of the outages that ended by now (the
// current one counts once it is longer than that mean), or zero when
// there were none.
func (l *OutageLog) Typical(now time.Time) time.Duration {
	total, n := l.total, l.n
	if !l.start.IsZero() {
		end := l.until
		if now.Before(end) {
			end = now
		}
		cur := end.Sub(l.start)
		if now.After(l.until.Add(outageGap)) || (n > 0 && cur > total/time.Duration(n)) {
			total, n = total+cur, n+1
		}
	}
	if n == 0 {
		return 0
	}
	return total / time.Duration(n)
}

// Avoidance is the instance types a fleet keeps away from for a while —
// a launch was refused for want of capacity, or Spot capacity began to be
// reclaimed — and, for Spot types, how long their outages last. Types are
// keyed by pool and name. The zero value is ready to use; it is pure: the
// caller passes the times.
type Avoidance struct {
	until map[string]time.Time
	logs  map[string]*OutageLog
}

// Avoid avoids typ of pool until until, from a refusal at now; a Spot
// type's refusal also goes in its outage log.
func (a *Avoidance) Avoid(pool, typ string, spot bool, now, until time.Time) {
	key := pool + "/" + typ
	if a.until == nil {
		a.until, a.logs = map[string]time.Time{}, map[string]*OutageLog{}
	}
	a.until[key] = until
	if !spot {
		return
	}
	l := a.logs[key]
	if l == nil {
		l = &OutageLog{}
		a.logs[key] = l
	}
	l.Refused(now, until)
}

// Avoided reports whether typ of pool is avoided at now.
func (a *Avoidance) Avoided(pool, typ string, now time.Time) bool {
	until, ok := a.until[pool+"/"+typ]
	return ok && now.Before(until)
}

// Outage is how long capacity of typ of pool has typically stayed out once
// gone (OutageLog.Typical); zero when unknown.
func (a *Avoidance) Outage(pool, typ string, now time.Time) time.Duration {
	if l := a.logs[pool+"/"+typ]; l != nil {
		return l.Typical(now)
	}
	return 0
}

// Expire forgets avoidances that ended before now; outage logs stay.
func (a *Avoidance) Expire(now time.Time) {
	for k, until := range a.until {
		if now.After(until) {
			delete(a.until, k)
		}
	}
}
