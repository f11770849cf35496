package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
)

// DefaultIMDS is where EC2 serves instance metadata.
const DefaultIMDS = "http://169.254.169.254"

// IMDS reads the EC2 instance metadata service, version 2: a session token
// first (PUT /latest/api/token), then each read with it.
type IMDS struct {
	endpoint string
	hc       *http.Client

	// mu guards token and expires.
	mu      sync.Mutex
	token   string
	expires time.Time
}

// tokenTTL is the life asked for each session token.
const tokenTTL = 6 * time.Hour

// errNoMetadata: the service has no such item (404): no notice.
var errNoMetadata = errors.New("no such metadata")

// NewIMDS returns a reader of the metadata service at endpoint
// (DefaultIMDS on EC2). A nil hc means one with a 2 s timeout.
func NewIMDS(endpoint string, hc *http.Client) *IMDS {
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Second}
	}
	return &IMDS{endpoint: strings.TrimRight(endpoint, "/"), hc: hc}
}

// Probe reports whether the service answers with a token.
func (m *IMDS) Probe(ctx context.Context) error {
	_, err := m.sessionToken(ctx, true)
	return err
}

func (m *IMDS) sessionToken(ctx context.Context, fresh bool) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !fresh && m.token != "" && time.Now().Before(m.expires) {
		return m.token, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, m.endpoint+"/latest/api/token", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", fmt.Sprint(int(tokenTTL.Seconds())))
	resp, err := m.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("metadata token: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", fmt.Errorf("metadata token: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("metadata token: answered %s", resp.Status)
	}
	m.token, m.expires = strings.TrimSpace(string(b)), time.Now().Add(tokenTTL-time.Minute)
	return m.token, nil
}

// get reads one metadata item, taking a new token once if the old one is
// refused.
func (m *IMDS) get(ctx context.Context, path string) ([]byte, error) {
	for try := 0; ; try++ {
		tok, err := m.sessionToken(ctx, try > 0)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.endpoint+"/latest/meta-data/"+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-aws-ec2-metadata-token", tok)
		resp, err := m.hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("metadata %s: %w", path, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		switch {
		case err != nil:
			return nil, fmt.Errorf("metadata %s: %w", path, err)
		case resp.StatusCode == http.StatusOK:
			return b, nil
		case resp.StatusCode == http.StatusNotFound:
			return nil, errNoMetadata
		case resp.StatusCode == http.StatusUnauthorized && try == 0:
			continue
		}
		return nil, fmt.Errorf("metadata %s: answered %s", path, resp.Status)
	}
}

// Facts reads the instance's id, type, zone and market.
func (m *IMDS) Facts(ctx context.Context) (nodeapi.Facts, error) {
	var f nodeapi.Facts
	for _, item := range []struct {
		path string
		dst  *string
	}{
		{"instance-id", &f.InstanceID},
		{"instance-type", &f.InstanceType},
		{"placement/availability-zone", &f.Zone},
		{"instance-life-cycle", &f.Market},
	} {
		b, err := m.get(ctx, item.path)
		if errors.Is(err, errNoMetadata) {
			continue
		}
		if err != nil {
			return f, err
		}
		*item.dst = strings.TrimSpace(string(b))
	}
	if f.Market == "normal" || f.Market == "scheduled" {
		f.Market = "on-demand"
	}
	return f, nil
}

// Notices reads the pending spot interruption and rebalance
// recommendation, if any.
func (m *IMDS) Notices(ctx context.Context) ([]nodeapi.Notice, error) {
	var out []nodeapi.Notice
	b, err := m.get(ctx, "spot/instance-action")
	switch {
	case err == nil:
		var doc struct {
			Action string    `json:"action"`
			Time   time.Time `json:"time"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("metadata spot/instance-action: %w", err)
		}
		out = append(out, nodeapi.Notice{Kind: nodeapi.SpotInterruption, Action: doc.Action, Time: &doc.Time})
	case !errors.Is(err, errNoMetadata):
		return nil, err
	}
	b, err = m.get(ctx, "events/recommendations/rebalance")
	switch {
	case err == nil:
		var doc struct {
			NoticeTime time.Time `json:"noticeTime"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("metadata events/recommendations/rebalance: %w", err)
		}
		out = append(out, nodeapi.Notice{Kind: nodeapi.Rebalance, Time: &doc.NoticeTime})
	case !errors.Is(err, errNoMetadata):
		return nil, err
	}
	return out, nil
}

// watchNotices polls the metadata service (or src) and reports each notice to the
// server once it is taken; a report that fails is made again at the next
// poll.
func (a *Agent) watchNotices(ctx context.Context, src NoticeSource) {
	reported := map[nodeapi.NoticeKind]bool{}
	for {
		ns, err := src.Notices(ctx)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("read instance metadata", "err", err)
		}
		for _, n := range ns {
			if reported[n.Kind] {
				continue
			}
			a.log.Warn("cloud notice", "kind", n.Kind, "action", n.Action, "time", n.Time)
			if n.Kind == nodeapi.SpotInterruption {
				at := time.Now().Add(berth.SpotNotice) // the notice's warning, when it gives no time
				if n.Time != nil {
					at = *n.Time
				}
				a.mu.Lock()
				a.reclaimAt = at
				a.mu.Unlock()
			}
			if err := a.server.Notice(ctx, a.cfg.NodeID, n); err != nil {
				if ctx.Err() == nil {
					a.log.Warn("report notice", "kind", n.Kind, "err", err)
				}
				continue
			}
			reported[n.Kind] = true
		}
		if !sleep(ctx, a.cfg.NoticeInterval) {
			return
		}
	}
}
