package httpapi

import (
	"container/list"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// Connection timeouts of the servers berth runs.
const (
	// HeaderTimeout is how long a client may take to send a request's
	// headers, the first request of a connection included.
	HeaderTimeout = 10 * time.Second
	// IdleTimeout is how long a kept-alive connection may wait for its next
	// request.
	IdleTimeout = 90 * time.Second
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes = 64 << 10
)

// Guard bounds the connections a server holds open. At its bound, a new
// connection takes the place of the one that has waited longest without a
// request in progress (a kept-alive idle connection, or one whose request
// has not arrived); when every connection is busy, the new one is closed.
// So idle or silent connections, however many are opened, cannot keep a
// client with a request from being served.
type Guard struct {
	max int

	mu sync.Mutex // guards conns and idle
	// conns are the open connections, by the connection the listener
	// accepted.
	conns map[net.Conn]*connState
	// idle lists the connections without a request in progress, the one
	// idle longest first: taking a place at the bound costs the same
	// whatever the number of connections.
	idle list.List
}

type connState struct {
	conn net.Conn
	busy bool          // a request is being served
	elem *list.Element // its place in idle, nil while busy
}

// NewGuard returns a guard that holds at most max connections open.
func NewGuard(max int) *Guard {
	return &Guard{max: max, conns: make(map[net.Conn]*connState)}
}

// Open is how many connections are open.
func (g *Guard) Open() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Server returns an http.Server for h with berth's timeouts, whose
// connections g bounds; serve it on g.Listener.
func (g *Guard) Server(h http.Handler, tlsCfg *tls.Config) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: HeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ConnState:         g.connState,
	}
}

// Listener returns ln with g's bound on its connections.
func (g *Guard) Listener(ln net.Listener) net.Listener { return &guardedListener{Listener: ln, g: g} }

type guardedListener struct {
	net.Listener
	g *Guard
}

func (l *guardedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if gc := l.g.admit(c); gc != nil {
			return gc, nil
		}
		c.Close()
	}
}

// admit takes c in, making room if need be; nil when there is none.
func (g *Guard) admit(c net.Conn) net.Conn {
	g.mu.Lock()
	var victim net.Conn
	if len(g.conns) >= g.max {
		front := g.idle.Front()
		if front == nil {
			g.mu.Unlock()
			return nil
		}
		victim = front.Value.(*connState).conn
		g.drop(victim)
	}
	gc := &guardedConn{Conn: c, g: g}
	st := &connState{conn: gc}
	st.elem = g.idle.PushBack(st)
	g.conns[gc] = st
	g.mu.Unlock()
	if victim != nil {
		victim.Close()
	}
	return gc
}

// drop forgets c. g.mu is held.
func (g *Guard) drop(c net.Conn) {
	if st := g.conns[c]; st != nil {
		if st.elem != nil {
			g.idle.Remove(st.elem)
		}
		delete(g.conns, c)
	}
}

// connState follows each connection's state from the server.
func (g *Guard) connState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st := g.conns[c]
	if st == nil {
		return
	}
	switch state {
	case http.StateActive:
		st.busy = true
		if st.elem != nil {
			g.idle.Remove(st.elem)
			st.elem = nil
		}
	case http.StateIdle:
		st.busy = false
		if st.elem != nil {
			g.idle.Remove(st.elem)
		}
		st.elem = g.idle.PushBack(st)
	case http.StateHijacked, http.StateClosed:
		g.drop(c)
	}
}

// guardedConn leaves the guard's count when it closes.
type guardedConn struct {
	net.Conn
	g    *Guard
	once sync.Once
}

func (c *guardedConn) Close() error {
	c.once.Do(func() {
		c.g.mu.Lock()
		c.g.drop(c)
		c.g.mu.Unlock()
	})
	return c.Conn.Close()
}
