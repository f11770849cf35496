// Package docker runs berth's containers on a Docker engine through the
// Engine API. It speaks API 1.41 (Docker 20.10) and later: the client
// negotiates the version with the engine on its first request.
//
// A Runner keeps no state of its own. Every container it creates carries the
// berth labels and a name derived from its attempt, so a new Runner on the
// same engine sees the containers an earlier one created. A job's own
// labels go under provider.LabelPrefix, where they cannot pass for
// berth's.
package docker

import (
	"context"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// API is the part of the Engine API client a Runner uses; *client.Client
// implements it.
type API interface {
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerWait(ctx context.Context, id string, options client.ContainerWaitOptions) client.ContainerWaitResult
	ContainerStop(ctx context.Context, id string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerLogs(ctx context.Context, id string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ImagePull(ctx context.Context, ref string, options client.ImagePullOptions) (client.ImagePullResponse, error)
	ImageInspect(ctx context.Context, ref string, options ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImageImport(ctx context.Context, source client.ImageImportSource, ref string, options client.ImageImportOptions) (client.ImageImportResult, error)
}

var _ API = (*client.Client)(nil)

// Runner runs containers on one Docker engine.
type Runner struct {
	api API
	// shim and warmDir are set by NewWarm: the static berth binary that
	// warm containers run, and the directory of their directories.
	shim    string
	warmDir string
}

var _ provider.Runner = (*Runner)(nil)

// New returns a Runner that drives the engine behind api.
func New(api API) *Runner {
	return &Runner{api: api}
}

// Dial returns an Engine API client for host ("unix:///var/run/docker.sock",
// "tcp://10.0.0.5:2375"); an empty host means DOCKER_HOST, or the default
// socket. The client negotiates the API version on its first request, down
// to 1.41 for Docker 20.10. The caller closes it.
func Dial(host string) (*client.Client, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker client for %q: %w", host, err)
	}
	return c, nil
}

// Info reports the engine's CPUs and memory.
func (r *Runner) Info(ctx context.Context) (provider.Capacity, error) {
	res, err := r.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return provider.Capacity{}, wrap("info", err)
	}
	return provider.Capacity{
		CPU:      float64(res.Info.NCPU),
		MemoryMB: res.Info.MemTotal >> 20,
		EngineID: res.Info.ID,
	}, nil
}

// Create creates c's container, or returns the one that exists for
// c.AttemptID. It pulls the image when the engine lacks it; an image that
// cannot be pulled is a *provider.StartError.
func (r *Runner) Create(ctx context.Context, c provider.Container) (string, error) {
	if c.AttemptID == "" {
		return "", fmt.Errorf("create container for job %s: empty attempt id", c.JobID)
	}
	// The container's name is the attempt's: the engine refuses a second
	// one (conflict), and then the existing container is the answer. No
	// lookup first: it would cost every start an engine round trip.
	opts := createOptions(c)
	res, err := r.api.ContainerCreate(ctx, opts)
	if isNotFound(err) {
		if err := r.pull(ctx, c.Image); err != nil {
			return "", err
		}
		res, err = r.api.ContainerCreate(ctx, opts)
	}
	if isConflict(err) {
		// Another Create for this attempt won the name.
		id, ferr := r.findAttempt(ctx, c.AttemptID)
		if ferr != nil || id != "" {
			return id, ferr
		}
	}
	if err != nil {
		if isNotFound(err) {
			return "", &provider.StartError{Reason: fmt.Sprintf("image %q not found: %v", c.Image, err)}
		}
		if isInvalid(err) {
			return "", &provider.StartError{Reason: fmt.Sprintf("create container for attempt %s: %v", c.AttemptID, err)}
		}
		return "", wrap("create container for attempt "+c.AttemptID, err)
	}
	return res.ID, nil
}

// findAttempt returns the id of the container of attempt, or "".
func (r *Runner) findAttempt(ctx context.Context, attempt string) (string, error) {
	res, err := r.api.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", provider.LabelAttempt+"="+attempt),
	})
	if err != nil {
		return "", wrap("find container of attempt "+attempt, err)
	}
	if len(res.Items) == 0 {
		return "", nil
	}
	return res.Items[0].ID, nil
}

