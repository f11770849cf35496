package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestScopedTokens: each role may call its routes and no others; a revoked
// or expired token is refused; the list never shows a secret.
func TestScopedTokens(t *testing.T) {
	p := startPlane(t)
	create := func(body string) tokenCreated {
		t.Helper()
		code, b := send(t, p.srv.URL, p.admin, "POST", "/v1/tokens", body)
		var tc tokenCreated
		if code != http.StatusCreated || json.Unmarshal([]byte(b), &tc) != nil || !strings.HasPrefix(tc.Token, "bat_") {
			t.Fatalf("POST /v1/tokens %s = %d %s", body, code, b)
		}
		return tc
	}
	read := create(`{"name":"grafana","role":"read"}`)
	submit := create(`{"name":"ci","role":"submit","expires":"720h"}`)
	adm := create(`{"role":"admin"}`)
	job := `{"image":"busybox"}`
	tests := []struct {
		token, method, path, body string
		want                      int
	}{
		{read.Token, "GET", "/v1/jobs", "", 200},
		{read.Token, "GET", "/v1/nodes", "", 200},
		{read.Token, "GET", "/v1/cost", "", 200},
		{read.Token, "POST", "/v1/jobs", job, 403},
		{read.Token, "GET", "/v1/pools", "", 403}, // join tokens are secrets
		{read.Token, "GET", "/v1/tokens", "", 403},
		{submit.Token, "POST", "/v1/jobs", job, 201},
		{submit.Token, "GET", "/v1/jobs", "", 200},
		{submit.Token, "POST", "/v1/nodes/node_x/drain", "", 403},
		{submit.Token, "POST", "/v1/pools/default/rotate-token", "", 403},
		{submit.Token, "POST", "/v1/tokens", `{"role":"admin"}`, 403},
		{adm.Token, "GET", "/v1/pools", "", 200},
		{adm.Token, "GET", "/v1/tokens", "", 200},
		{"bat_" + strings.Repeat("0", 64), "GET", "/v1/jobs", "", 401},
		{read.Token + "x", "GET", "/v1/jobs", "", 401},
	}
	for _, tt := range tests {
		if code, b := send(t, p.srv.URL, tt.token, tt.method, tt.path, tt.body); code != tt.want {
			t.Errorf("%s %s with a %s token = %d %s, want %d", tt.method, tt.path, roleOf(tt.token, read, submit, adm), code, b, tt.want)
		}
	}
	if code, b := send(t, p.srv.URL, read.Token, "POST", "/v1/jobs", job); !strings.Contains(b, "role read may not POST /v1/jobs: it takes submit") {
		t.Errorf("a read token submitting = %d %s, want the role named", code, b)
	}

	code, b := send(t, p.srv.URL, p.admin, "GET", "/v1/tokens", "")
	if code != 200 || strings.Contains(b, read.Token) || strings.Contains(b, "bat_") || !strings.Contains(b, "grafana") {
		t.Errorf("GET /v1/tokens = %d %s, want the tokens without their secrets", code, b)
	}
	if code, b := send(t, p.srv.URL, p.admin, "DELETE", "/v1/tokens/"+read.ID, ""); code != 200 || !strings.Contains(b, "revoked_at") {
		t.Errorf("revoke = %d %s", code, b)
	}
	if code, b := send(t, p.srv.URL, read.Token, "GET", "/v1/jobs", ""); code != 401 || !strings.Contains(b, "revoked") {
		t.Errorf("a revoked token = %d %s, want 401 saying it was revoked", code, b)
	}
	if code, _ := send(t, p.srv.URL, p.admin, "DELETE", "/v1/tokens/tok_nobody", ""); code != 404 {
		t.Errorf("revoke an unknown token = %d, want 404", code)
	}

	short := create(`{"role":"read","expires":"1s"}`)
	if code, _ := send(t, p.srv.URL, short.Token, "GET", "/v1/jobs", ""); code != 200 {
		t.Errorf("a token before its expiry = %d", code)
	}
	time.Sleep(time.Until(*short.ExpiresAt) + 10*time.Millisecond)
	if code, b := send(t, p.srv.URL, short.Token, "GET", "/v1/jobs", ""); code != 401 || !strings.Contains(b, "expired at") {
		t.Errorf("an expired token = %d %s, want 401 saying it expired", code, b)
	}

	for _, bad := range []string{`{"role":"root"}`, `{"role":""}`, `{"role":"read","expires":"-1h"}`, `{"role":"read","name":"a\u0000b"}`, `{"role":"read","rol":"x"}`} {
		if code, b := send(t, p.srv.URL, p.admin, "POST", "/v1/tokens", bad); code != 400 {
			t.Errorf("POST /v1/tokens %s = %d %s, want 400", bad, code, b)
		}
	}
}

func roleOf(token string, read, submit, adm tokenCreated) string {
	switch token {
	case read.Token:
		return "read"
	case submit.Token:
		return "submit"
	case adm.Token:
		return "admin"
	}
	return "made-up"
}
