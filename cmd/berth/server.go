package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/agent"
	"github.com/berth-run/berth/internal/auth"
	"github.com/berth-run/berth/internal/awssecret"
	"github.com/berth-run/berth/internal/config"
	"github.com/berth-run/berth/internal/control"
	"github.com/berth-run/berth/internal/datadir"
	"github.com/berth-run/berth/internal/deadline"
	"github.com/berth-run/berth/internal/fakehost"
	"github.com/berth-run/berth/internal/httpapi"
	"github.com/berth-run/berth/internal/logstore"
	"github.com/berth-run/berth/internal/metrics"
	"github.com/berth-run/berth/internal/provider/docker"
	"github.com/berth-run/berth/internal/store"
)

// DefaultListen is where berth server listens unless told otherwise; the
// CLI's defaultAddr points at it.
const DefaultListen = "127.0.0.1:7070"

// serverConfig is what `berth server` runs with.
type serverConfig struct {
	dataDir      string
	storeURL     string // --store; "": the data directory's berth.db
	listen       string
	localAgent   bool
	cpus         float64
	memoryMB     int64
	dockerHost   string
	advertiseURL string
	stopGrace    time.Duration
	leaseTTL     time.Duration
	tlsCert      string
	tlsKey       string
	allowHTTP    bool
	logLevel     string
	configFile   string
	cluster      string
	deadline     string // the deadline policy's name
	maxConns     int    // connections the API holds open at most
	joinRate     float64
	joinBurst    int
	// callbackAllow are the addresses job callbacks may reach though the
	// guard refuses them (loopback, link-local, the host's own).
	callbackAllow []netip.Prefix
	// agentBinaries are the berth executables for other platforms than
	// the server's, by "os/arch", for agents that install themselves.
	agentBinaries map[string]string

	retain       time.Duration // how long finished jobs are kept; control.Forever keeps them
	metricsToken string        // the bearer token /metrics wants; "" leaves it open
	// interruptionQueue is the SQS queue of EC2's interruption events
	// for every ec2 pool, besides the pools' own.
	interruptionQueue string
	// sqsIntake are the SQS queues of jobs (--sqs-intake), and intakes
	// their clients.
	sqsIntake []string
	intakes   []control.IntakeConfig
	// cloudWatchNamespace, when set, is where the fleet's figures go
	// every metricsPeriod; cloudWatch is built from them.
	cloudWatchNamespace string
	metricsPeriod       time.Duration
	cloudWatch          *control.CloudWatchConfig
}

