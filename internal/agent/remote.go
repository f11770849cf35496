package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/nodeapi"
)

// Remote is the agent's side of the protocol over HTTP: every call goes to
// the server under /v1/agent/ with the node's credential. The agent always
// calls; the server never dials the agent, so nodes work from private
// subnets and behind NAT.
type Remote struct {
	base  string // scheme://host[:port], no trailing slash
	token string // the node's credential
	hc    *http.Client
	// session names this agent process in every call, with its heartbeat
	// interval (see nodeapi.SessionHeader); empty names none.
	session   string
	heartbeat time.Duration
}

// callTimeout bounds a call that is not a long-poll (a long-poll gets its
// wait on top): a partitioned network must not hang the agent's heartbeats
// or reports.
const callTimeout = 15 * time.Second

var _ Server = (*Remote)(nil)

// ErrUnauthorized: the server refused the credential (or join token).
var ErrUnauthorized = errors.New("credential refused")

// ErrSessionConflict: another agent process acts for this node, alive; the
// server refuses this one (a copied data directory or a cloned disk).
var ErrSessionConflict = errors.New("another agent acts for this node")

// errForbidden: the credential may not do this (another node's attempt).
var errForbidden = errors.New("forbidden")

// NewRemote returns the protocol client of the server at base for the node
// whose credential is token. hc carries the TLS settings; it must have no
// overall timeout, since long-polls last up to nodeapi.MaxWait.
func NewRemote(base, token string, hc *http.Client) *Remote {
	return &Remote{base: strings.TrimRight(base, "/"), token: token, hc: hc}
}

// NewSession returns a new session id for this agent process.
func NewSession() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// WithSession returns r naming session, an agent process that heartbeats
// every heartbeat, in every call.
func (r *Remote) WithSession(session string, heartbeat time.Duration) *Remote {
	c := *r
	c.session, c.heartbeat = session, heartbeat
	return &c
}

// Join admits a new node to pool with the pool's join token, and returns
// the node and its credential.
func Join(ctx context.Context, base, joinToken, pool string, st nodeapi.Status, hc *http.Client) (nodeapi.JoinResponse, error) {
	r := NewRemote(base, joinToken, hc)
	var out nodeapi.JoinResponse
	err := r.call(ctx, http.MethodPost, "/v1/agent/join", nil, nodeapi.JoinRequest{Pool: pool, Status: st}, &out)
	if err != nil {
		return nodeapi.JoinResponse{}, fmt.Errorf("join pool %s: %w", pool, err)
	}
	return out, nil
}

// Register implements Server; nodeID is the credential's node.
func (r *Remote) Register(ctx context.Context, nodeID string, st nodeapi.Status) (berth.Node, error) {
	var n berth.Node
	err := r.call(ctx, http.MethodPut, "/v1/agent/node", nil, st, &n)
	return n, err
}

// Assignments implements Server.
func (r *Remote) Assignments(ctx context.Context, nodeID string, since uint64, wait time.Duration) ([]berth.Assignment, uint64, error) {
	q := url.Values{"since": {strconv.FormatUint(since, 10)}, "wait": {wait.String()}}
	var out nodeapi.Assignments
	ctx, cancel := context.WithTimeout(ctx, wait+callTimeout)
	defer cancel()
	if err := r.call(ctx, http.MethodGet, "/v1/agent/assignments", q, nil, &out); err != nil {
		return nil, since, err
	}
	return out.Assignments, out.Version, nil
}

// Started implements Server.
func (r *Remote) Started(ctx context.Context, attemptID, containerID string) error {
	return r.call(ctx, http.MethodPost, "/v1/agent/attempts/"+url.PathEscape(attemptID)+"/started", nil,
		nodeapi.Started{ContainerID: containerID}, nil)
}

// Finished implements Server.
func (r *Remote) Finished(ctx context.Context, attemptID string, out berth.Outcome) error {
	return r.call(ctx, http.MethodPost, "/v1/agent/attempts/"+url.PathEscape(attemptID)+"/finished", nil, out, nil)
}

// Notice implements Server.
func (r *Remote) Notice(ctx context.Context, nodeID string, n nodeapi.Notice) error {
	return r.call(ctx, http.MethodPost, "/v1/agent/notices", nil, n, nil)
}

// ShipLog writes a chunk of an attempt's output at offset in its log on the
// server.
func (r *Remote) ShipLog(ctx context.Context, attemptID string, offset int64, chunk []byte) (nodeapi.LogAck, error) {
	var ack nodeapi.LogAck
	q := url.Values{"offset": {strconv.FormatInt(offset, 10)}}
	err := r.send(ctx, http.MethodPost, "/v1/agent/attempts/"+url.PathEscape(attemptID)+"/logs", q,
		"application/octet-stream", bytes.NewReader(chunk), &ack)
	return ack, err
}

func (r *Remote) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	return r.send(ctx, method, path, q, "application/json", rd, out)
}

func (r *Remote) send(ctx context.Context, method, path string, q url.Values, ctype string, body io.Reader, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	u := r.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("User-Agent", "berth-agent")
	if r.session != "" {
		req.Header.Set(nodeapi.SessionHeader, r.session)
		req.Header.Set(nodeapi.HeartbeatHeader, r.heartbeat.String())
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, responseError(resp))
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// responseError turns an error answer into an error the agent branches on.
func responseError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var doc struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &doc) == nil && doc.Error.Code != "" {
		msg = doc.Error.Message
	}
	var sentinel error
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		sentinel = ErrUnauthorized
	case http.StatusForbidden:
		sentinel = errForbidden
	case http.StatusNotFound:
		sentinel = berth.ErrNotFound
	case http.StatusConflict:
		switch doc.Error.Code {
		case "stale":
			sentinel = berth.ErrStale
		case "session_conflict":
			sentinel = ErrSessionConflict
		default:
			sentinel = berth.ErrConflict
		}
	default:
		return fmt.Errorf("answered %s: %s", resp.Status, msg)
	}
	return fmt.Errorf("%s: %w", msg, sentinel)
}
