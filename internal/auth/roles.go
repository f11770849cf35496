package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Role is what an API token may do. Each role may do what the ones below
// it may.
type Role string

// The roles of API tokens, from the most to the least.
const (
	// RoleAdmin may do everything, as the admin token does: nodes, pools
	// and their join tokens, API tokens.
	RoleAdmin Role = "admin"
	// RoleSubmit may submit and cancel jobs and create and delete
	// schedules, and read what RoleRead reads.
	RoleSubmit Role = "submit"
	// RoleRead may read jobs, their logs, schedules, nodes and cost.
	RoleRead Role = "read"
)

// Roles lists the roles, from the most to the least.
var Roles = []Role{RoleAdmin, RoleSubmit, RoleRead}

func (r Role) rank() int {
	switch r {
	case RoleAdmin:
		return 3
	case RoleSubmit:
		return 2
	case RoleRead:
		return 1
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether a token of role r may do what need requires.
func (r Role) Allows(need Role) bool { return r.Valid() && r.rank() >= need.rank() }

const apiPrefix = "bat_"

// NewAPIToken returns a new random API token and the hash the server keeps
// of it; the token itself is shown once.
func NewAPIToken() (token, hash string) {
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	token = apiPrefix + hex.EncodeToString(raw[:])
	return token, HashAPIToken(token)
}

// IsAPIToken reports whether token looks like an API token (it may still
// be unknown).
func IsAPIToken(token string) bool { return strings.HasPrefix(token, apiPrefix) }

// HashAPIToken is the hash under which an API token is kept: hex SHA-256
// (the token is 256 random bits).
func HashAPIToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
