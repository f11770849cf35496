package agent

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// ProbeRunner runs a program of this host in a throwaway container started
// as the jobs' containers are (same network, no privileges), and returns
// its exit code and output. The Docker runner implements it.
type ProbeRunner interface {
	RunProbe(ctx context.Context, program string, args ...string) (code int, output []byte, err error)
}

// MetadataGuard keeps a node from running jobs while the jobs' containers
// can reach the instance metadata service, where the instance role's
// credentials are: before the node first takes work, the agent runs
// Program (the berth binary: `imds-probe ADDR`, ProbeCommand) in a
// container, and while the probe reaches the service, or cannot tell,
// the node is unhealthy with the reason in its jobs' waiting reasons.
type MetadataGuard struct {
	// Addr is the service's host:port; default DefaultMetadataAddr.
	Addr string
	// Program is the probe, a binary of this host that runs ProbeCommand.
	Program string
	Runner  ProbeRunner
	// Allow runs jobs even when containers reach the service
	// (--allow-container-imds): the agent only warns.
	Allow bool
	// Again is how often a node held back probes again, so that fixing
	// the instance's metadata options lets it work without a restart;
	// default 1m.
	Again time.Duration
	// Timeout bounds one probe, the probe image made and the container
	// run and removed; default 1m.
	Timeout time.Duration
}

func (g *MetadataGuard) addr() string {
	if g.Addr == "" {
		return DefaultMetadataAddr
	}
	return g.Addr
}

// metadataCheck is what the agent knows of its MetadataGuard's verdict.
type metadataCheck struct {
	// probing is held through a probe: one runs at a time, and a health
	// check that finds one running does not wait for it.
	probing sync.Mutex

	// mu guards passed, reason and at.
	mu     sync.Mutex
	passed bool      // the node may work: nothing to check again
	reason string    // why it may not, once a probe has said
	at     time.Time // of the last probe
}

// refusal is why the node may not work while the probe's verdict is not
// in: never healthy before it is.
func (c *metadataCheck) refusal(addr string) string {
	if c.reason != "" {
		return c.reason
	}
	return "checking whether containers on this host can reach the instance metadata service at " + addr
}

// metadataRefusal probes the metadata service from a container when the
// verdict is due and returns why the node may not take work ("" when it
// may).
func (a *Agent) metadataRefusal(ctx context.Context) string {
	g := a.cfg.ContainerIMDS
	if g == nil {
		return ""
	}
	c := &a.imdsCheck
	again := g.Again
	if again <= 0 {
		again = time.Minute
	}
	c.mu.Lock()
	passed, due, refusal := c.passed, c.at.IsZero() || time.Since(c.at) >= again, c.refusal(g.addr())
	c.mu.Unlock()
	switch {
	case passed:
		return ""
	case !due || !c.probing.TryLock():
		return refusal
	}
	defer c.probing.Unlock()
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	code, out, err := g.Runner.RunProbe(pctx, g.Program, ProbeCommand, g.addr())
	cancel()
	if ctx.Err() != nil {
		return refusal
	}
	reached, how := false, ""
	if err == nil {
		reached, how, err = parseVerdict(code, out)
	}
	passed, reason := a.judgeProbe(g, reached, how, err)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.passed, c.reason = time.Now(), passed, reason
	return reason
}

// judgeProbe says whether the node may work after a probe, and if not,
// why; it logs the verdict.
func (a *Agent) judgeProbe(g *MetadataGuard, reached bool, how string, err error) (passed bool, reason string) {
	switch {
	case err != nil && g.Allow:
		a.log.Warn("could not tell whether containers reach the instance metadata service; running jobs anyway (--allow-container-imds)",
			"addr", g.addr(), "err", err)
		return true, ""
	case err != nil:
		reason = fmt.Sprintf("cannot tell whether containers on this host can reach the instance metadata service at %s (%v); "+
			"it takes no job until it can, or start the agent with --allow-container-imds", g.addr(), err)
		a.log.Warn("node held back: " + reason)
		return false, reason
	case reached && g.Allow:
		a.log.Warn("containers on this host can reach the instance metadata service and its credentials; running jobs anyway (--allow-container-imds)",
			"addr", g.addr(), "probe", how)
		return true, ""
	case reached:
		reason = fmt.Sprintf("containers on this host can reach the instance metadata service at %s; set the IMDSv2 hop limit to 1 "+
			"(aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 1 --http-tokens required) "+
			"or start the agent with --allow-container-imds", g.addr())
		a.log.Error("node held back: "+reason, "probe", how)
		return false, reason
	}
	a.log.Info("containers on this host cannot reach the instance metadata service", "addr", g.addr(), "probe", how)
	return true, ""
}