func runServer(ctx context.Context, env *cliEnv, args []string) error {
	fs := newFlagSet(env, "server", "server [--data DIR] [--listen ADDR] [flags]")
	var cfg serverConfig
	defaultData, err := dataDir(env.getenv)
	if err != nil {
		defaultData = ".berth"
	}
	fs.StringVar(&cfg.dataDir, "data", defaultData, "`directory` of the database, logs and tokens (BERTH_DATA, else $XDG_DATA_HOME/berth, else ~/.local/share/berth)")
	fs.StringVar(&cfg.storeURL, "store", "", "`URL` of the database: sqlite:///path or postgres://user@host/db?sslmode=... (default: berth.db in the data directory)")
	fs.StringVar(&cfg.listen, "listen", DefaultListen, "address of the REST API")
	fs.BoolVar(&cfg.localAgent, "local-agent", true, "run jobs on the local Docker engine from this process")
	fs.Float64Var(&cfg.cpus, "cpus", 0, "vCPUs the local node offers (default: the engine's)")
	fs.Int64Var(&cfg.memoryMB, "memory-mb", 0, "memory the local node offers, in MB (default: the engine's)")
	fs.StringVar(&cfg.dockerHost, "docker-host", "", "Docker engine address (default: DOCKER_HOST or the local socket)")
	fs.StringVar(&cfg.advertiseURL, "advertise-url", "", "`URL` of this server that jobs' containers call back on; needed before remote agents may join a server that listens on loopback (default: the Docker bridge's address for the local engine, the listen address for other hosts)")
	fs.DurationVar(&cfg.stopGrace, "stop-grace", 10*time.Second, "time between SIGTERM and SIGKILL when berth stops a container")
	fs.DurationVar(&cfg.leaseTTL, "lease-ttl", 30*time.Second, "how long a node may go without a heartbeat before it is lost and its jobs re-queued")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "`file` of the API's TLS certificate (PEM); serves HTTPS")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "`file` of the TLS certificate's key (PEM)")
	fs.BoolVar(&cfg.allowHTTP, "allow-http", false, "serve plain HTTP on an address other hosts reach")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.deadline, "deadline-policy", "berth", "`policy` that runs jobs with a deadline on Spot or on-demand: berth, uniform_progress or greedy (see docs/deadline.md)")
	fs.Func("callback-allow", "let job callbacks reach this `CIDR` or address, though loopback, link-local or the server host's own (repeatable)", func(v string) error {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return fmt.Errorf("%q is neither a CIDR such as 10.0.0.0/8 nor an address", v)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.callbackAllow = append(cfg.callbackAllow, p.Masked())
		return nil
	})
	fs.Func("agent-binary", "hand this berth executable to agents of `os/arch=PATH`, such as linux/arm64=/opt/berth-arm64, beside the server's own (repeatable)", func(v string) error {
		platform, path, ok := strings.Cut(v, "=")
		if !ok || !regexp.MustCompile(`^[a-z0-9]+/[a-z0-9]+$`).MatchString(platform) || path == "" {
			return fmt.Errorf("%q is not os/arch=PATH such as linux/arm64=/opt/berth-arm64", v)
		}
		st, err := os.Stat(path)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file", path)
		}
		if cfg.agentBinaries == nil {
			cfg.agentBinaries = map[string]string{}
		}
		cfg.agentBinaries[platform] = path
		return nil
	})
	fs.Float64Var(&cfg.joinRate, "join-rate", 1, "joins one source address may make a second, after --join-burst (a fleet behind one NAT address joins at this rate)")
	fs.IntVar(&cfg.joinBurst, "join-burst", 30, "joins one source address may make at once")
	fs.IntVar(&cfg.maxConns, "max-connections", defaultMaxConns(), "connections the API holds open at most; past it, the longest idle one is closed (default: half the process's file limit, at most 4096; each open connection holds about 20 KB)")
	fs.StringVar(&cfg.cluster, "cluster", "berth", "`name` of this berth cluster, tagged on the cloud instances it launches: two servers in one account need two names")
	fs.StringVar(&cfg.configFile, "config", "", "`file` of the pools (berth.yaml, YAML or JSON; see docs/pools.md); default: the local engine alone")
	cfg.retain = control.DefaultRetain
	fs.Var(retainFlag{&cfg.retain}, "retain", "`duration` finished jobs are kept, with their attempts and logs, before they are deleted (their cost stays in berth cost), or forever")
	fs.StringVar(&cfg.metricsToken, "metrics-token", "", "bearer `token` that /metrics wants (default: /metrics is open to whoever reaches the API)")
	fs.StringVar(&cfg.interruptionQueue, "interruption-queue", "", "`URL` of the SQS queue that EventBridge feeds with EC2's interruption events, for every ec2 pool besides the pools' own interruption_queue (see docs/pools.md)")
	fs.Func("sqs-intake", "`URL` of an SQS queue whose messages are jobs, as POST /v1/jobs takes them (repeatable; see docs/intake.md)", func(v string) error {
		cfg.sqsIntake = append(cfg.sqsIntake, v)
		return nil
	})
	fs.StringVar(&cfg.cloudWatchNamespace, "cloudwatch-namespace", "", "CloudWatch `namespace` to publish each autoscaled pool's figures in, every --metrics-period, through the AWS SDK's default chain (see docs/pools.md); default: none")
	fs.DurationVar(&cfg.metricsPeriod, "metrics-period", time.Minute, "how often the figures go to CloudWatch; under 1m they are stored at high resolution")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	if cfg.joinRate <= 0 || cfg.joinBurst < 1 {
		return usageError(env, fs, "--join-rate and --join-burst must be positive")
	}
	if cfg.maxConns < 16 {
		return usageError(env, fs, "--max-connections: %d is too few: give at least 16", cfg.maxConns)
	}
	if !clusterNameRe.MatchString(cfg.cluster) {
		return usageError(env, fs, "--cluster %q: want lower-case letters, digits and -, at most 63", cfg.cluster)
	}
	if _, err := deadlinePolicy(cfg.deadline); err != nil {
		return usageError(env, fs, "--deadline-policy: %v", err)
	}
	if cfg.interruptionQueue != "" {
		if _, err := berth.ParseQueueURL(cfg.interruptionQueue); err != nil {
			return usageError(env, fs, "--interruption-queue %q is %v", cfg.interruptionQueue, err)
		}
	}
	if cfg.intakes, err = intakeQueues(ctx, cfg.sqsIntake); err != nil {
		return usageError(env, fs, "%v", err)
	}
	if cfg.cloudWatchNamespace != "" {
		if err := control.CheckNamespace(cfg.cloudWatchNamespace); err != nil {
			return usageError(env, fs, "--cloudwatch-namespace %q: %v", cfg.cloudWatchNamespace, err)
		}
	}
	if cfg.metricsPeriod < time.Second {
		return usageError(env, fs, "--metrics-period %s: give at least 1s", cfg.metricsPeriod)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %v", err)
	}
	log := slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: level}))
	pools := config.Default()
	if cfg.configFile != "" {
		if pools, err = config.Load(cfg.configFile); err != nil {
			return err
		}
	}
	fleet, err := buildFleet(ctx, pools, cfg.cluster, time.Now())
	if err != nil {
		return fmt.Errorf("config %s: %w", cfg.configFile, err)
	}
	if fleet.queues, err = interruptionQueues(ctx, pools.Pools, cfg.interruptionQueue); err != nil {
		if cfg.configFile == "" {
			return err
		}
		return fmt.Errorf("config %s: %w", cfg.configFile, err)
	}
	if cfg.cloudWatchNamespace != "" {
		if cfg.cloudWatch, err = cloudWatchConfig(ctx, cfg.cloudWatchNamespace, cfg.cluster, cfg.metricsPeriod); err != nil {
			return err
		}
	}
	return serve(ctx, cfg, fleet, log, env)
}

