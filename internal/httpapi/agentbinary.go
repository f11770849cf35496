package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
)

// AgentBinaries are the berth executables the server hands to agents that
// bootstrap themselves (an EC2 instance's user data downloads one): by
// "os/arch", such as "linux/arm64".
type AgentBinaries struct {
	// Paths of the executables by "os/arch". The server's own executable
	// serves its own platform unless a path is given for it.
	Paths map[string]string

	mu   sync.Mutex
	sums map[string]string // path → hex SHA-256, read once
}

var platformRe = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9]+$`)

// path returns the executable for platform ("linux/amd64"), or "".
func (b *AgentBinaries) path(platform string) string {
	if b != nil {
		if p := b.Paths[platform]; p != "" {
			return p
		}
	}
	if platform == runtime.GOOS+"/"+runtime.GOARCH {
		if exe, err := os.Executable(); err == nil {
			return exe
		}
	}
	return ""
}

// sum returns the SHA-256 of the file at path, read once.
func (b *AgentBinaries) sum(path string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.sums[path]; ok {
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	if b.sums == nil {
		b.sums = map[string]string{}
	}
	s := hex.EncodeToString(h.Sum(nil))
	b.sums[path] = s
	return s, nil
}

// platforms lists what the server can hand out.
func (b *AgentBinaries) platforms() []string {
	out := []string{runtime.GOOS + "/" + runtime.GOARCH}
	if b != nil {
		for p := range b.Paths {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// agentBinary serves GET /v1/agent/binary?os=linux&arch=amd64 to holders
// of a join token: the berth executable for that platform, with its
// SHA-256 in the X-Berth-Sha256 header (and ETag), for instances that
// install their agent from the server. HEAD gives the headers alone, so a
// boot script can learn the checksum first.
func (s *Server) agentBinary(w http.ResponseWriter, r *http.Request) {
	if !s.limitJoins(w, r) {
		return
	}
	if _, ok := s.joinToken(w, r); !ok {
		return
	}
	goos, arch := r.URL.Query().Get("os"), r.URL.Query().Get("arch")
	if goos == "" {
		goos = "linux"
	}
	platform := goos + "/" + arch
	b := s.d.AgentBinaries
	switch {
	case arch == "":
		writeError(w, http.StatusBadRequest, "invalid", "arch is required: amd64 or arm64", "arch")
		return
	case !platformRe.MatchString(platform):
		writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("%q is not an os/arch such as linux/amd64", platform), "arch")
		return
	}
	path := b.path(platform)
	if path == "" {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("this server has no berth executable for %s (it has %s): start it with --agent-binary %s=PATH",
			platform, strings.Join(b.platforms(), ", "), platform), "arch")
		return
	}
	sum, err := b.sum(path)
	if err != nil {
		s.fail(w, r, fmt.Errorf("agent binary for %s: %w", platform, err))
		return
	}
	f, err := os.Open(path)
	if err != nil {
		s.fail(w, r, fmt.Errorf("agent binary for %s: %w", platform, err))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.fail(w, r, fmt.Errorf("agent binary for %s: %w", platform, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", fmt.Sprint(st.Size()))
	h.Set("X-Berth-Sha256", sum)
	h.Set("ETag", `"`+sum+`"`)
	h.Set("Content-Disposition", `attachment; filename="berth"`)
	if r.Header.Get("If-None-Match") == `"`+sum+`"` {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	out := streamWriter{w: w, rc: http.NewResponseController(w), timeout: s.limits.WriteTimeout}
	buf := make([]byte, 256<<10)
	_, _ = io.CopyBuffer(out, f, buf) // a client that goes away ends the copy
}
