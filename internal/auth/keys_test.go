package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("admin.token mode = %v, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if k1.admin != k2.admin || !k2.IsAdmin(k1.admin) || k2.IsAdmin(k1.admin+"x") || k2.IsAdmin("") {
		t.Errorf("reloaded keys differ or admin check is wrong")
	}
	if k1.CallbackToken("att_1") != k2.CallbackToken("att_1") {
		t.Errorf("callback tokens differ across reloads")
	}
	if !k1.VerifyCallback("att_1", k1.CallbackToken("att_1")) || k1.VerifyCallback("att_2", k1.CallbackToken("att_1")) {
		t.Errorf("a callback token verifies for the wrong attempt")
	}
	key, _ := os.ReadFile(filepath.Join(dir, SigningKeyFile))
	m := hmac.New(sha256.New, []byte(strings.TrimSpace(string(key))))
	m.Write([]byte(`{"id":"job_1"}`))
	if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); k1.Sign([]byte(`{"id":"job_1"}`)) != want {
		t.Errorf("Sign() = %s, want %s (a receiver's HMAC with signing.key)", k1.Sign([]byte(`{"id":"job_1"}`)), want)
	}
}

func TestShortTokenRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, AdminTokenFile), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil {
		t.Errorf("LoadOrCreate with a 5-character admin token = nil error, want an error")
	}
}

func TestJoinAndNodeTokens(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.WriteJoinToken(dir, 1); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, JoinTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(b))
	spot2 := k.JoinToken("spot", 2)
	tests := []struct {
		token    string
		wantPool string
		wantGen  int64
		ok       bool
	}{
		{tok, DefaultPool, 1, true},
		{k.JoinToken("spot", 1), "spot", 1, true},
		{spot2, "spot", 2, true},
		{strings.Replace(spot2, "spot.2.", "spot.3.", 1), "", 0, false},  // another generation, same MAC
		{strings.Replace(spot2, "bjt_spot", "bjt_gpu", 1), "", 0, false}, // another pool, same MAC
		{strings.Replace(spot2, "spot.2.", "spot.02.", 1), "", 0, false}, // the same number, written otherwise
		{strings.Replace(spot2, "spot.2.", "spot.0.", 1), "", 0, false},  // no generation 0
		{"bjt_default", "", 0, false},
		{"", "", 0, false},
		{k.admin, "", 0, false},
		{k.CallbackToken("att_1"), "", 0, false},
	}
	for _, tt := range tests {
		pool, gen, ok := k.ParseJoin(tt.token)
		if pool != tt.wantPool || gen != tt.wantGen || ok != tt.ok {
			t.Errorf("ParseJoin(%q) = %q, %d, %v; want %q, %d, %v", tt.token, pool, gen, ok, tt.wantPool, tt.wantGen, tt.ok)
		}
	}
	other, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := other.ParseJoin(tok); ok {
		t.Errorf("another server's keys take this server's join token")
	}
	if k.IsAdmin(tok) {
		t.Errorf("the join token is accepted as the admin token")
	}
	n1, h1 := NewNodeToken()
	n2, h2 := NewNodeToken()
	if n1 == n2 || h1 == h2 || HashNodeToken(n1) != h1 || !IsNodeToken(n1) || IsNodeToken(tok) {
		t.Errorf("node tokens: %q %q hashes %q %q", n1, n2, h1, h2)
	}
}
