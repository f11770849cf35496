package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadAPIConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(path, token string) string {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(token), 0o600); err != nil {
			t.Fatal(err)
		}
		return filepath.Dir(path)
	}
	berthData := write(filepath.Join(dir, "data", "admin.token"), "tok-data\n")
	xdg := filepath.Dir(write(filepath.Join(dir, "xdg", "berth", "admin.token"), "tok-xdg"))
	home := filepath.Join(dir, "home")
	write(filepath.Join(home, ".local", "share", "berth", "admin.token"), "  tok-home  \n")
	empty := write(filepath.Join(dir, "empty", "admin.token"), "\n")

	tests := []struct {
		name     string
		vars     map[string]string
		addr     string
		token    string
		errHolds string
	}{
		{"defaults read the token under HOME", map[string]string{"HOME": home}, "http://127.0.0.1:7070", "tok-home", ""},
		{"BERTH_TOKEN wins", map[string]string{"BERTH_TOKEN": "tok-env", "BERTH_DATA": berthData}, "http://127.0.0.1:7070", "tok-env", ""},
		{"BERTH_DATA", map[string]string{"BERTH_DATA": berthData, "XDG_DATA_HOME": xdg, "HOME": home}, "http://127.0.0.1:7070", "tok-data", ""},
		{"XDG_DATA_HOME", map[string]string{"XDG_DATA_HOME": xdg, "HOME": home}, "http://127.0.0.1:7070", "tok-xdg", ""},
		{"localhost is loopback", map[string]string{"BERTH_ADDR": "http://localhost:9000", "HOME": home}, "http://localhost:9000", "tok-home", ""},
		{"IPv6 loopback", map[string]string{"BERTH_ADDR": "http://[::1]:7070", "HOME": home}, "http://[::1]:7070", "tok-home", ""},
		{"address without scheme", map[string]string{"BERTH_ADDR": "127.0.0.2:7070", "HOME": home}, "127.0.0.2:7070", "tok-home", ""},
		{"remote server needs BERTH_TOKEN", map[string]string{"BERTH_ADDR": "https://berth.example.com", "HOME": home}, "", "", "no API token for https://berth.example.com: set BERTH_TOKEN"},
		{"remote server with BERTH_TOKEN", map[string]string{"BERTH_ADDR": "https://berth.example.com", "BERTH_TOKEN": "t"}, "https://berth.example.com", "t", ""},
		{"no token file", map[string]string{"BERTH_DATA": filepath.Join(dir, "nowhere")}, "", "", "set BERTH_TOKEN, or BERTH_DATA to the server's data directory (" + filepath.Join(dir, "nowhere", "admin.token") + " does not exist)"},
		{"empty token file", map[string]string{"BERTH_DATA": empty}, "", "", "admin.token is empty; set BERTH_TOKEN"},
		{"nothing to go on", map[string]string{}, "", "", "neither BERTH_DATA, XDG_DATA_HOME nor HOME is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadAPIConfig(func(k string) string { return tt.vars[k] })
			if tt.errHolds != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHolds) {
					t.Fatalf("error = %v, want one holding %q", err, tt.errHolds)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadAPIConfig: %v", err)
			}
			if cfg.addr != tt.addr || cfg.token != tt.token {
				t.Errorf("config = %+v, want addr %q token %q", cfg, tt.addr, tt.token)
			}
		})
	}
}

// TestTokenReachesServer checks the whole path: a token found in the data
// directory is what the server sees, and a wrong one is reported.
func TestTokenReachesServer(t *testing.T) {
	f := newFakeAPI(t)
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "admin.token"), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := invocation{vars: map[string]string{"BERTH_ADDR": f.srv.URL, "BERTH_DATA": data}}
	in.run(t.Context(), "nodes").mustSucceed(t)
	in.vars["BERTH_TOKEN"] = "wrong"
	if r := in.run(t.Context(), "nodes"); r.code != 1 || r.stderr != "berth nodes: unknown token\n" {
		t.Errorf("wrong token: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestServerNotRunning(t *testing.T) {
	f := newFakeAPI(t)
	addr := f.srv.URL
	f.srv.Close()
	in := invocation{vars: map[string]string{"BERTH_ADDR": addr, "BERTH_TOKEN": testToken}}
	r := in.run(t.Context(), "jobs")
	if r.code != 1 || !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "is berth server running there?") {
		t.Errorf("exit %d, stderr %q; want a hint that the server is down", r.code, r.stderr)
	}
}
