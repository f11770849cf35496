package control

import (
	"errors"
	"testing"
)

// TestLocalCallbackBases: the local node's containers call back on the
// server's base URL (the Docker bridge's listener, say), other nodes' on
// the URL they can reach; a server that offers callbacks but knows no
// such URL admits no remote agent.
func TestLocalCallbackBases(t *testing.T) {
	for _, tt := range []struct {
		name                string
		base, remote, local string
		set                 bool
		wantLocal, wantNode string
		admits              bool
	}{
		{"no remote address known", "http://172.17.0.1:7070", "", "node_local", true, "http://172.17.0.1:7070", "", false},
		{"an advertised address", "http://172.17.0.1:7070", "https://berth.example:7070", "node_local", true, "http://172.17.0.1:7070", "https://berth.example:7070", true},
		{"no callbacks at all", "", "", "", true, "", "", true},
		{"never set: one base for all", "http://10.0.0.1:7070", "", "", false, "http://10.0.0.1:7070", "http://10.0.0.1:7070", true},
	} {
		l := NewLocal(nil, nil, nil, nil, nil, tt.base)
		if tt.set {
			l.SetRemote(tt.remote, tt.local)
		}
		if got := l.callbackBase("node_local"); tt.local != "" && got != tt.wantLocal {
			t.Errorf("%s: the local node's base = %q, want %q", tt.name, got, tt.wantLocal)
		}
		if got := l.callbackBase("node_remote"); got != tt.wantNode {
			t.Errorf("%s: a remote node's base = %q, want %q", tt.name, got, tt.wantNode)
		}
		if err := l.AdmitsRemote(); (err == nil) != tt.admits || (err != nil && !errors.Is(err, errNoAdvertiseURL)) {
			t.Errorf("%s: AdmitsRemote = %v, want admits %v", tt.name, err, tt.admits)
		}
	}
}
