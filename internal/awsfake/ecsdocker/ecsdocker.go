// Package ecsdocker runs the containers of awsfake's ECS fake on a real
// Docker engine, so that a test of a Fargate runner sees real processes:
// their exit codes, out-of-memory kills, SIGTERM then SIGKILL, and their
// output copied to the Logs fake as the awslogs driver copies it. It is a
// package of its own so that awsfake, which many tests import, does not
// depend on the Docker client.
//
// Its containers carry the labels LabelTask and LabelContainer, never
// berth's own, so that a berth agent sharing the engine leaves them
// alone. Images are never pulled: an image missing from the engine fails
// the task with CannotPullContainerError, as an image missing from its
// registry does on Fargate.
package ecsdocker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-run/berth/internal/awsfake"
)

// The labels of the engine's containers.
const (
	LabelTask      = "awsfake.ecs.task"      // the task's ARN
	LabelContainer = "awsfake.ecs.container" // the container definition's name
)

// API is the part of the Engine API client an Engine uses;
// *client.Client has it.
type API interface {
	ImageInspect(ctx context.Context, ref string, options ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerWait(ctx context.Context, id string, options client.ContainerWaitOptions) client.ContainerWaitResult
	ContainerStop(ctx context.Context, id string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerKill(ctx context.Context, id string, options client.ContainerKillOptions) (client.ContainerKillResult, error)
	ContainerInspect(ctx context.Context, id string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerLogs(ctx context.Context, id string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ContainerRemove(ctx context.Context, id string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
}

var _ API = (*client.Client)(nil)

// Engine is an awsfake.Engine on a Docker engine.
type Engine struct{ api API }

var _ awsfake.Engine = (*Engine)(nil)

// New returns an Engine that runs containers through api.
func New(api API) *Engine { return &Engine{api: api} }

// Start implements awsfake.Engine.
func (e *Engine) Start(ctx context.Context, spec awsfake.ContainerSpec) (awsfake.Process, error) {
	if _, err := e.api.ImageInspect(ctx, spec.Image); err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, &awsfake.StartError{Reason: awsfake.PullErrorReason(spec.Image)}
		}
		return nil, fmt.Errorf("inspect image %s: %w", spec.Image, err)
	}
	res, err := e.api.ContainerCreate(ctx, createOptions(spec))
	if err != nil {
		return nil, fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	p := &process{api: e.api, id: res.ID, done: make(chan struct{}), logsDone: make(chan struct{})}
	// Waiting starts before the start, so that no exit is missed.
	wctx, cancel := context.WithCancel(context.Background())
	w := e.api.ContainerWait(wctx, res.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})
	if _, err := e.api.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		cancel()
		p.remove()
		return nil, &awsfake.StartError{Reason: "CannotStartContainerError: " + err.Error()}
	}
	go p.follow(spec.Log)
	go func() {
		defer cancel()
		select {
		case <-w.Result:
		case <-w.Error:
		}
		p.finish()
	}()
	return p, nil
}

// createOptions is the engine's description of a task's container: its
// memory a hard limit without swap, its CPU the task's.
func createOptions(spec awsfake.ContainerSpec) client.ContainerCreateOptions {
	env := make([]string, 0, len(spec.Env))
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		env = append(env, k+"="+spec.Env[k])
	}
	memory := int64(spec.MemoryMiB) << 20
	return client.ContainerCreateOptions{
		Config: &container.Config{
			Image:      spec.Image,
			Cmd:        spec.Command,
			Env:        env,
			Labels:     map[string]string{LabelTask: spec.Task, LabelContainer: spec.Name},
			StopSignal: "SIGTERM",
		},
		HostConfig: &container.HostConfig{
			Resources: container.Resources{
				Memory:     memory,
				MemorySwap: memory,
				NanoCPUs:   int64(spec.CPU) * 1e9 / 1024,
			},
		},
	}
}

// process is a started container.
type process struct {
	api      API
	id       string
	done     chan struct{} // closed when the container exited and is removed
	logsDone chan struct{} // closed when its output was copied

	// mu guards exit.
	mu   sync.Mutex
	exit awsfake.Exit
}

func (p *process) Stop(grace time.Duration) {
	secs := int((grace + time.Second - 1) / time.Second)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace+time.Minute)
		defer cancel()
		_, _ = p.api.ContainerStop(ctx, p.id, client.ContainerStopOptions{Timeout: &secs})
	}()
}

func (p *process) Kill() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = p.api.ContainerKill(ctx, p.id, client.ContainerKillOptions{Signal: "SIGKILL"})
}

func (p *process) Wait() awsfake.Exit {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// finish notes how the exited container ended, once its output is
// copied, and removes it.
func (p *process) finish() {
	defer close(p.done)
	<-p.logsDone
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := p.api.ContainerInspect(ctx, p.id, client.ContainerInspectOptions{})
	exit := awsfake.Exit{Code: 137}
	if err == nil && res.Container.State != nil {
		exit = awsfake.Exit{Code: res.Container.State.ExitCode, OOM: res.Container.State.OOMKilled}
	}
	p.mu.Lock()
	p.exit = exit
	p.mu.Unlock()
	p.remove()
}

func (p *process) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = p.api.ContainerRemove(ctx, p.id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
}

// follow copies the container's output to log, a line at a time, in the
// order the engine logged it, until the container exits.
func (p *process) follow(log func(awsfake.LogLine)) {
	defer close(p.logsDone)
	if log == nil {
		return
	}
	rc, err := p.api.ContainerLogs(context.Background(), p.id, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true,
	})
	if err != nil {
		return
	}
	defer rc.Close()
	_ = readFrames(rc, log)
}

// readFrames reads the engine's multiplexed log stream: frames of an
// 8-byte header (the stream, then the length, big-endian, in bytes 4-7)
// and a payload of one timestamped line.
func readFrames(r io.Reader, log func(awsfake.LogLine)) error {
	br := bufio.NewReader(r)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		payload := make([]byte, binary.BigEndian.Uint32(hdr[4:]))
		if _, err := io.ReadFull(br, payload); err != nil {
			return err
		}
		line := logLineOf(string(payload))
		line.Stderr = hdr[0] == 2
		log(line)
	}
}

// logLineOf reads one line of the engine's timestamped log: an RFC 3339
// time, a space, the text.
func logLineOf(s string) awsfake.LogLine {
	s = strings.TrimSuffix(s, "\n")
	ts, text, ok := strings.Cut(s, " ")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil {
		return awsfake.LogLine{Time: time.Now(), Text: s}
	}
	return awsfake.LogLine{Time: t, Text: text}
}