// serve wires the store, the loops, the API and the local agent, and runs
// them until ctx ends.
func serve(ctx context.Context, cfg serverConfig, fleetCfg fleetSetup, log *slog.Logger, env *cliEnv) error {
	datadir.PrivateFiles()
	data, err := datadir.Open(cfg.dataDir)
	if err != nil {
		return err
	}
	defer data.Close()
	tlsCfg, err := serverTLS(cfg.tlsCert, cfg.tlsKey)
	if err != nil {
		return err
	}
	if err := checkListen(cfg.listen, tlsCfg != nil, cfg.allowHTTP); err != nil {
		return err
	}
	keys, err := auth.LoadOrCreate(cfg.dataDir)
	if err != nil {
		return err
	}
	loc := cfg.storeURL
	if loc == "" {
		loc = filepath.Join(cfg.dataDir, "berth.db")
	}
	st, err := store.OpenWith(ctx, loc, store.Options{Secrets: keys.EnvKey()})
	if err != nil {
		return fmt.Errorf("--store: %w", err)
	}
	defer st.Close()
	joinGen, err := st.JoinGeneration(ctx, auth.DefaultPool)
	if err != nil {
		return err
	}
	if err := keys.WriteJoinToken(cfg.dataDir, joinGen.Generation); err != nil {
		return err
	}
	logs, err := logstore.New(filepath.Join(cfg.dataDir, "logs"), 0)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	policy, err := deadlinePolicy(cfg.deadline)
	if err != nil {
		return err
	}
	cb, err := startCallbackListener(cfg, ln.Addr(), tlsCfg != nil, log)
	if err != nil {
		return err
	}
	plane := control.NewPlane(control.PlaneConfig{
		Dispatch:           control.DispatchConfig{Deadlines: control.DeadlineConfig{Policy: policy}},
		Lease:              control.LeaseConfig{TTL: cfg.leaseTTL},
		Retention:          control.RetentionConfig{Retain: cfg.retain},
		Pools:              fleetCfg.pools,
		CallbackAllow:      cfg.callbackAllow,
		CallbackURL:        cb.url,
		InterruptionQueues: fleetCfg.queues,
		Intakes:            cfg.intakes,
		CloudWatch:         cfg.cloudWatch,
	}, st, keys, logs, log)
	rotated := func(pool string, gen int64) {
		if pool != auth.DefaultPool {
			return
		}
		if err := keys.WriteJoinToken(cfg.dataDir, gen); err != nil {
			log.Error("write the new join token", "err", err)
		}
	}
	api := httpapi.New(httpapi.Deps{Store: st, Keys: keys, Logs: logs, Log: log, Nodes: plane.Registry, Fleet: plane.Fleet, JoinTokenRotated: rotated,
		CallbackGuard: plane.CallbackGuard, AgentBinaries: &httpapi.AgentBinaries{Paths: cfg.agentBinaries}, Limits: httpapi.Limits{JoinRate: cfg.joinRate, JoinBurst: cfg.joinBurst}, Changed: plane.Changed,
		Intakes: plane.Intakes})
	plane.UseSubmitter(api)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	goRun := func(name string, run func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				log.Error(name+" stopped", "err", err)
				cancel()
			}
		}()
	}
	local := plane.Local
	secrets := awssecret.New() // the AWS configuration is loaded at the first reference
	localNode := ""
	if cfg.localAgent && fleetCfg.local != "" {
		if localNode, err = localNodeID(cfg.dataDir); err != nil {
			return err
		}
	}
	local.SetRemote(remoteCallbackURL(cfg.advertiseURL, ln.Addr(), tlsCfg != nil), localNode)
	api.SetAgents(local)
	mux := http.NewServeMux()
	prom := metrics.New(st, log)
	if err := prom.Register(plane.Fleet.Collector(), control.IntakeCollector(plane.Intakes)); err != nil {
		return err
	}
	if plane.CloudWatch != nil {
		if err := prom.Register(plane.CloudWatch.Collector()); err != nil {
			return err
		}
	}
	mux.Handle("GET /metrics", metrics.RequireToken(cfg.metricsToken, prom.Handler())) // Prometheus; open, like /healthz, without --metrics-token
	mux.Handle("/", api)
	guard := httpapi.NewGuard(cfg.maxConns)
	servers := []*http.Server{guard.Server(mux, tlsCfg)}
	goRun("api", serveOn(servers[0], guard.Listener(ln)))
	goRun("control plane", plane.Run)
	if len(fleetCfg.machines) > 0 {
		hosts := fakehost.New(fakehost.Config{Seed: uint64(time.Now().UnixNano()), Secrets: secrets}, fleetCfg.machines, local, plane.Registry, logs,
			log.With("component", "fake machines"))
		goRun("fake machines", hosts.Run)
	}
	if cb.ln != nil {
		cbConns := httpapi.NewGuard(cfg.maxConns)
		srv := cbConns.Server(api.CallbackOnly(), nil)
		servers = append(servers, srv)
		goRun("callback listener", serveOn(srv, cbConns.Listener(cb.ln)))
	}
	if cfg.localAgent && fleetCfg.local == "" {
		log.Info("no local pool in the configuration: the local engine runs no jobs")
	}
	if cfg.localAgent && fleetCfg.local != "" {
		dc, err := docker.Dial(cfg.dockerHost)
		if err != nil {
			return err
		}
		defer dc.Close()
		nodeID := localNode
		host, _ := os.Hostname()
		if err := plane.Registry.Ensure(ctx, nodeID, fleetCfg.local, host); err != nil {
			return err
		}
		ag := agent.New(agent.Config{Engine: dc.DaemonHost(), NodeID: nodeID, Name: host, CPU: cfg.cpus, MemoryMB: cfg.memoryMB, StopGrace: cfg.stopGrace, Secrets: secrets},
			local, docker.New(dc), logs, log.With("component", "agent"))
		goRun("agent", ag.Run)
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	fmt.Fprintf(env.stderr, "berth server listening on %s://%s (data %s; admin token in %s; join token in %s)\n",
		scheme, ln.Addr(), cfg.dataDir, filepath.Join(cfg.dataDir, auth.AdminTokenFile), filepath.Join(cfg.dataDir, auth.JoinTokenFile))
	<-ctx.Done()
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	for _, s := range servers {
		_ = s.Shutdown(shutdown)
	}
	wg.Wait()
	return nil
}

