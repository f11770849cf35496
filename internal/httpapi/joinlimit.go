package httpapi

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// joinLimiter bounds the joins one source address may attempt: a bucket
// of burst tokens per address, refilled at rate a second. A join that
// finds the bucket empty is answered 429 before anything else is done, so
// that no address can flood the node table or guess tokens quickly.
type joinLimiter struct {
	rate  float64
	burst float64

	mu sync.Mutex // guards buckets and swept
	// buckets are the addresses heard from lately.
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newJoinLimiter(rate float64, burst int) *joinLimiter {
	return &joinLimiter{rate: rate, burst: float64(burst), buckets: make(map[string]*bucket)}
}

// allow takes a token of addr's bucket at now, and reports whether there
// was one and, if not, how long until there is.
func (l *joinLimiter) allow(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	if now.Sub(l.swept) > full {
		// A bucket left alone for as long as it takes to fill is full: forget it.
		for a, b := range l.buckets {
			if now.Sub(b.at) > full {
				delete(l.buckets, a)
			}
		}
		l.swept = now
	}
	b := l.buckets[addr]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// limitJoins answers 429 with Retry-After when the request's source has
// joined too often.
func (s *Server) limitJoins(w http.ResponseWriter, r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ok, wait := s.joins.allow(host, time.Now())
	if ok {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
	writeError(w, http.StatusTooManyRequests, "too_many_joins",
		"too many joins from "+host+": try again in "+wait.Round(time.Second).String(), "")
	return false
}
