package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestAgentBinary: holders of a join token download the server's own
// executable for its platform, with its checksum; other platforms are a
// 404 that says how to provide them, and no token is a 401.
func TestAgentBinary(t *testing.T) {
	p := startPlane(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(want)
	wantSum := hex.EncodeToString(sum[:])
	get := func(method, token, query string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, p.srv.URL+"/v1/agent/binary"+query, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	join := p.keys.JoinToken("default", 1)
	own := "?os=" + runtime.GOOS + "&arch=" + runtime.GOARCH

	resp, body := get("GET", join, own)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Berth-Sha256") != wantSum {
		t.Fatalf("GET own platform: %d, sha256 %q; want 200 and %s", resp.StatusCode, resp.Header.Get("X-Berth-Sha256"), wantSum)
	}
	if got := sha256.Sum256(body); hex.EncodeToString(got[:]) != wantSum {
		t.Errorf("the body (%d bytes) is not the executable (%d bytes)", len(body), len(want))
	}
	if resp, body := get("HEAD", join, own); resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("X-Berth-Sha256") != wantSum {
		t.Errorf("HEAD: %d, %d bytes, sha256 %q; want 200, no body and the checksum", resp.StatusCode, len(body), resp.Header.Get("X-Berth-Sha256"))
	}
	if resp, _ := get("GET", join, own, "If-None-Match", `"`+wantSum+`"`); resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET with the checksum as If-None-Match: %d, want 304", resp.StatusCode)
	}
	for _, tt := range []struct {
		name, token, query string
		code               int
		field, says        string
	}{
		{"no token", "", own, 401, "", "join token"},
		{"a forged token", "bjt_default.1.forged", own, 401, "", "invalid join token"},
		{"the admin token", p.admin, own, 401, "", "invalid join token"},
		{"no arch", join, "?os=linux", 400, "arch", "arch is required"},
		{"a bad platform", join, "?os=linux&arch=x86_64!", 400, "arch", "is not an os/arch"},
		{"a platform the server lacks", join, "?os=linux&arch=riscv64", 404, "arch", "--agent-binary linux/riscv64=PATH"},
	} {
		resp, body := get("GET", tt.token, tt.query)
		var e struct {
			Error struct{ Field, Message string }
		}
		json.Unmarshal(body, &e)
		if resp.StatusCode != tt.code || e.Error.Field != tt.field || !strings.Contains(e.Error.Message, tt.says) {
			t.Errorf("%s: %d %s; want %d naming %q and saying %q", tt.name, resp.StatusCode, body, tt.code, tt.field, tt.says)
		}
	}
}
