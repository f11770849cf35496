package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
)

// EnvKeyFile holds the AES-256 key, in hex, that seals jobs' secret_env
// values in the store. Without it the stored values cannot be read: back
// it up with the database.
const EnvKeyFile = "secret-env.key"

// EnvKey seals values with AES-256-GCM, each under a random 96-bit nonce
// and bound to additional data that the opener must give again (the
// store gives the job's id and the variable's name): a sealed value moved
// to another job or variable does not open.
type EnvKey struct {
	aead cipher.AEAD
}

// loadEnvKey reads the key in dir, creating it first (mode 0600) if it is
// missing.
func loadEnvKey(dir string) (*EnvKey, error) {
	path := filepath.Join(dir, EnvKeyFile)
	text, err := loadOrCreate(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(text)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s holds no 256-bit key in hex (64 hex digits)", path)
	}
	return NewEnvKey(key)
}

// NewEnvKey returns the sealer of a 32-byte key.
func NewEnvKey(key []byte) (*EnvKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret env key: want 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret env key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret env key: %w", err)
	}
	return &EnvKey{aead: aead}, nil
}

// Seal encrypts plain, bound to ad: nonce, then ciphertext and tag.
func (k *EnvKey) Seal(plain, ad []byte) ([]byte, error) {
	out := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return k.aead.Seal(out, out, plain, ad), nil
}

// errUnsealed is Open's error: the value was sealed under another key or
// other additional data, or changed since.
var errUnsealed = errors.New("does not open with this key: sealed under another key, for another job, or changed")

// Open decrypts what Seal made with the same ad.
func (k *EnvKey) Open(sealed, ad []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, errUnsealed
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], ad)
	if err != nil {
		return nil, errUnsealed
	}
	return plain, nil
}
