package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	berth "github.com/berth-run/berth"
	"github.com/berth-run/berth/internal/provider"
	"github.com/berth-run/berth/internal/shim"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

var _ provider.WarmRunner = (*Runner)(nil)

// warmReady bounds how long a new warm container's shim may take to
// listen.
const warmReady = 10 * time.Second

// NewWarm returns a Runner that also keeps warm containers: their
// entrypoint is shimProgram (the berth binary, which must be statically
// linked to run in any image), bind-mounted read-only, and each has a
// directory of its own under dir, bind-mounted, for its shim's socket and
// the record of its claim.
func NewWarm(api API, shimProgram, dir string) (*Runner, error) {
	real, err := filepath.EvalSymlinks(shimProgram)
	if err != nil {
		return nil, fmt.Errorf("warm containers: the shim: %w", err)
	}
	interp, _, err := elfNeeds(real)
	if err != nil {
		return nil, fmt.Errorf("warm containers: the shim %s: %w", real, err)
	}
	if interp != "" {
		return nil, fmt.Errorf("warm containers: the shim %s is dynamically linked (it needs %s), so it cannot run in any image: build berth with CGO_ENABLED=0", real, interp)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// A unix socket's address holds 107 bytes: the agent dials the shim
	// at dir/KEY/shim.sock.
	if n := len(filepath.Join(dir, "0123456789ab", shim.RunDir, shim.SocketName)); n > 107 {
		return nil, fmt.Errorf("warm containers: the directory %s is too long for the shims' sockets (%d bytes, at most 107)", dir, n)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("warm containers: %w", err)
	}
	return &Runner{api: api, shim: real, warmDir: dir}, nil
}

// ImageID returns the id of the image the engine has under image, pulling
// it when it has none.
func (r *Runner) ImageID(ctx context.Context, image string) (string, error) {
	res, err := r.imageInspect(ctx, image)
	if err != nil {
		return "", err
	}
	return res.ID, nil
}

func (r *Runner) imageInspect(ctx context.Context, image string) (client.ImageInspectResult, error) {
	res, err := r.api.ImageInspect(ctx, image)
	if isNotFound(err) {
		if err := r.pull(ctx, image); err != nil {
			return res, err
		}
		res, err = r.api.ImageInspect(ctx, image)
	}
	if isNotFound(err) {
		return res, &provider.StartError{Reason: fmt.Sprintf("image %q not found: %v", image, err)}
	}
	if err != nil {
		return res, wrap("inspect image "+image, err)
	}
	return res, nil
}

// CreateWarm creates and starts a warm container of image for node and
// returns it once its shim listens.
func (r *Runner) CreateWarm(ctx context.Context, node, image string, shape provider.Shape) (provider.Warm, error) {
	if r.shim == "" {
		return provider.Warm{}, errors.New("warm containers are not enabled on this runner")
	}
	img, err := r.imageInspect(ctx, image)
	if err != nil {
		return provider.Warm{}, err
	}
	shape.PIDs = pidsOf(shape.PIDs)
	spec := shim.Spec{ImageID: img.ID, CPU: shape.CPU, MemoryMB: shape.MemoryMB, PIDs: shape.PIDs}
	if img.Config != nil {
		spec.Entrypoint, spec.Cmd = img.Config.Entrypoint, img.Config.Cmd
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	key := hex.EncodeToString(b[:])
	dir := filepath.Join(r.warmDir, key)
	run := filepath.Join(dir, shim.RunDir)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return provider.Warm{}, fmt.Errorf("warm container directory: %w", err)
	}
	// Whatever user the image runs as listens in run; the directory
	// above it, with the claim's record, is the agent's alone.
	if err := os.Mkdir(run, 0o777); err != nil {
		os.RemoveAll(dir)
		return provider.Warm{}, fmt.Errorf("warm container directory: %w", err)
	}
	if err := os.Chmod(run, 0o777); err != nil {
		os.RemoveAll(dir)
		return provider.Warm{}, fmt.Errorf("warm container directory: %w", err)
	}
	memory := shape.MemoryMB << 20
	pids := shape.PIDs
	res, err := r.api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: "berth-warm-" + key,
		Config: &container.Config{
			Image:      img.ID,
			Entrypoint: []string{shim.Program, shim.Command},
			Cmd:        []string{spec.Encode()},
			Labels: map[string]string{
				provider.LabelWarm: image, provider.LabelWarmShape: shapeString(shape),
				provider.LabelWarmDir: dir, provider.LabelNode: node,
			},
			StopSignal: "SIGTERM",
		},
		HostConfig: &container.HostConfig{
			Resources: container.Resources{
				NanoCPUs: int64(math.Round(shape.CPU * 1e9)), Memory: memory, MemorySwap: memory, PidsLimit: &pids,
			},
			SecurityOpt: []string{"no-new-privileges"},
			Mounts: []mount.Mount{
				{Type: mount.TypeBind, Source: r.shim, Target: shim.Program, ReadOnly: true},
				{Type: mount.TypeBind, Source: run, Target: shim.Dir},
			},
		},
	})
	if err != nil {
		os.RemoveAll(dir)
		return provider.Warm{}, wrap("create warm container of "+image, err)
	}
	w := provider.Warm{ID: res.ID, Node: node, Image: image, ImageID: img.ID, Shape: shape, Created: time.Now(), State: provider.WarmIdle, Dir: dir}
	if err := r.startWarm(ctx, w); err != nil {
		_, _ = r.api.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true})
		os.RemoveAll(dir)
		return provider.Warm{}, err
	}
	return w, nil
}

