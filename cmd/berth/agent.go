package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/awssecret"
	"github.com/berth-run/berth/internal/datadir"
	"github.com/berth-run/berth/internal/nodeapi"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/provider/docker"
)

// agentConfig is what `berth agent` runs with.
type agentConfig struct {
	server         string
	joinToken      string
	pool           string
	name           string
	cpus           float64
	memoryMB       int64
	dataDir        string
	dockerHost     string
	stopGrace      time.Duration
	interruptGrace time.Duration
	heartbeat      time.Duration
	fenceAfter     time.Duration
	pollWait       time.Duration
	imds           string
	noticeInterval time.Duration
	// allowIMDS runs jobs even where their containers reach the metadata
	// service; containerIMDS is the service's address as containers would
	// reach it ("": the host and port of imds).
	allowIMDS     bool
	containerIMDS string
	price         float64
	caFile        string
	allowHTTP     bool
	logLevel      string
	orphanAfter   string
	warm          bool
	warmMax       int
	warmTTL       time.Duration
}

// The agent's state files in its data directory, each mode 0600.
const (
	agentNodeFile  = "node.id"    // the id of the node this agent runs
	agentTokenFile = "node.token" // its credential
)

func runAgent(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "agent", "agent --server URL --join-token TOKEN [--pool NAME] [--name NAME] [--cpus N] [--memory-mb N] [flags]")
	var cfg agentConfig
	defaultData, err := agentDataDir(env.getenv)
	if err != nil {
		defaultData = ".berth-agent"
	}
	fs.StringVar(&cfg.server, "server", env.getenv("BERTH_SERVER"), "`URL` of the berth server (BERTH_SERVER)")
	fs.StringVar(&cfg.joinToken, "join-token", env.getenv("BERTH_JOIN_TOKEN"), "the pool's join `token`, needed to join (BERTH_JOIN_TOKEN; the default pool's is in the server's <data>/join.token, every pool's in berth pools)")
	fs.StringVar(&cfg.pool, "pool", auth.DefaultPool, "`name` of the pool to join")
	fs.StringVar(&cfg.name, "name", "", "the node's `name` (default: the instance id on EC2, else the host name)")
	fs.Float64Var(&cfg.cpus, "cpus", 0, "vCPUs the node offers (default: the engine's)")
	fs.Int64Var(&cfg.memoryMB, "memory-mb", 0, "memory the node offers, in MB (default: the engine's)")
	fs.StringVar(&cfg.dataDir, "data", defaultData, "`directory` of the node's id and credential (BERTH_AGENT_DATA, else $XDG_DATA_HOME/berth-agent, else ~/.local/share/berth-agent)")
	fs.StringVar(&cfg.dockerHost, "docker-host", "", "Docker engine address (default: DOCKER_HOST or the local socket)")
	fs.DurationVar(&cfg.stopGrace, "stop-grace", 10*time.Second, "time between SIGTERM and SIGKILL when berth stops a container (drains, cancels)")
	fs.DurationVar(&cfg.interruptGrace, "interruption-grace", berth.DefaultInterruptionGrace, "the grace instead once the host's Spot interruption notice came, cut short to end 5s before the reclaim (at most 2m; 0: --stop-grace)")
	fs.DurationVar(&cfg.heartbeat, "heartbeat", 5*time.Second, "how often the node heartbeats; keep it well under the server's --lease-ttl")
	fs.DurationVar(&cfg.fenceAfter, "fence-after", 20*time.Second, "kill this node's containers after this long without a heartbeat reaching the server; keep it under the server's --lease-ttl (0: never)")
	fs.DurationVar(&cfg.pollWait, "poll-wait", 30*time.Second, "longest long-poll for assignments")
	fs.StringVar(&cfg.imds, "imds", "auto", "instance metadata service: auto (EC2's, when it answers), off, or its `URL`")
	fs.DurationVar(&cfg.noticeInterval, "notice-interval", 2*time.Second, "how often the metadata service is asked for Spot notices")
	fs.BoolVar(&cfg.allowIMDS, "allow-container-imds", false, "run jobs even when their containers can reach the instance metadata service (and the instance role's credentials)")
	fs.Float64Var(&cfg.price, "price", 0, "the host's price per hour, for cost reports")
	fs.StringVar(&cfg.caFile, "ca-file", env.getenv("BERTH_CA_FILE"), "`file` of CA certificates (PEM) to verify the server by (BERTH_CA_FILE)")
	fs.BoolVar(&cfg.allowHTTP, "allow-http", false, "allow a plain-HTTP server URL on another host")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.orphanAfter, "orphan-after", "auto", "power the host off once the server has been unreachable this `long` and nothing runs: auto is 15m on a cloud instance (the metadata service names one) and never elsewhere; 0 is never")
	fs.BoolVar(&cfg.warm, "warm", true, "keep warm containers of the images run here lately, which start a job's process in milliseconds (docs/warm.md)")
	fs.IntVar(&cfg.warmMax, "warm-max", 4, "most warm containers on this node (0: none)")
	fs.DurationVar(&cfg.warmTTL, "warm-ttl", 10*time.Minute, "keep warm the images run here within this `long`; a warm container older than this is replaced")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	if cfg.warmMax < 0 || cfg.warmTTL <= 0 {
		return usageError(env, fs, "--warm-max %d --warm-ttl %s: want a count of at least 0 and a positive duration", cfg.warmMax, cfg.warmTTL)
	}
	cfg.containerIMDS = env.getenv("BERTH_CONTAINER_IMDS_ADDR") // for tests: a metadata service of their own
	if cfg.server == "" {
		return usageError(env, fs, "--server is required")
	}
	if cfg.interruptGrace < 0 || cfg.interruptGrace > berth.SpotNotice {
		return usageError(env, fs, "--interruption-grace %s: want between 0s and %s, the Spot notice", cfg.interruptGrace, berth.ShortDuration(berth.SpotNotice))
	}
	if cfg.stopGrace < 0 {
		return usageError(env, fs, "--stop-grace %s: must not be negative", cfg.stopGrace)
	}
	if !strings.Contains(cfg.server, "://") {
		cfg.server = "http://" + cfg.server
	}
	if err := checkPlain(cfg.server, cfg.allowHTTP); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %v", err)
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
	return runNodeAgent(ctx, cfg, log)
}

