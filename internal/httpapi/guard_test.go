package httpapi

import (
	"net"
	"net/http"
	"testing"
)

// closeRecorder is a connection that notes when it is closed.
type closeRecorder struct {
	net.Conn
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestGuardClosesTheLongestIdle: at its bound, the guard closes the
// connection idle longest for a new one, never a busy one; with every
// connection busy, the new one is refused.
func TestGuardClosesTheLongestIdle(t *testing.T) {
	g := NewGuard(2)
	conn := func() (*closeRecorder, net.Conn) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		c := &closeRecorder{Conn: a}
		return c, g.admit(c)
	}
	c1, g1 := conn()
	c2, g2 := conn()
	g.connState(g1, http.StateActive) // c1 serves a request; c2 is idle
	c3, g3 := conn()
	if !c2.closed || c1.closed || g3 == nil {
		t.Fatalf("at the bound: c1 closed %v, c2 closed %v, c3 admitted %v; want c2, the idle one, closed", c1.closed, c2.closed, g3 != nil)
	}
	g.connState(g1, http.StateIdle) // now c3 has been idle longer than c1
	c4, g4 := conn()
	if !c3.closed || c1.closed || g4 == nil {
		t.Fatalf("c3 closed %v, c1 closed %v; want c3, idle longest, closed", c3.closed, c1.closed)
	}
	g.connState(g1, http.StateActive)
	g.connState(g4, http.StateActive)
	if c5, g5 := conn(); g5 != nil || c5.closed {
		t.Errorf("with every connection busy a new one was admitted (%v)", g5 != nil)
	}
	if c4.closed || c1.closed {
		t.Errorf("a busy connection was closed")
	}
	g2.Close() // already dropped: closing again changes nothing
	if n := g.Open(); n != 2 {
		t.Errorf("Open = %d, want 2", n)
	}
}
