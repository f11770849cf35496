package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// DefaultMetadataAddr is where EC2's instance metadata service listens, as
// a container would reach it.
const DefaultMetadataAddr = "169.254.169.254:80"

// ProbeCommand is the hidden berth subcommand that a probe container runs:
// `berth imds-probe ADDR` tries to reach the metadata service at ADDR and
// prints its verdict (MetadataProbeMain).
const ProbeCommand = "imds-probe"

// probeTimeout bounds each request of the probe.
const probeTimeout = time.Second

// The probe's verdict, on a line of its own.
const (
	verdictPrefix = "berth-imds-probe: "
	reachedWord   = "reached"
	unreachedWord = "unreachable"
)

// ProbeMetadata tries to reach the instance metadata service at addr
// (host:port) as a job's process would, each request given timeout, and
// reports whether it would hand out the instance's credentials: a session
// token for PUT /latest/api/token (IMDSv2: the hop limit lets the answer
// into a container) or an answer to GET /latest/meta-data/ without one
// (IMDSv1). how says what answered, or why nothing did. A service that
// refuses the GET for want of a token while its token answer cannot
// reach the container (hop limit 1, tokens required) is not reached.
func ProbeMetadata(ctx context.Context, addr string, timeout time.Duration) (reached bool, how string) {
	hc := &http.Client{Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + addr
	var notes []string
	put, _ := http.NewRequestWithContext(ctx, http.MethodPut, base+"/latest/api/token", nil)
	put.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	status, err := probeRequest(hc, put)
	if err == nil && status == http.StatusOK {
		return true, "PUT /latest/api/token answered 200 OK with a session token (IMDSv2)"
	}
	notes = append(notes, "PUT /latest/api/token: "+probeNote(status, err))
	get, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/latest/meta-data/", nil)
	status, err = probeRequest(hc, get)
	if err == nil && status == http.StatusOK {
		return true, "GET /latest/meta-data/ answered 200 OK without a token (IMDSv1)"
	}
	notes = append(notes, "GET /latest/meta-data/: "+probeNote(status, err))
	return false, strings.Join(notes, "; ")
}

// probeRequest sends req and returns the status of its answer.
func probeRequest(hc *http.Client, req *http.Request) (int, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// probeNote says what one request of the probe met.
func probeNote(status int, err error) string {
	if err == nil {
		return fmt.Sprintf("answered %d %s", status, http.StatusText(status))
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "no answer within " + probeTimeout.String()
	}
	return err.Error()
}

// MetadataProbeMain is `berth imds-probe ADDR`, run inside a probe
// container: it probes the metadata service at ADDR, writes its verdict
// to w and returns the exit code: 0 with a verdict, 2 for a bad command
// line.
func MetadataProbeMain(args []string, w io.Writer) int {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintln(w, "usage: berth "+ProbeCommand+" HOST:PORT")
		return 2
	}
	reached, how := ProbeMetadata(context.Background(), args[0], probeTimeout)
	word := unreachedWord
	if reached {
		word = reachedWord
	}
	fmt.Fprintf(w, "%s%s: %s\n", verdictPrefix, word, how)
	return 0
}

// parseVerdict reads the verdict a probe container printed; an output
// without one (the probe did not run) is an error.
func parseVerdict(code int, out []byte) (reached bool, how string, err error) {
	for line := range strings.Lines(string(out)) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), verdictPrefix)
		if !ok || code != 0 {
			continue
		}
		word, how, _ := strings.Cut(rest, ": ")
		switch word {
		case reachedWord:
			return true, how, nil
		case unreachedWord:
			return false, how, nil
		}
	}
	text := strings.TrimSpace(string(out))
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	return false, "", fmt.Errorf("the probe container exited %d without a verdict: %q", code, text)
}