// agentDataDir is the agent's default data directory.
func agentDataDir(getenv func(string) string) (string, error) {
	if d := getenv("BERTH_AGENT_DATA"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "berth-agent"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("neither BERTH_AGENT_DATA, XDG_DATA_HOME nor HOME is set")
	}
	return filepath.Join(home, ".local", "share", "berth-agent"), nil
}

// runNodeAgent joins (or rejoins) the server and runs the agent until ctx
// ends.
func runNodeAgent(ctx context.Context, cfg agentConfig, log *slog.Logger) error {
	datadir.PrivateFiles()
	data, err := datadir.Open(cfg.dataDir)
	if err != nil {
		return err
	}
	defer data.Close()
	hc, err := httpClient(cfg.caFile)
	if err != nil {
		return err
	}
	dc, err := docker.Dial(cfg.dockerHost)
	if err != nil {
		return err
	}
	defer dc.Close()
	runner := docker.New(dc)

	imds, facts := hostFacts(ctx, cfg, log)
	guard, err := metadataGuard(cfg, facts, runner)
	if err != nil {
		return err
	}
	name := cfg.name
	if name == "" {
		name = facts.InstanceID
	}
	if name == "" {
		name, _ = os.Hostname()
	}
	st := nodeapi.Status{Name: name, CPU: cfg.cpus, MemoryMB: cfg.memoryMB, Facts: facts}
	session := agent.NewSession()
	nodeID, token, err := nodeIdentity(ctx, cfg, session, st, hc, runner, log)
	if err != nil {
		return err
	}
	orphan, err := orphanAfter(cfg.orphanAfter, facts)
	if err != nil {
		return err
	}
	remote := agent.NewRemote(cfg.server, token, hc).WithSession(session, cfg.heartbeat)
	ag := agent.New(agent.Config{
		Engine: dc.DaemonHost(), NodeID: nodeID, Name: name, CPU: cfg.cpus, MemoryMB: cfg.memoryMB, Facts: facts,
		StopGrace: cfg.stopGrace, InterruptionGrace: cfg.interruptGrace, HealthInterval: cfg.heartbeat, PollWait: cfg.pollWait, FenceAfter: cfg.fenceAfter,
		IMDS: imds, NoticeInterval: cfg.noticeInterval, Secrets: awssecret.New(), OrphanAfter: orphan, PowerOff: powerOff,
		ContainerIMDS: guard, Warm: warmConfig(cfg, dc, log),
	}, remote, runner, agent.NewShipper(ctx, remote, log), log)
	log.Info("berth agent running", "node", nodeID, "name", name, "server", cfg.server, "pool", cfg.pool)
	return ag.Run(ctx)
}

