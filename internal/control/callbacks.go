package control

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/store"
)

// Signer signs callback bodies (auth.Keys).
type Signer interface {
	Sign(body []byte) string
}

// Callback delivery: at least once, with capped exponential backoff.
const (
	callbackMaxTries   = 20
	callbackMaxBackoff = 10 * time.Minute
	callbackTimeout    = 10 * time.Second
	callbackParallel   = 8
)

// Callbacks is the loop that POSTs terminal jobs to their callback_url. The
// body is the job's JSON without its env or the credentials of its URLs
// (berth.Job.WithoutSecrets); redirects are not followed; the header X-Berth-Signature carries
// "sha256=" + hex(HMAC-SHA256(signing key, body)). Any 2xx answer delivers;
// anything else is retried with backoff, up to 20 tries.
type Callbacks struct {
	store  *store.Store
	signer Signer
	client *http.Client
	log    *slog.Logger
	wake   wakeup
}

// NewCallbacks returns the delivery loop. A nil client means one with a 10 s
// timeout.
func NewCallbacks(s *store.Store, signer Signer, client *http.Client, log *slog.Logger) *Callbacks {
	if client == nil {
		// A redirect is not followed: it could lead the signed body anywhere.
		client = &http.Client{Timeout: callbackTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return &Callbacks{store: s, signer: signer, client: client, log: log, wake: newWakeup()}
}

// Kick asks for a round now (a job turned terminal).
func (c *Callbacks) Kick() {
	c.wake.kick()
}

// Run delivers due callbacks until ctx ends.
func (c *Callbacks) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := c.Round(ctx, time.Now()); err != nil && ctx.Err() == nil {
			c.log.Error("callbacks round", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.wake:
		}
	}
}

// Round delivers the callbacks due at now, several at a time.
func (c *Callbacks) Round(ctx context.Context, now time.Time) error {
	due, err := c.store.DueCallbacks(ctx, now, 100)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, callbackParallel)
	var wg sync.WaitGroup
	for _, cb := range due {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c.deliver(ctx, cb)
		}()
	}
	wg.Wait()
	return nil
}

func (c *Callbacks) deliver(ctx context.Context, cb store.Callback) {
	err := c.post(ctx, cb)
	now := time.Now()
	if err == nil {
		if err := c.store.CallbackDelivered(ctx, cb.JobID, now); err != nil {
			c.log.Error("record callback delivered", "job", cb.JobID, "err", err)
		}
		return
	}
	tries := cb.Tries + 1
	var next time.Time
	if tries < callbackMaxTries {
		next = now.Add(min(time.Second<<min(tries, 20), callbackMaxBackoff))
	}
	c.log.Warn("callback not delivered", "job", cb.JobID, "url", berth.RedactURL(cb.URL), "try", tries, "err", err, "next", next)
	if err := c.store.CallbackFailed(ctx, cb.JobID, next, err.Error()); err != nil {
		c.log.Error("record callback failure", "job", cb.JobID, "err", err)
	}
}

func (c *Callbacks) post(ctx context.Context, cb store.Callback) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb.URL, bytes.NewReader(cb.Snapshot))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "berth")
	req.Header.Set("X-Berth-Job", cb.JobID)
	req.Header.Set("X-Berth-Signature", c.signer.Sign(cb.Snapshot))
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
