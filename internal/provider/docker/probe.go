package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// ProbeImage is the image of probe containers: empty, made on the engine
// from nothing (no registry), the program coming bind-mounted from the
// host.
const ProbeImage = "berth-probe:empty"

// LabelProbe marks probe containers. They carry none of the berth labels
// of attempts, so that List leaves them out.
const LabelProbe = "berth.probe"

// Where a probe container finds its program and the libraries it needs.
const (
	probeProgram = "/berth/probe"
	probeLibs    = "/berth/lib"
)

// probeOutputMax bounds the output kept of a probe.
const probeOutputMax = 64 << 10

// RunProbe runs program, an executable of this host, with args in a
// throwaway container started as the jobs' containers are (the engine's
// default network, no-new-privileges) from ProbeImage, made on first use,
// with the program bind-mounted read-only (and, for a dynamically linked
// one, its loader and libraries), and returns its exit code and output.
// The container is removed, whatever happens.
func (r *Runner) RunProbe(ctx context.Context, program string, args ...string) (int, []byte, error) {
	mounts, env, err := programMounts(program)
	if err != nil {
		return 0, nil, err
	}
	if err := r.probeImage(ctx); err != nil {
		return 0, nil, err
	}
	pids, memory := int64(64), int64(64<<20)
	res, err := r.api.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:  ProbeImage,
			Cmd:    append([]string{probeProgram}, args...),
			Env:    env,
			Labels: map[string]string{LabelProbe: "1"},
		},
		HostConfig: &container.HostConfig{
			Mounts:         mounts,
			ReadonlyRootfs: true,
			SecurityOpt:    []string{"no-new-privileges"},
			Resources:      container.Resources{Memory: memory, MemorySwap: memory, PidsLimit: &pids},
		},
	})
	if err != nil {
		return 0, nil, wrap("create probe container", err)
	}
	defer func() {
		// Removed even when ctx has ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_, _ = r.api.ContainerRemove(rctx, res.ID, client.ContainerRemoveOptions{Force: true})
	}()
	if err := r.Start(ctx, res.ID); err != nil {
		return 0, nil, fmt.Errorf("probe: %w", err)
	}
	st, err := r.Wait(ctx, res.ID)
	if err != nil {
		return 0, nil, fmt.Errorf("probe: %w", err)
	}
	out, err := r.output(ctx, res.ID)
	if err != nil {
		return 0, nil, err
	}
	return st.ExitCode, out, nil
}

// output reads what an exited container wrote, both streams together.
func (r *Runner) output(ctx context.Context, id string) ([]byte, error) {
	rc, err := r.api.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return nil, wrap("logs of container "+shortID(id), err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	w := &limitedBuffer{buf: &buf, left: probeOutputMax}
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil {
		return nil, wrap("logs of container "+shortID(id), err)
	}
	return buf.Bytes(), nil
}

// limitedBuffer keeps the first left bytes written to it.
type limitedBuffer struct {
	buf  *bytes.Buffer
	left int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := min(len(p), b.left)
	b.buf.Write(p[:n])
	b.left -= n
	return len(p), nil
}

// probeImage makes ProbeImage on the engine unless it has it: an image of
// no files, imported from an empty archive.
func (r *Runner) probeImage(ctx context.Context) error {
	_, err := r.api.ImageInspect(ctx, ProbeImage)
	if err == nil {
		return nil
	}
	if !isNotFound(err) {
		return wrap("inspect image "+ProbeImage, err)
	}
	var empty bytes.Buffer
	if err := tar.NewWriter(&empty).Close(); err != nil {
		return err
	}
	rc, err := r.api.ImageImport(ctx, client.ImageImportSource{Source: &empty, SourceName: "-"}, ProbeImage,
		client.ImageImportOptions{Message: "berth: the empty image of probe containers", Changes: []string{"LABEL " + LabelProbe + "=1"}})
	if err != nil {
		return wrap("make image "+ProbeImage, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return wrap("make image "+ProbeImage, err)
	}
	if bytes.Contains(b, []byte(`"error"`)) {
		return fmt.Errorf("make image %s: %s", ProbeImage, bytes.TrimSpace(b))
	}
	return nil
}

// programMounts returns the read-only bind mounts that let program run in
// an empty image, at probeProgram, and the environment it needs there.
// A statically linked program needs nothing else. A dynamically linked
// one needs its loader, at the path written in it, and the libraries it
// names (and those they name), found where the loader looks on this host
// and put under probeLibs, which LD_LIBRARY_PATH names.
func programMounts(program string) ([]mount.Mount, []string, error) {
	real, err := filepath.EvalSymlinks(program)
	if err != nil {
		return nil, nil, fmt.Errorf("probe program: %w", err)
	}
	mounts := []mount.Mount{{Type: mount.TypeBind, Source: real, Target: probeProgram, ReadOnly: true}}
	interp, needed, err := elfNeeds(real)
	if err != nil {
		return nil, nil, fmt.Errorf("probe program %s: %w", program, err)
	}
	if interp == "" {
		return mounts, nil, nil
	}
	src, err := filepath.EvalSymlinks(interp)
	if err != nil {
		return nil, nil, fmt.Errorf("probe program %s: its loader: %w", program, err)
	}
	mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: src, Target: interp, ReadOnly: true})
	seen := map[string]bool{path.Base(interp): true}
	for len(needed) > 0 {
		name := needed[0]
		needed = needed[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		lib, err := findLibrary(name, filepath.Dir(interp))
		if err != nil {
			return nil, nil, fmt.Errorf("probe program %s: %w", program, err)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: lib, Target: probeLibs + "/" + name, ReadOnly: true})
		_, more, err := elfNeeds(lib)
		if err != nil {
			return nil, nil, fmt.Errorf("probe program %s: %s: %w", program, name, err)
		}
		needed = append(needed, more...)
	}
	return mounts, []string{"LD_LIBRARY_PATH=" + probeLibs}, nil
}

// elfNeeds returns the loader an ELF executable names ("" when statically
// linked) and the libraries it needs.
func elfNeeds(file string) (interp string, needed []string, err error) {
	f, err := elf.Open(file)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return "", nil, fmt.Errorf("read its loader's name: %w", err)
		}
		interp = strings.TrimRight(string(b), "\x00")
	}
	needed, err = f.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return "", nil, fmt.Errorf("read the libraries it needs: %w", err)
	}
	return interp, needed, nil
}

// findLibrary finds a shared library where the loader of this host looks
// for it by default, the loader's own directory first.
func findLibrary(name, loaderDir string) (string, error) {
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	dirs := []string{loaderDir, "/lib/" + triplet, "/usr/lib/" + triplet, "/lib64", "/usr/lib64", "/lib", "/usr/lib"}
	for _, d := range dirs {
		p, err := filepath.EvalSymlinks(filepath.Join(d, name))
		if err != nil {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("library %s not found in %s", name, strings.Join(dirs, ", "))
}
