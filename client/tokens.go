package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	berth "github.com/berth-run/berth"
)

// APIToken is a scoped API token as the API lists it, without its secret.
type APIToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"` // admin, submit or read
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// Token is the secret, given only when the token is created.
	Token string `json:"token,omitempty"`
}

// CreateToken creates an API token of role, good for expires when set.
// The answer holds its secret, this once.
func (c *Client) CreateToken(ctx context.Context, name, role string, expires *time.Duration) (APIToken, error) {
	body := struct {
		Name    string          `json:"name"`
		Role    string          `json:"role"`
		Expires *berth.Duration `json:"expires,omitempty"`
	}{Name: name, Role: role, Expires: optDuration(expires)}
	var t APIToken
	_, err := c.call(ctx, request{method: http.MethodPost, path: "/v1/tokens", body: body}, &t)
	return t, err
}

// Tokens lists the API tokens, newest first.
func (c *Client) Tokens(ctx context.Context) ([]APIToken, error) {
	var list struct {
		Tokens []APIToken `json:"tokens"`
	}
	_, err := c.call(ctx, request{method: http.MethodGet, path: "/v1/tokens"}, &list)
	return list.Tokens, err
}

// RevokeToken revokes an API token: it is refused from then on.
func (c *Client) RevokeToken(ctx context.Context, id string) (APIToken, error) {
	var t APIToken
	_, err := c.call(ctx, request{method: http.MethodDelete, path: "/v1/tokens/" + url.PathEscape(id)}, &t)
	return t, err
}
