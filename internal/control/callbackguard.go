package control

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// CallbackGuard keeps job callbacks away from the addresses a request
// from the server must not reach: loopback, link-local (the instance
// metadata service among them), unspecified addresses, and the server
// host's own, unless an allowed prefix covers them. It checks a URL's
// address when a job is submitted (a literal, or what its name resolves
// to then) and again on every connection the delivery makes, so that a
// name that resolves elsewhere later reaches nothing it should not.
type CallbackGuard struct {
	allow []netip.Prefix
	own   map[netip.Addr]bool // the server host's addresses
}

// NewCallbackGuard returns a guard that lets allow through.
func NewCallbackGuard(allow []netip.Prefix) *CallbackGuard {
	g := &CallbackGuard{allow: allow, own: map[netip.Addr]bool{}}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				g.own[p.Addr().Unmap()] = true
			}
		}
	}
	return g
}

// imdsV6 is the instance metadata service's IPv6 address on EC2.
var imdsV6 = netip.MustParseAddr("fd00:ec2::254")

// Check says why a callback may not reach addr, or returns nil.
func (g *CallbackGuard) Check(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, p := range g.allow {
		if p.Contains(addr) {
			return nil
		}
	}
	var what string
	switch {
	case addr.IsLoopback():
		what = "a loopback address"
	case addr.IsLinkLocalUnicast() || addr == imdsV6:
		what = "a link-local address (the instance metadata service is one)"
	case addr.IsUnspecified() || addr.IsMulticast():
		what = "not an address to call"
	case g.own[addr]:
		what = "an address of the server's own host"
	default:
		return nil
	}
	return fmt.Errorf("%s is %s; allow it with berth server --callback-allow", addr, what)
}

// CheckURL checks the address of a callback URL: a literal, or every
// address its host name resolves to now (a name that does not resolve is
// left for delivery to check).
func (g *CallbackGuard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		return g.Check(a)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil
	}
	for _, a := range ips {
		if err := g.Check(a); err != nil {
			return fmt.Errorf("%s resolves to %w", host, err)
		}
	}
	return nil
}

// Client returns the HTTP client that delivers callbacks: every connection
// is checked against g, redirects are not followed, and a delivery takes
// at most timeout.
func (g *CallbackGuard) Client(timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		return g.Check(ap.Addr())
	}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.Proxy = nil // a proxy would connect for it, unchecked
	return &http.Client{Timeout: timeout, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