// warmConfig is the agent's warm pool: its shim is this binary, which
// must be statically linked; the pool is off, with a warning, when it is
// not.
func warmConfig(cfg agentConfig, dc docker.API, log *slog.Logger) agent.WarmConfig {
	if !cfg.warm || cfg.warmMax == 0 {
		return agent.WarmConfig{}
	}
	exe, err := os.Executable()
	if err == nil {
		var r *docker.Runner
		r, err = docker.NewWarm(dc, exe, filepath.Join(cfg.dataDir, "warm"))
		if err == nil {
			return agent.WarmConfig{Runner: r, Max: cfg.warmMax, TTL: cfg.warmTTL}
		}
	}
	log.Warn("no warm containers on this node", "err", err)
	return agent.WarmConfig{}
}

// hostFacts finds the metadata service, when there is one, and the host's
// facts.
func hostFacts(ctx context.Context, cfg agentConfig, log *slog.Logger) (*agent.IMDS, nodeapi.Facts) {
	facts := nodeapi.Facts{Price: cfg.price}
	endpoint := cfg.imds
	switch endpoint {
	case "off", "":
		return nil, facts
	case "auto":
		endpoint = agent.DefaultIMDS
	}
	imds := agent.NewIMDS(endpoint, nil)
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := imds.Probe(pctx); err != nil {
		if cfg.imds != "auto" {
			log.Warn("instance metadata service does not answer; watching it anyway", "endpoint", endpoint, "err", err)
			return imds, facts
		}
		log.Info("no instance metadata service: no Spot notices", "endpoint", endpoint)
		return nil, facts
	}
	f, err := imds.Facts(ctx)
	if err != nil {
		log.Warn("read host facts", "err", err)
	}
	f.Price = cfg.price
	return imds, f
}

// metadataGuard is the check that the jobs' containers cannot reach the
// instance metadata service, on a host whose facts came from one (nil
// elsewhere). The probe container runs this binary.
func metadataGuard(cfg agentConfig, facts nodeapi.Facts, runner *docker.Runner) (*agent.MetadataGuard, error) {
	if facts.InstanceID == "" {
		return nil, nil
	}
	addr := cfg.containerIMDS
	if addr == "" {
		endpoint := cfg.imds
		if endpoint == "auto" {
			endpoint = agent.DefaultIMDS
		}
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("--imds %q: want auto, off or a URL", cfg.imds)
		}
		addr = u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary for the metadata probe: %w", err)
	}
	return &agent.MetadataGuard{Addr: addr, Program: exe, Runner: runner, Allow: cfg.allowIMDS}, nil
}

// sessionPatience is how long a starting agent waits for another agent
// process acting for its node to go silent before it gives up: a restarted
// agent's old process is silent within three heartbeats, a copy's original
// never is.
const sessionPatience = 2 * time.Minute