func serveOn(srv *http.Server, ln net.Listener) func(context.Context) error {
	return func(context.Context) error {
		serve := srv.Serve
		if srv.TLSConfig != nil {
			serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// callbackListener is where containers reach the API for their callbacks.
type callbackListener struct {
	url string
	ln  net.Listener // nil when the main listener is reachable already
}

// startCallbackListener finds the URL containers use for callbacks: the
// --advertise-url, or the main listener when it is not on loopback, or else
// a second listener on the Docker bridge's gateway address (same port if
// free) that serves only callbacks, in plain HTTP: the bridge does not leave
// the host, and each callback token is good for one attempt only. Remote
// agents' containers reach the server through --advertise-url.
func startCallbackListener(cfg serverConfig, main net.Addr, tlsOn bool, log *slog.Logger) (callbackListener, error) {
	if cfg.advertiseURL != "" {
		return callbackListener{url: cfg.advertiseURL}, nil
	}
	tcp, _ := main.(*net.TCPAddr)
	if tcp != nil && !tcp.IP.IsLoopback() && !tcp.IP.IsUnspecified() {
		scheme := "http://"
		if tlsOn {
			scheme = "https://"
		}
		return callbackListener{url: scheme + main.String()}, nil
	}
	gw := bridgeGateway()
	if gw == "" {
		if tcp != nil && tcp.IP.IsUnspecified() {
			log.Warn("no docker0 bridge found; jobs' callbacks use the host's first address", "port", tcp.Port)
		} else {
			log.Warn("no docker0 bridge found and the API listens on loopback: jobs cannot call back; set --advertise-url")
		}
		return callbackListener{}, nil
	}
	port := 0
	if tcp != nil {
		port = tcp.Port
	}
	if tcp != nil && tcp.IP.IsUnspecified() {
		scheme := "http://"
		if tlsOn {
			scheme = "https://"
		}
		return callbackListener{url: scheme + net.JoinHostPort(gw, strconv.Itoa(port))}, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(gw, strconv.Itoa(port)))
	if err != nil {
		ln, err = net.Listen("tcp", net.JoinHostPort(gw, "0"))
		if err != nil {
			return callbackListener{}, fmt.Errorf("listen for callbacks on %s: %w", gw, err)
		}
	}
	return callbackListener{url: "http://" + ln.Addr().String(), ln: ln}, nil
}

// remoteCallbackURL is where the containers of remote agents' nodes reach
// the API: the --advertise-url, or the main listener when other hosts can
// reach it; "" when the server knows no such address.
func remoteCallbackURL(advertise string, main net.Addr, tlsOn bool) string {
	if advertise != "" {
		return advertise
	}
	tcp, _ := main.(*net.TCPAddr)
	if tcp == nil || tcp.IP.IsLoopback() || tcp.IP.IsUnspecified() {
		return ""
	}
	if tlsOn {
		return "https://" + main.String()
	}
	return "http://" + main.String()
}

// localNodeID returns the id of this data directory's local node, made on
// first start and kept in <data>/node.id: containers carry it, so that
// servers sharing an engine never touch each other's.
func localNodeID(dir string) (string, error) {
	path := filepath.Join(dir, "node.id")
	b, err := os.ReadFile(path)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read node id: %w", err)
	}
	id := berth.NewID("node", time.Now())
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write node id: %w", err)
	}
	return id, nil
}

// defaultMaxConns is half the process's limit of open files, at most
// 4096: the rest is for the store, logs and the Docker engine, and each
// open connection holds about 20 KB of memory.
func defaultMaxConns() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return 1024
	}
	return int(max(min(lim.Cur/2, 4096), 16))
}

// bridgeGateway returns the IPv4 address of the docker0 bridge, or "".
func bridgeGateway() string {
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		return ""
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// deadlinePolicy returns the deadline policy called name.
func deadlinePolicy(name string) (deadline.Policy, error) {
	var names []string
	for _, p := range []deadline.Policy{deadline.Adaptive{}, deadline.UniformProgress{}, deadline.Greedy{}} {
		if p.Name() == name {
			return p, nil
		}
		names = append(names, p.Name())
	}
	return nil, fmt.Errorf("%q is not one of %s", name, strings.Join(names, ", "))
}

// clusterNameRe is what a cluster name may be: it is an AWS tag value and
// part of resource names.
var clusterNameRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
