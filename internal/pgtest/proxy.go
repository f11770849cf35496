package pgtest

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// Proxy stands between a client and the PostgreSQL server of a URL, on a
// loopback port, so that a test can take the database away (Cut) and give
// it back (Restore) while the client runs.
type Proxy struct {
	target  string // "unix" or "tcp" address of the server
	network string
	l       net.Listener

	// mu guards the fields below it.
	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

// NewProxy starts a proxy to the server of u and returns it with u
// rewritten to reach the server through it. It stops when t ends.
func NewProxy(t testing.TB, u string) (*Proxy, string) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	host, port := q.Get("host"), q.Get("port")
	if host == "" {
		host = p.Hostname()
	}
	if port == "" {
		port = p.Port()
	}
	if port == "" {
		port = "5432"
	}
	px := &Proxy{network: "tcp", target: net.JoinHostPort(host, port), conns: map[net.Conn]bool{}}
	if filepath.IsAbs(host) {
		px.network, px.target = "unix", filepath.Join(host, ".s.PGSQL."+port)
	}
	if px.l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	go px.serve()
	t.Cleanup(func() { px.l.Close(); px.Cut() })
	q.Del("host")
	q.Del("port")
	p.RawQuery = q.Encode()
	p.Host = px.l.Addr().String()
	return px, p.String()
}

// Cut closes every connection through the proxy and refuses new ones
// until Restore.
func (px *Proxy) Cut() {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.cut = true
	for c := range px.conns {
		c.Close()
	}
	clear(px.conns)
}

// Restore lets connections through again.
func (px *Proxy) Restore() {
	px.mu.Lock()
	defer px.mu.Unlock()
	px.cut = false
}

func (px *Proxy) serve() {
	for {
		c, err := px.l.Accept()
		if err != nil {
			return
		}
		go px.relay(c)
	}
}

// relay joins c to a new connection to the server, unless the proxy is
// cut.
func (px *Proxy) relay(c net.Conn) {
	px.mu.Lock()
	cut := px.cut
	px.mu.Unlock()
	if cut {
		c.Close()
		return
	}
	s, err := net.Dial(px.network, px.target)
	if err != nil {
		c.Close()
		return
	}
	px.mu.Lock()
	px.conns[c], px.conns[s] = true, true
	px.mu.Unlock()
	go func() { io.Copy(s, c); s.Close() }() //nolint:errcheck // either side closing ends both
	io.Copy(c, s)                            //nolint:errcheck // as above
	c.Close()
}

// String names the proxy's address, for failure messages.
func (px *Proxy) String() string {
	return fmt.Sprintf("proxy %s -> %s %s", px.l.Addr(), px.network, strconv.Quote(px.target))
}
