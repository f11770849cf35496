// Package auth holds berth's secrets and what is derived from them: the
// admin token, the per-attempt callback tokens, the signature on
// outgoing job callbacks, and the key that seals jobs' secret_env.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File names in the data directory, each mode 0600.
const (
	AdminTokenFile = "admin.token" // the bearer token of the API's admin
	SigningKeyFile = "signing.key" // HMAC key of job callbacks; receivers verify with it
	secretFile     = "secret.key"  // derives per-attempt callback tokens
	joinKeyFile    = "join.key"    // derives the pools' join tokens, apart from the callback tokens
)

// Keys are the server's secrets.
type Keys struct {
	admin   string
	signing []byte
	secret  []byte
	join    []byte
	env     *EnvKey
}

// LoadOrCreate reads the secrets from dir, creating those that are missing
// with mode 0600.
func LoadOrCreate(dir string) (*Keys, error) {
	admin, err := loadOrCreate(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		return nil, err
	}
	signing, err := loadOrCreate(filepath.Join(dir, SigningKeyFile))
	if err != nil {
		return nil, err
	}
	secret, err := loadOrCreate(filepath.Join(dir, secretFile))
	if err != nil {
		return nil, err
	}
	join, err := loadOrCreate(filepath.Join(dir, joinKeyFile))
	if err != nil {
		return nil, err
	}
	env, err := loadEnvKey(dir)
	if err != nil {
		return nil, err
	}
	return &Keys{admin: admin, signing: []byte(signing), secret: []byte(secret), join: []byte(join), env: env}, nil
}

// EnvKey is the key that seals jobs' secret_env values in the store.
func (k *Keys) EnvKey() *EnvKey { return k.env }

// loadOrCreate returns the token in path, writing a new random one first if
// the file does not exist.
func loadOrCreate(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 32 {
			return "", fmt.Errorf("%s holds a token shorter than 32 characters", path)
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	tok := hex.EncodeToString(raw[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("sync %s: %w", path, err)
	}
	return tok, f.Close()
}

// IsAdmin reports whether token is the admin token, in constant time.
func (k *Keys) IsAdmin(token string) bool {
	return hmac.Equal([]byte(token), []byte(k.admin))
}

// CallbackToken is the token berth gives the container of one attempt so
// that it can report its job's result. It is good for that attempt only.
func (k *Keys) CallbackToken(attemptID string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("callback\x00" + attemptID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// VerifyCallback reports whether token is the callback token of attemptID.
func (k *Keys) VerifyCallback(attemptID, token string) bool {
	return hmac.Equal([]byte(token), []byte(k.CallbackToken(attemptID)))
}

// Sign returns the signature of a callback body: "sha256=" and the hex
// HMAC-SHA256 of body under the signing key (the contents of signing.key).
func (k *Keys) Sign(body []byte) string {
	m := hmac.New(sha256.New, k.signing)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
