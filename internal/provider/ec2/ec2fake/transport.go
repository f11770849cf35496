package ec2fake

import (
	"net/http"

	"github.com/berth-run/berth/internal/awsfake"
)

// HTTPClient returns a client for the SDK to reach a fake over loopback
// with; see awsfake.HTTPClient, which it is.
func HTTPClient(base *http.Client) *http.Client { return awsfake.HTTPClient(base) }
