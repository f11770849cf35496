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
	"strconv"
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

// JoinToken is the token agents present to join pool while its join
// tokens are at generation gen: "bjt_", the pool's name, ".", the
// generation, "." and a MAC of both under the join key (apart from the
// key of callback tokens, so that rotating one never touches the other).
// Each pool has its own; a pool's token admits nodes to that pool only,
// and rotating the pool's tokens (a new generation) refuses the old ones.
// The name in the token lets the server check it before it reads anything
// else of a join.
func (k *Keys) JoinToken(pool string, gen int64) string {
	g := strconv.FormatInt(gen, 10)
	return joinPrefix + pool + "." + g + "." + k.joinMAC(pool, g)
}

func (k *Keys) joinMAC(pool, gen string) string {
	m := hmac.New(sha256.New, k.join)
	m.Write([]byte("join\x00" + pool + "\x00" + gen))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ParseJoin returns the pool and generation that token was made for, and
// false when it is no join token of this server. It compares in constant
// time; whether the generation is the pool's current one is the caller's
// to check.
func (k *Keys) ParseJoin(token string) (pool string, gen int64, ok bool) {
	rest, ok := strings.CutPrefix(token, joinPrefix)
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return "", 0, false
	}
	head, mac := rest[:i], rest[i+1:]
	j := strings.LastIndexByte(head, '.')
	if j < 0 {
		return "", 0, false
	}
	pool, g := head[:j], head[j+1:]
	gen, err := strconv.ParseInt(g, 10, 64)
	if err != nil || gen <= 0 || strconv.FormatInt(gen, 10) != g {
		return "", 0, false
	}
	if !hmac.Equal([]byte(mac), []byte(k.joinMAC(pool, g))) {
		return "", 0, false
	}
	return pool, gen, true
}

// WriteJoinToken writes DefaultPool's join token at generation gen to
// dir/join.token.
func (k *Keys) WriteJoinToken(dir string, gen int64) error {
	path := filepath.Join(dir, JoinTokenFile)
	want := k.JoinToken(DefaultPool, gen) + "\n"
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
