package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// JoinTokenFile holds the join token of DefaultPool in the data directory,
// written at every start (mode 0600).
const JoinTokenFile = "join.token"

// DefaultPool is the pool an agent joins when it names none.
const DefaultPool = "default"

// Prefixes that tell berth's kinds of tokens apart at a glance.
const (
	joinPrefix = "bjt_"
	nodePrefix = "bnt_"
)

// JoinToken is the token agents present to join pool: "bjt_", the pool's
// name, "." and a MAC of the name under the server's secret. Each pool has
// its own; a pool's token admits nodes to that pool only. The name in the
// token lets the server check it before it reads anything else of a join.
func (k *Keys) JoinToken(pool string) string {
	return joinPrefix + pool + "." + k.joinMAC(pool)
}

func (k *Keys) joinMAC(pool string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("join\x00" + pool))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// JoinPool returns the pool that token admits nodes to, and false when it is
// no join token of this server. It compares in constant time.
func (k *Keys) JoinPool(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, joinPrefix)
	if !ok {
		return "", false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", false
	}
	pool, mac := rest[:i], rest[i+1:]
	if !hmac.Equal([]byte(mac), []byte(k.joinMAC(pool))) {
		return "", false
	}
	return pool, true
}

// VerifyJoin reports whether token is pool's join token, in constant time.
func (k *Keys) VerifyJoin(pool, token string) bool {
	p, ok := k.JoinPool(token)
	return ok && p == pool
}

// WriteJoinToken writes DefaultPool's join token to dir/join.token.
func (k *Keys) WriteJoinToken(dir string) error {
	path := filepath.Join(dir, JoinTokenFile)
	want := k.JoinToken(DefaultPool) + "\n"
	if b, err := os.ReadFile(path); err == nil && string(b) == want {
		return nil
	}
	if err := os.WriteFile(path, []byte(want), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// NewNodeToken returns a new random node credential and the hash the
// server keeps of it. The credential itself is shown to its agent once.
func NewNodeToken() (token, hash string) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	token = nodePrefix + hex.EncodeToString(raw[:])
	return token, HashNodeToken(token)
}

// HashNodeToken is the hash under which a node credential is stored and
// looked up: hex SHA-256. Credentials are 256 random bits, so a plain hash
// is enough.
func HashNodeToken(token string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return hex.EncodeToString(sum[:])
}

// IsNodeToken reports whether token looks like a node credential (it may
// still be unknown).
func IsNodeToken(token string) bool { return strings.HasPrefix(token, nodePrefix) }