// pull pulls image, draining the progress stream; the engine reports most
// failures inside the stream, not as the response's status.
func (r *Runner) pull(ctx context.Context, image string) error {
	notFound := func(err error) error {
		return &provider.StartError{Reason: fmt.Sprintf("image %q not found: %v", image, err)}
	}
	resp, err := r.api.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		if isUnavailable(err) || ctx.Err() != nil {
			return wrap("pull "+image, err)
		}
		return notFound(err)
	}
	defer resp.Close()
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return wrap("pull "+image, err)
		}
		if msg.Error != nil {
			return notFound(msg.Error)
		}
	}
	return nil
}

// containerName is the name given to an attempt's container, so that the
// engine itself refuses a second one; "" when the attempt id is not a valid
// container name.
func containerName(attempt string) string {
	if !validName.MatchString(attempt) {
		return ""
	}
	return "berth-" + attempt
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// createOptions is the engine's description of c. Besides c's limits,
// every container gets what Kubernetes and Nomad give theirs: a bound on
// its processes, so that a fork bomb exhausts its own limit and not the
// host's PIDs, and no-new-privileges, so that no setuid binary in the
// image gains privileges its process did not start with.
func createOptions(c provider.Container) client.ContainerCreateOptions {
	labels := make(map[string]string, len(c.Labels)+3)
	for k, v := range c.Labels {
		labels[provider.LabelPrefix+k] = v
	}
	labels[provider.LabelJob] = c.JobID
	labels[provider.LabelAttempt] = c.AttemptID
	labels[provider.LabelNode] = c.Node

	env := make([]string, 0, len(c.Env))
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		env = append(env, k+"="+c.Env[k])
	}
	memory := c.MemoryMB << 20
	pids := c.PIDs
	if pids <= 0 {
		pids = berth.DefaultPIDs
	}
	return client.ContainerCreateOptions{
		Name: containerName(c.AttemptID),
		Config: &container.Config{
			Image:      c.Image,
			Cmd:        c.Command,
			Env:        env,
			Labels:     labels,
			StopSignal: "SIGTERM",
		},
		HostConfig: &container.HostConfig{
			Resources: container.Resources{
				NanoCPUs:   int64(math.Round(c.CPU * 1e9)),
				Memory:     memory,
				MemorySwap: memory, // memory+swap = memory: no swap
				PidsLimit:  &pids,
			},
			SecurityOpt: []string{"no-new-privileges"},
		},
	}
}

// Start starts a created container; as the engine does, it runs an exited
// one again. A command the image lacks is a *provider.StartError.
func (r *Runner) Start(ctx context.Context, id string) error {
	_, err := r.api.ContainerStart(ctx, id, client.ContainerStartOptions{})
	if err == nil {
		return nil
	}
	if !isUnavailable(err) && (isInvalid(err) || isExecFailure(err)) {
		return &provider.StartError{Reason: fmt.Sprintf("start container %s: %v", shortID(id), err)}
	}
	return wrap("start container "+shortID(id), err)
}

// isExecFailure reports whether err is the runtime's refusal to run the
// command, which some engines report as an internal error.
func isExecFailure(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "OCI runtime") && strings.Contains(msg, "exec:") &&
		(strings.Contains(msg, "executable file not found") ||
			strings.Contains(msg, "no such file or directory") ||
			strings.Contains(msg, "permission denied"))
}

// Stop sends SIGTERM, and SIGKILL after grace, rounded up to whole seconds
// (the engine's unit). The engine waits for the container to exit.
func (r *Runner) Stop(ctx context.Context, id string, grace time.Duration) error {
	secs := int(max(0, (grace+time.Second-1)/time.Second))
	_, err := r.api.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	if err != nil {
		return wrap("stop container "+shortID(id), err)
	}
	return nil
}

// Remove removes a container, killing it first if it runs.
func (r *Runner) Remove(ctx context.Context, id string) error {
	_, err := r.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil {
		return wrap("remove container "+shortID(id), err)
	}
	return nil
}

// shortID is the 12-character form of a container id used in messages.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
