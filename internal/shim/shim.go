// Package shim is the waiting process of berth's warm containers and the
// agent's side of its protocol.
//
// A warm container is created and started ahead of a job, for one image
// and one resource shape, with `berth shim SPEC` as its entrypoint: the
// berth binary, static, bind-mounted read-only at Program. The shim
// listens on a unix socket in a directory of the agent's, bind-mounted at
// Dir, and waits. The agent claims the container for one attempt by
// sending a Claim (Send); the shim checks it against its Spec (the image
// and shape it was created for), records the claim's fate in the
// directory, and execve's the job's process with the image's
// ENTRYPOINT/CMD semantics as `docker run` would apply them, in place of
// itself: the job's process is PID 1 of the container, runs as the
// image's user in its working directory, and its exit code is the
// container's.
//
// The protocol is one JSON message each way at most. The shim answers a
// claim it refuses, or a process it cannot start, with a JSON Answer and
// exits; a claim it accepts it answers with nothing: the socket is
// close-on-exec, so a successful execve closes it, and the agent reads
// end-of-file. A claim that meets no answer (the shim is gone, or does
// not answer in time) is abandoned by the agent, which creates the fate
// file first: whichever of the shim and the agent creates it decides
// whether the job's process runs, so it never runs twice.
package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Paths inside a warm container.
const (
	// Program is where the berth binary is bind-mounted, read-only.
	Program = "/.berth/shim"
	// Dir is where the agent's directory of the container is mounted.
	Dir = "/.berth/run"
)

// Files in a warm container's directory on the host, the agent's.
const (
	// RunDir is the subdirectory mounted at Dir in the container, which
	// holds its socket and the fate of its claim. The claim's record stays
	// beside it, out of the container's reach: a job's process cannot
	// rewrite which attempt its container is.
	RunDir = "run"
	// SocketName is the shim's socket, in RunDir.
	SocketName = "shim.sock"
	// FateName, in RunDir, is created, exclusively, by whichever of the shim (Exec) and
	// the agent (Abandoned) decides the claim first.
	FateName = "fate"
	// ClaimName is the agent's record of the attempt that claimed the
	// container, written before the claim is sent and again once it ran;
	// the container cannot reach it.
	ClaimName = "claim.json"
)

// The contents of the fate file.
const (
	Exec      = "exec"      // the shim took the claim: the job's process runs
	Abandoned = "abandoned" // the agent gave up: the job's process never runs here
)

// Command is the hidden berth subcommand the shim runs as.
const Command = "shim"

// Spec is what a warm container was created for, given to the shim as
// its one argument (JSON): a claim must match it.
type Spec struct {
	ImageID    string   `json:"image_id"`
	CPU        float64  `json:"cpu"`
	MemoryMB   int64    `json:"memory_mb"`
	PIDs       int64    `json:"pids"`
	Entrypoint []string `json:"entrypoint,omitempty"` // the image's
	Cmd        []string `json:"cmd,omitempty"`        // the image's
}

// Claim hands a warm container to one attempt.
type Claim struct {
	JobID     string `json:"job_id"`
	AttemptID string `json:"attempt_id"`
	// ImageID and the shape are what the agent believes the container
	// was created for; the shim refuses a claim where they differ.
	ImageID  string   `json:"image_id"`
	CPU      float64  `json:"cpu"`
	MemoryMB int64    `json:"memory_mb"`
	PIDs     int64    `json:"pids"`
	Command  []string `json:"command,omitempty"` // empty: the image's CMD
	// Env is added to the container's own (the image's), replacing
	// variables of the same name, as `docker run -e` does.
	Env map[string]string `json:"env,omitempty"`
}

// Answer is the shim's answer to a claim that did not become the job's
// process.
type Answer struct {
	// Refused says the claim does not fit this container (or was
	// abandoned already): try another container, or start cold.
	Refused string `json:"refused,omitempty"`
	// NoExec says the job's process could not be started (no such
	// executable, no command): a cold start would fail the same way.
	NoExec string `json:"no_exec,omitempty"`
}

// check returns why c does not fit s, or "".
func (s Spec) check(c Claim) string {
	switch {
	case c.AttemptID == "" || c.JobID == "":
		return "claim names no job or attempt"
	case c.ImageID != s.ImageID:
		return fmt.Sprintf("claim for image %s, container of image %s", c.ImageID, s.ImageID)
	case c.CPU != s.CPU || c.MemoryMB != s.MemoryMB || c.PIDs != s.PIDs:
		return fmt.Sprintf("claim for %g vCPU/%d MB/%d pids, container of %g vCPU/%d MB/%d pids",
			c.CPU, c.MemoryMB, c.PIDs, s.CPU, s.MemoryMB, s.PIDs)
	}
	return ""
}

// Argv is the process `docker run` starts for the image's entrypoint and
// cmd and the job's command: the entrypoint, followed by the job's
// command, or the image's CMD when the job names none. It fails when that
// leaves nothing to run, as the engine does.
func Argv(entrypoint, cmd, command []string) ([]string, error) {
	args := cmd
	if len(command) > 0 {
		args = command
	}
	argv := append(slices.Clone(entrypoint), args...)
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("no command specified: the image has no ENTRYPOINT or CMD and the job no command")
	}
	return argv, nil
}

// Environ is base (the container's environment, KEY=value) with env set
// over it: a variable of base that env names takes env's value in its
// place, and the others follow in env's sorted order.
func Environ(base []string, env map[string]string) []string {
	out := make([]string, 0, len(base)+len(env))
	seen := make(map[string]bool, len(env))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if v, ok := env[k]; ok {
			if !seen[k] {
				out = append(out, k+"="+v)
				seen[k] = true
			}
			continue
		}
		out = append(out, kv)
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

// lookPath finds file as the runtime does for a container's process: a
// name with a slash as it is, else in the PATH of env.
func lookPath(file string, env []string, executable func(string) error) (string, error) {
	if strings.Contains(file, "/") {
		if err := executable(file); err != nil {
			return "", fmt.Errorf("exec %q: %w", file, err)
		}
		return file, nil
	}
	path := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for dir := range strings.SplitSeq(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

// DecodeSpec reads the shim's argument.
func DecodeSpec(arg string) (Spec, error) {
	var s Spec
	if err := json.Unmarshal([]byte(arg), &s); err != nil {
		return Spec{}, fmt.Errorf("shim spec: %w", err)
	}
	return s, nil
}

// Encode is s as the shim's argument.
func (s Spec) Encode() string {
	b, _ := json.Marshal(s) // plain fields: cannot fail
	return string(b)
}
