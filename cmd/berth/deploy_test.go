package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-run/berth/internal/nodeapi"
)

// TestUserData: the boot script is a valid bash script that reads the
// pool's join token from SSM, checks the agent's checksum and runs it
// under systemd with the token in its environment, never on its command
// line.
func TestUserData(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := invocation{}.run(t.Context(), "deploy", "aws", "user-data", "--pool", "spot", "--server", "https://10.0.0.1:7070", "--ca-file", ca,
		"--cluster", "prod").mustSucceed(t)
	script := r.stdout
	for _, want := range []string{
		"#!/bin/bash", "PARAMETER='/berth/prod/spot/join-token'", "aws ssm get-parameter", "--with-decryption",
		"sha256sum -c", "/v1/agent/binary?os=linux&arch=$ARCH", "X-aws-ec2-metadata-token", "EnvironmentFile=/etc/berth/agent.env",
		"Restart=always", "--ca-file /etc/berth/ca.pem", "--orphan-after 15m", "--interruption-grace 90s", "-----BEGIN CERTIFICATE-----",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("the script lacks %q", want)
		}
	}
	grace := invocation{}.run(t.Context(), "deploy", "aws", "user-data", "--pool", "spot", "--server", "https://10.0.0.1:7070",
		"--interruption-grace", "30s").mustSucceed(t)
	if !strings.Contains(grace.stdout, "--interruption-grace 30s") {
		t.Error("the script does not give the agent the pool's interruption grace of 30s")
	}
	if strings.Contains(script, "--join-token") {
		t.Error("the join token is on the agent's command line, where any local user sees it")
	}
	path := filepath.Join(t.TempDir(), "user-data.sh")
	if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"--server", "https://x"}, "--pool is required"},
		{[]string{"--pool", "Spot", "--server", "https://x"}, "--pool"},
		{[]string{"--pool", "spot"}, "--server"},
		{[]string{"--pool", "spot", "--server", "https://x/'; rm -rf /"}, "--server"},
		{[]string{"--pool", "spot", "--server", "https://x", "--parameter", "no-slash"}, "--parameter"},
		{[]string{"--pool", "spot", "--server", "https://x", "--region", "mars"}, "--region"},
		{[]string{"--pool", "spot", "--server", "https://x", "--orphan-after", "soon"}, "--orphan-after"},
		{[]string{"--pool", "spot", "--server", "https://x", "--interruption-grace", "3m"}, "--interruption-grace"},
		{[]string{"--pool", "spot", "--server", "https://x", "--interruption-grace", "30s; reboot"}, "--interruption-grace"},
	} {
		r := invocation{}.run(t.Context(), append([]string{"deploy", "aws", "user-data"}, tt.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, tt.says) {
			t.Errorf("user-data %q: exit %d, stderr %q; want a failure naming %s", tt.args, r.code, r.stderr, tt.says)
		}
	}
}

func TestOrphanAfter(t *testing.T) {
	ec2 := nodeapi.Facts{InstanceID: "i-0abc"}
	for _, tt := range []struct {
		v     string
		facts nodeapi.Facts
		want  time.Duration
		bad   bool
	}{
		{"auto", ec2, 15 * time.Minute, false},
		{"auto", nodeapi.Facts{}, 0, false},
		{"0", ec2, 0, false},
		{"30m", nodeapi.Facts{}, 30 * time.Minute, false},
		{"10s", ec2, 0, true},
		{"later", ec2, 0, true},
	} {
		got, err := orphanAfter(tt.v, tt.facts)
		if got != tt.want || (err != nil) != tt.bad {
			t.Errorf("orphanAfter(%q, %+v) = %v, %v; want %v (error %v)", tt.v, tt.facts, got, err, tt.want, tt.bad)
		}
	}
}

// TestDeployTemplate: the template of a shipped example in JSON and
// YAML, its estimate, and a bad deploy file refused naming the field.
func TestDeployTemplate(t *testing.T) {
	r := invocation{}.run(t.Context(), "deploy", "aws", "template", "--config", "../../docs/aws/minimal.yaml", "--stack", "test").mustSucceed(t)
	for _, want := range []string{`"AWSTemplateFormatVersion": "2010-09-09"`, `"PoolSpotLaunchTemplate"`, `"TableName": "test-main"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the template lacks %s", want)
		}
	}
	r = invocation{}.run(t.Context(), "deploy", "aws", "template", "--config", "../../docs/aws/minimal.yaml", "-o", "yaml").mustSucceed(t)
	if !strings.Contains(r.stdout, "AWSTemplateFormatVersion: \"2010-09-09\"") {
		t.Errorf("-o yaml printed\n%.300s", r.stdout)
	}
	r = invocation{}.run(t.Context(), "deploy", "aws", "template", "--config", "../../docs/aws/minimal.yaml", "--estimate").mustSucceed(t)
	if !strings.Contains(r.stdout, "control plane instance") || !strings.Contains(r.stdout, "total") {
		t.Errorf("--estimate printed\n%s", r.stdout)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("pools: [{name: l, provider: local}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--config", bad}, {"--config", "../../docs/aws/minimal.yaml", "-o", "xml"}, {}} {
		r := invocation{}.run(t.Context(), append([]string{"deploy", "aws", "template"}, args...)...)
		if r.code == 0 {
			t.Errorf("template %q succeeded; want a failure", args)
		}
	}
	r = invocation{}.run(t.Context(), "deploy", "aws", "template", "--config", bad)
	if !strings.Contains(r.stderr, "pools[0].provider") {
		t.Errorf("stderr %q: want the field named", r.stderr)
	}
}