// nodeIdentity returns the node id and credential kept in the data
// directory, after checking them with a heartbeat under session; or joins
// the pool with the join token when there are none or the server refuses
// them. The containers of a refused identity are removed: its jobs are the
// server's to run again. While another live agent acts for the node, it
// waits, and gives up after sessionPatience.
func nodeIdentity(ctx context.Context, cfg agentConfig, session string, st nodeapi.Status, hc *http.Client, runner provider.Runner, log *slog.Logger) (string, string, error) {
	idPath, tokPath := filepath.Join(cfg.dataDir, agentNodeFile), filepath.Join(cfg.dataDir, agentTokenFile)
	id, idErr := readSmall(idPath)
	tok, tokErr := readSmall(tokPath)
	if idErr == nil && tokErr == nil {
		var conflictSince time.Time
		for {
			_, err := agent.NewRemote(cfg.server, tok, hc).WithSession(session, cfg.heartbeat).Register(ctx, id, st)
			if err == nil {
				return id, tok, nil
			}
			if errors.Is(err, agent.ErrSessionConflict) {
				if conflictSince.IsZero() {
					conflictSince = time.Now()
					log.Warn("another agent acts for this node; waiting for it to go silent", "node", id, "err", err)
				}
				if time.Since(conflictSince) > sessionPatience {
					return "", "", fmt.Errorf("node %s is run by another live agent: is %s a copy of its data directory? "+
						"Give this agent a data directory of its own (--data) to join as a new node: %w", id, cfg.dataDir, err)
				}
				if !pause(ctx, time.Second) {
					return "", "", ctx.Err()
				}
				continue
			}
			if errors.Is(err, agent.ErrUnauthorized) {
				log.Warn("the server refuses this node's credential; joining again as a new node", "node", id)
				removeNodeContainers(ctx, runner, id, log)
				break
			}
			if ctx.Err() != nil || untrusted(err) {
				return "", "", err
			}
			log.Warn("reach the server", "server", cfg.server, "err", err)
			if !pause(ctx, time.Second) {
				return "", "", ctx.Err()
			}
		}
	} else if !errors.Is(idErr, fs.ErrNotExist) && idErr != nil {
		return "", "", idErr
	}
	if cfg.joinToken == "" {
		return "", "", errors.New("this node has not joined yet: give --join-token (berth pools shows each pool's)")
	}
	for {
		res, err := agent.Join(ctx, cfg.server, cfg.joinToken, cfg.pool, st, hc)
		if err == nil {
			if err := os.WriteFile(tokPath, []byte(res.Token+"\n"), 0o600); err != nil {
				return "", "", fmt.Errorf("save the node's credential: %w", err)
			}
			if err := os.WriteFile(idPath, []byte(res.Node.ID+"\n"), 0o600); err != nil {
				return "", "", fmt.Errorf("save the node's id: %w", err)
			}
			log.Info("joined", "node", res.Node.ID, "pool", res.Node.Pool)
			return res.Node.ID, res.Token, nil
		}
		if errors.Is(err, agent.ErrUnauthorized) || untrusted(err) || ctx.Err() != nil {
			return "", "", err
		}
		log.Warn("join", "server", cfg.server, "err", err)
		if !pause(ctx, time.Second) {
			return "", "", ctx.Err()
		}
	}
}

// untrusted reports whether err is the server's certificate failing
// verification: trying again will not help (give --ca-file).
func untrusted(err error) bool {
	var cve *tls.CertificateVerificationError
	return errors.As(err, &cve)
}

// removeNodeContainers removes every container of a node on the engine,
// its warm containers too.
func removeNodeContainers(ctx context.Context, runner provider.Runner, nodeID string, log *slog.Logger) {
	cs, err := runner.List(ctx)
	if err != nil {
		log.Warn("list containers", "err", err)
		return
	}
	var ids []string
	for _, c := range cs {
		if c.Node == nodeID {
			ids = append(ids, c.ID)
		}
	}
	if wr, ok := runner.(provider.WarmRunner); ok {
		ws, err := wr.ListWarm(ctx)
		if err != nil {
			log.Warn("list warm containers", "err", err)
		}
		for _, w := range ws {
			if w.Node == nodeID {
				ids = append(ids, w.ID)
			}
		}
	}
	for _, id := range ids {
		if err := runner.Remove(ctx, id); err != nil && !errors.Is(err, provider.ErrNotFound) {
			log.Warn("remove container", "container", id, "err", err)
		}
	}
}

// pause waits d or until ctx ends, and reports whether ctx is still live.
func pause(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func readSmall(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}

// defaultOrphanAfter is --orphan-after auto on a cloud instance.
const defaultOrphanAfter = 15 * time.Minute

// orphanAfter reads --orphan-after: auto is defaultOrphanAfter on a cloud
// instance (facts name one) and never elsewhere, so that a laptop or a
// host berth did not launch is never powered off.
func orphanAfter(v string, facts nodeapi.Facts) (time.Duration, error) {
	switch v {
	case "auto":
		if facts.InstanceID != "" {
			return defaultOrphanAfter, nil
		}
		return 0, nil
	case "0":
		return 0, nil
	}
	d, err := berth.ParseDuration(v)
	if err != nil || d < time.Minute {
		return 0, fmt.Errorf("--orphan-after %q: want auto, 0, or a duration of at least 1m such as 15m", v)
	}
	return d, nil
}

// powerOff shuts the host down; on EC2 the launch template's shutdown
// behaviour (terminate) then ends the instance.
func powerOff() error {
	if err := exec.Command("systemctl", "poweroff").Run(); err == nil {
		return nil
	}
	return exec.Command("shutdown", "-h", "now").Run()
}
