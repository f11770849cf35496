package control

import (
	"errors"
	"testing"
	"time"

	berth "github.com/berth-run/berth"
)

// TestSessions: one session acts for a node; another is refused while the
// first is heard within three of its heartbeats, and takes over once it
// has been silent longer.
func TestSessions(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type call struct {
		session  string
		at       time.Duration
		every    time.Duration
		refused  bool
		takeover bool
	}
	tests := []struct {
		name  string
		calls []call
	}{
		{"one agent", []call{{"a", 0, time.Second, false, false}, {"a", 10 * time.Second, time.Second, false, false}}},
		{"a copy while the original heartbeats", []call{
			{"a", 0, time.Second, false, false},
			{"b", 500 * time.Millisecond, time.Second, true, false},
			{"a", 1 * time.Second, time.Second, false, false},
			{"b", 3900 * time.Millisecond, time.Second, true, false},
			{"a", 4 * time.Second, time.Second, false, false},
		}},
		{"a restart: the old session went silent", []call{
			{"a", 0, time.Second, false, false},
			{"b", 2 * time.Second, time.Second, true, false},
			{"b", 3*time.Second + time.Millisecond, time.Second, false, true},
			{"a", 4 * time.Second, time.Second, true, false}, // the old one, back, is refused now
		}},
		{"no interval named: 5 s assumed", []call{
			{"a", 0, 0, false, false},
			{"b", 14 * time.Second, 0, true, false},
			{"b", 15*time.Second + time.Millisecond, 0, false, true},
		}},
		{"no session named: let through", []call{
			{"a", 0, time.Second, false, false},
			{"", 100 * time.Millisecond, time.Second, false, false},
			{"b", 200 * time.Millisecond, time.Second, true, false},
		}},
	}
	for _, tt := range tests {
		s := NewSessions()
		for i, c := range tt.calls {
			takeover, err := s.Hear("node_1", c.session, c.every, t0.Add(c.at))
			var sc *SessionConflictError
			if refused := errors.As(err, &sc); refused != c.refused || takeover != c.takeover {
				t.Errorf("%s: call %d (%s at +%v) = takeover %v, %v; want refused %v, takeover %v",
					tt.name, i, c.session, c.at, takeover, err, c.refused, c.takeover)
			}
			if c.refused && !errors.Is(err, berth.ErrConflict) {
				t.Errorf("%s: call %d: %v is not a berth.ErrConflict", tt.name, i, err)
			}
		}
	}
}
