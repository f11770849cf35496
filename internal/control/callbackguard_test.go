package control

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCallbackGuardCheck(t *testing.T) {
	g := NewCallbackGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", false},
		{"::1", false},
		{"169.254.169.254", false},
		{"fd00:ec2::254", false},
		{"fe80::1", false},
		{"0.0.0.0", false},
		{"::ffff:127.0.0.1", false},
		{"127.0.0.2", true}, // allowed
		{"10.1.2.3", true},
		{"192.168.1.10", true},
		{"93.184.216.34", true},
	} {
		err := g.Check(netip.MustParseAddr(tt.addr))
		if (err == nil) != tt.ok {
			t.Errorf("Check(%s) = %v, want allowed %v", tt.addr, err, tt.ok)
		}
	}
	for _, raw := range []string{"http://127.0.0.1:8080/x", "http://[::1]/x", "http://169.254.169.254/latest/meta-data/", "http://localhost:9/x"} {
		if err := g.CheckURL(context.Background(), raw); err == nil {
			t.Errorf("CheckURL(%s) = nil, want refused", raw)
		}
	}
	if err := g.CheckURL(context.Background(), "http://127.0.0.2:8080/x"); err != nil {
		t.Errorf("CheckURL of an allowed address = %v", err)
	}
}

// TestCallbackGuardClient: deliveries are refused at the connection to an
// address the guard refuses, whatever the URL's name, and redirects are not
// followed.
func TestCallbackGuardClient(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/target", http.StatusFound)
			return
		}
		hit = true
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	if _, err := NewCallbackGuard(nil).Client(time.Second).Post(url, "application/json", nil); err == nil || !strings.Contains(err.Error(), "loopback") || hit {
		t.Errorf("delivery to %s = %v (reached: %v), want refused at the connection", url, err, hit)
	}
	allowed := NewCallbackGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}).Client(time.Second)
	resp, err := allowed.Post(srv.URL+"/redirect", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hit {
		t.Errorf("a redirect was followed: %d, target reached %v", resp.StatusCode, hit)
	}
}
