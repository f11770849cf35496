package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/berth-run/berth/internal/nodeapi"
)

// TestMetadataGuard: an agent whose facts came from a metadata service
// probes, from a container, the address it read them at (EC2's by
// default), or the one BERTH_CONTAINER_IMDS_ADDR gives; elsewhere it does
// not probe.
func TestMetadataGuard(t *testing.T) {
	onEC2 := nodeapi.Facts{InstanceID: "i-0abc"}
	tests := []struct {
		imds, override string
		facts          nodeapi.Facts
		allow          bool
		want           string // "" for no guard
	}{
		{"auto", "", onEC2, false, "169.254.169.254:80"},
		{"http://172.17.0.1:1338", "", onEC2, true, "172.17.0.1:1338"},
		{"http://[fd00::1]", "", onEC2, false, "[fd00::1]:80"},
		{"auto", "172.17.0.1:9", onEC2, false, "172.17.0.1:9"},
		{"auto", "", nodeapi.Facts{}, false, ""},
		{"off", "", nodeapi.Facts{}, false, ""},
	}
	for _, tt := range tests {
		g, err := metadataGuard(agentConfig{imds: tt.imds, containerIMDS: tt.override, allowIMDS: tt.allow}, tt.facts, nil)
		switch {
		case err != nil:
			t.Errorf("metadataGuard(--imds %s) = %v", tt.imds, err)
		case tt.want == "" && g != nil:
			t.Errorf("metadataGuard(--imds %s, facts %+v) = %+v, want none", tt.imds, tt.facts, g)
		case tt.want != "" && (g == nil || g.Addr != tt.want || g.Allow != tt.allow || g.Program == ""):
			t.Errorf("metadataGuard(--imds %s, override %q) = %+v, want a probe of %s (allow %v) by this binary", tt.imds, tt.override, g, tt.want, tt.allow)
		}
	}
}

// TestProbeCommand: the hidden command the probe container runs answers
// with a verdict, is left out of the list of commands, and wants an
// address.
func TestProbeCommand(t *testing.T) {
	berth := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		env := &cliEnv{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		code := run(context.Background(), env, args)
		return out.String(), errb.String(), code
	}
	out, _, code := berth("imds-probe", "127.0.0.1:1")
	if code != 0 || !strings.HasPrefix(out, "berth-imds-probe: unreachable: ") {
		t.Errorf("berth imds-probe 127.0.0.1:1 = %d, %q; want 0 and the service unreachable", code, out)
	}
	if out, _, code := berth("imds-probe"); code != 2 || !strings.Contains(out, "usage: berth imds-probe HOST:PORT") {
		t.Errorf("berth imds-probe without an address = %d, %q; want 2 and its usage", code, out)
	}
	if _, help, _ := berth(); strings.Contains(help, "imds-probe") {
		t.Errorf("berth lists the hidden command:\n%s", help)
	}
}
