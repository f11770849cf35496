package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-run/berth/client"
)

// defaultAddr is where the CLI finds the API when BERTH_ADDR is unset, and
// where `berth server` listens by default.
const defaultAddr = "http://127.0.0.1:7070"

// tokenFile is the name of the admin token's file in the data directory.
const tokenFile = "admin.token"

// apiConfig says where the API is and how to authenticate to it.
type apiConfig struct {
	addr  string
	token string
}

// loadAPIConfig finds the API's address (BERTH_ADDR, else defaultAddr) and
// a token: BERTH_TOKEN, else, when the address is on this machine, the admin
// token the server keeps in its data directory.
func loadAPIConfig(getenv func(string) string) (apiConfig, error) {
	cfg := apiConfig{addr: getenv("BERTH_ADDR"), token: strings.TrimSpace(getenv("BERTH_TOKEN"))}
	if cfg.addr == "" {
		cfg.addr = defaultAddr
	}
	if cfg.token != "" {
		return cfg, nil
	}
	if !isLoopback(cfg.addr) {
		return cfg, fmt.Errorf("no API token for %s: set BERTH_TOKEN (the server's admin token is in %s in its data directory)", cfg.addr, tokenFile)
	}
	dir, err := dataDir(getenv)
	if err != nil {
		return cfg, fmt.Errorf("no API token: set BERTH_TOKEN, or BERTH_DATA to the server's data directory (%w)", err)
	}
	path := filepath.Join(dir, tokenFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return cfg, fmt.Errorf("no API token: set BERTH_TOKEN, or BERTH_DATA to the server's data directory (%s does not exist)", path)
	case err != nil:
		return cfg, fmt.Errorf("read API token: %w", err)
	}
	cfg.token = strings.TrimSpace(string(b))
	if cfg.token == "" {
		return cfg, fmt.Errorf("no API token: %s is empty; set BERTH_TOKEN", path)
	}
	return cfg, nil
}

// dataDir is berth's data directory: BERTH_DATA, else $XDG_DATA_HOME/berth,
// else ~/.local/share/berth. It is also the server's default --data.
func dataDir(getenv func(string) string) (string, error) {
	if d := getenv("BERTH_DATA"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "berth"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("neither BERTH_DATA, XDG_DATA_HOME nor HOME is set")
	}
	return filepath.Join(home, ".local", "share", "berth"), nil
}

// isLoopback reports whether addr names this machine by a loopback address
// or as localhost.
func isLoopback(addr string) bool {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newClient returns a client of the API that env points at. It verifies an
// https server by the system's roots and the CA certificates in
// BERTH_CA_FILE, and refuses plain HTTP to another host unless
// BERTH_ALLOW_HTTP=1: the token would cross the network in the clear.
func newClient(env *cliEnv) (*client.Client, error) {
	cfg, err := loadAPIConfig(env.getenv)
	if err != nil {
		return nil, err
	}
	if err := checkPlain(cfg.addr, env.getenv("BERTH_ALLOW_HTTP") == "1"); err != nil {
		return nil, fmt.Errorf("%w (BERTH_ALLOW_HTTP=1)", err)
	}
	hc, err := httpClient(env.getenv("BERTH_CA_FILE"))
	if err != nil {
		return nil, err
	}
	return client.New(cfg.addr, cfg.token, hc), nil
}