// startWarm starts w and waits until its shim listens.
func (r *Runner) startWarm(ctx context.Context, w provider.Warm) error {
	if err := r.Start(ctx, w.ID); err != nil {
		return fmt.Errorf("warm container of %s: %w", w.Image, err)
	}
	sock := filepath.Join(w.Dir, shim.RunDir, shim.SocketName)
	deadline := time.Now().Add(warmReady)
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if i%50 == 49 {
			if st, err := r.Inspect(ctx, w.ID); err == nil && st.State == provider.Exited {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	out, _ := r.output(context.WithoutCancel(ctx), w.ID)
	return fmt.Errorf("warm container of %s: its shim did not listen within %s: %q", w.Image, warmReady, strings.TrimSpace(string(out)))
}

// ListWarm returns the engine's warm containers, and removes the
// directories under its own that no container names any more.
func (r *Runner) ListWarm(ctx context.Context) ([]provider.Warm, error) {
	res, err := r.api.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", provider.LabelWarm),
	})
	if err != nil {
		return nil, wrap("list warm containers", err)
	}
	out := make([]provider.Warm, 0, len(res.Items))
	dirs := map[string]bool{}
	for _, s := range res.Items {
		w := toWarm(s)
		dirs[w.Dir] = true
		out = append(out, w)
	}
	r.cleanWarmDirs(dirs)
	return out, nil
}

// toWarm is a listed warm container, its state read from its directory.
func toWarm(s container.Summary) provider.Warm {
	w := provider.Warm{
		ID: s.ID, Node: s.Labels[provider.LabelNode], Image: s.Labels[provider.LabelWarm], ImageID: s.ImageID,
		Shape: parseShape(s.Labels[provider.LabelWarmShape]), Created: time.Unix(s.Created, 0),
		Dir: s.Labels[provider.LabelWarmDir],
	}
	rec, claimed := shim.ReadRecord(w.Dir)
	w.AttemptID = rec.AttemptID
	switch fate := shim.Fate(w.Dir); {
	case claimed && (rec.Ran || fate == shim.Exec):
		w.State = provider.WarmRan
	case fate != "":
		w.State = provider.WarmAbandoned
	case claimed:
		w.State = provider.WarmClaimed
	case s.State != container.StateRunning:
		w.State = provider.WarmExited
	default:
		w.State = provider.WarmIdle
	}
	return w
}

// cleanWarmDirs removes the directories under the runner's that no warm
// container names, but not those made in the last minute, whose container
// may be in the making.
func (r *Runner) cleanWarmDirs(used map[string]bool) {
	if r.warmDir == "" {
		return
	}
	ents, err := os.ReadDir(r.warmDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p := filepath.Join(r.warmDir, e.Name())
		if used[p] {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
			os.RemoveAll(p)
		}
	}
}

// Claim hands the idle warm container w to c's attempt through its shim.
func (r *Runner) Claim(ctx context.Context, w provider.Warm, c provider.Container) error {
	err := shim.Send(ctx, w.Dir, shim.Claim{
		JobID: c.JobID, AttemptID: c.AttemptID, ImageID: w.ImageID,
		CPU: c.CPU, MemoryMB: c.MemoryMB, PIDs: pidsOf(c.PIDs), Command: c.Command, Env: c.Env,
	})
	var ee *shim.ExecError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return &provider.StartError{Reason: fmt.Sprintf("start the process of attempt %s in warm container %s: %s", c.AttemptID, shortID(w.ID), ee.Reason)}
	}
	return fmt.Errorf("claim warm container %s for attempt %s: %w: %w", shortID(w.ID), c.AttemptID, provider.ErrClaimRefused, err)
}

// Abandon settles a claim that nothing decided.
func (r *Runner) Abandon(ctx context.Context, w provider.Warm) (bool, error) {
	ran, err := shim.Abandon(w.Dir)
	if err != nil {
		return false, fmt.Errorf("abandon the claim of warm container %s: %w", shortID(w.ID), err)
	}
	return ran, nil
}

// listClaimed returns the status of the warm containers whose claims ran
// their job's process, as their attempts' containers.
func (r *Runner) listClaimed(ctx context.Context) ([]provider.Status, error) {
	res, err := r.api.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", provider.LabelWarm),
	})
	if err != nil {
		return nil, wrap("list warm containers", err)
	}
	var out []provider.Status
	for _, s := range res.Items {
		dir := s.Labels[provider.LabelWarmDir]
		rec, ok := shim.ReadRecord(dir)
		if !ok || !rec.Ran && shim.Fate(dir) != shim.Exec {
			continue
		}
		st, err := r.Inspect(ctx, s.ID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		st.JobID, st.AttemptID = rec.JobID, rec.AttemptID
		if st.StartedAt.Before(rec.At) {
			st.StartedAt = rec.At
		}
		out = append(out, st)
	}
	return out, nil
}

// pidsOf is the process limit a container of pids gets.
func pidsOf(pids int64) int64 {
	if pids <= 0 {
		return berth.DefaultPIDs
	}
	return pids
}

// shapeString is the berth.warm.shape label of s.
func shapeString(s provider.Shape) string {
	return fmt.Sprintf("cpu=%g,memory_mb=%d,pids=%d", s.CPU, s.MemoryMB, s.PIDs)
}

func parseShape(v string) provider.Shape {
	var s provider.Shape
	_, _ = fmt.Sscanf(v, "cpu=%g,memory_mb=%d,pids=%d", &s.CPU, &s.MemoryMB, &s.PIDs)
	return s
}
