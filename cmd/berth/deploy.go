package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"text/template"

	berth "github.com/berth-run/berth"
)

// runDeploy runs `berth deploy aws ...`: what deploying berth on AWS needs.
func runDeploy(ctx context.Context, env *cliEnv, args []string) error {
	const usage = "usage: berth deploy aws user-data --pool NAME --server URL [flags]"
	if len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		fmt.Fprintln(env.stderr, usage)
		return nil
	}
	if len(args) < 2 || args[0] != "aws" {
		fmt.Fprintln(env.stderr, usage)
		return exitError{2}
	}
	switch args[1] {
	case "user-data":
		return subcommand("deploy aws user-data", deployUserData(env, args[2:]))
	}
	fmt.Fprintf(env.stderr, "berth deploy aws: unknown subcommand %q; want user-data\n", args[1])
	return exitError{2}
}

// userData is what the boot script of an EC2 pool's instances needs.
type userData struct {
	Server, Pool, Cluster, Region, Parameter, CA string
	OrphanAfter                                  string
	InterruptionGrace                            string
}

// parameterName is the SSM parameter that holds a pool's join token.
func parameterName(cluster, pool string) string {
	return "/berth/" + cluster + "/" + pool + "/join-token"
}

var ssmNameRe = regexp.MustCompile(`^/[A-Za-z0-9_./-]+$`)

// deployUserData prints the user data (a cloud-init shell script) of an
// ec2 pool's launch template: it reads the pool's join token from SSM
// Parameter Store, downloads berth from the server and checks its
// SHA-256, and runs the agent as a systemd unit that restarts always.
func deployUserData(env *cliEnv, args []string) error {
	fs := newFlagSet(env, "deploy aws user-data", "deploy aws user-data --pool NAME --server URL [--ca-file F] [--cluster NAME] [--region R] [--parameter NAME] [--interruption-grace 90s]")
	var d userData
	var caFile string
	fs.StringVar(&d.Pool, "pool", "", "the `name` of the ec2 pool whose instances run it")
	fs.StringVar(&d.Server, "server", env.getenv("BERTH_SERVER"), "the server's `URL` as the instances reach it (its --advertise-url)")
	fs.StringVar(&caFile, "ca-file", "", "`file` of the CA (PEM) that signed the server's certificate, written into the script")
	fs.StringVar(&d.Cluster, "cluster", "berth", "the server's cluster `name` (berth server --cluster)")
	fs.StringVar(&d.Region, "region", "", "the `region` of the SSM parameter (default: the instance's)")
	fs.StringVar(&d.Parameter, "parameter", "", "the SSM `parameter` (SecureString) holding the pool's join token (default /berth/CLUSTER/POOL/join-token)")
	fs.StringVar(&d.OrphanAfter, "orphan-after", "15m", "power the instance off once the server has been unreachable this `long` and nothing runs (0: never)")
	fs.StringVar(&d.InterruptionGrace, "interruption-grace", "90s", "SIGTERM to SIGKILL of the containers once a Spot notice came: the pool's interruption_grace (at most 2m)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(env, fs, "unexpected argument %q", fs.Arg(0))
	}
	switch err := (berth.PoolSpec{Name: d.Pool, Provider: berth.ProviderLocal}).Validate(); {
	case d.Pool == "":
		return usageError(env, fs, "--pool is required")
	case err != nil:
		return usageError(env, fs, "--pool: %v", err)
	case !clusterNameRe.MatchString(d.Cluster):
		return usageError(env, fs, "--cluster %q: want lower-case letters, digits and -, at most 63", d.Cluster)
	case d.Region != "" && !regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`).MatchString(d.Region):
		return usageError(env, fs, "--region %q is not an AWS region such as us-east-1", d.Region)
	}
	u, err := url.Parse(d.Server)
	if d.Server == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || strings.ContainsAny(d.Server, "'\"\\ \n$`") {
		return usageError(env, fs, "--server %q: want the server's URL as the instances reach it, such as https://10.0.0.1:7070", d.Server)
	}
	if u.Scheme == "http" {
		fmt.Fprintln(env.stderr, "berth deploy aws user-data: the server is plain HTTP: the join token and the agent's credential cross the network in clear")
	}
	if d.Parameter == "" {
		d.Parameter = parameterName(d.Cluster, d.Pool)
	}
	if !ssmNameRe.MatchString(d.Parameter) || len(d.Parameter) > 1011 {
		return usageError(env, fs, "--parameter %q is not an SSM parameter name such as /berth/prod/spot/join-token", d.Parameter)
	}
	if d.OrphanAfter != "0" {
		if _, err := berth.ParseDuration(d.OrphanAfter); err != nil {
			return usageError(env, fs, "--orphan-after: %v", err)
		}
	}
	if g, err := berth.ParseDuration(d.InterruptionGrace); err != nil || g < 0 || g > berth.SpotNotice {
		return usageError(env, fs, "--interruption-grace %q: want a duration between 0s and %s, the Spot notice", d.InterruptionGrace, berth.ShortDuration(berth.SpotNotice))
	}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "-----BEGIN CERTIFICATE-----") || strings.Contains(string(b), "BERTH_CA_END") {
			return fmt.Errorf("--ca-file %s: not a PEM certificate", caFile)
		}
		d.CA = strings.TrimSpace(string(b))
	}
	return userDataScript.Execute(env.stdout, d)
}

// userDataScript is the boot script. It runs once, as root, at the
// instance's first boot; the agent then runs under systemd. IMDSv2 is
// asked with a token, as instances launched by berth require.
var userDataScript = template.Must(template.New("user-data").Parse(`#!/bin/bash
# berth agent for pool {{.Pool}} of cluster {{.Cluster}}: the user data of
# the pool's launch template (berth deploy aws user-data). Needs the AWS
# CLI, curl, sha256sum, systemd and Docker on the image, and an instance
# profile allowed ssm:GetParameter on {{.Parameter}}.
set -euo pipefail
umask 077
SERVER='{{.Server}}'
POOL='{{.Pool}}'
PARAMETER='{{.Parameter}}'
ROOT="${BERTH_ROOT:-}"   # tests install under another root
install -d -m 0700 "$ROOT/etc/berth" "$ROOT/var/lib/berth"
{{- if .CA}}
cat > "$ROOT/etc/berth/ca.pem" <<'BERTH_CA_END'
{{.CA}}
BERTH_CA_END
CA=(--cacert "$ROOT/etc/berth/ca.pem")
CA_FLAG="--ca-file /etc/berth/ca.pem"
{{- else}}
CA=()
CA_FLAG=""
{{- end}}

imds() {
  local tok
  tok=$(curl -fsS -X PUT "${BERTH_IMDS:-http://169.254.169.254}/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  curl -fsS -H "X-aws-ec2-metadata-token: $tok" "${BERTH_IMDS:-http://169.254.169.254}/latest/meta-data/$1"
}
INSTANCE_ID=$(imds instance-id)
REGION='{{.Region}}'
if [ -z "$REGION" ]; then REGION=$(imds placement/region); fi
case "$(uname -m)" in
  x86_64) ARCH=amd64 ;;
  aarch64|arm64) ARCH=arm64 ;;
  *) echo "berth: no agent for $(uname -m)" >&2; exit 1 ;;
esac

# The join token: a SecureString, decrypted by SSM for this instance's role.
TOKEN=$(aws ssm get-parameter --region "$REGION" --name "$PARAMETER" --with-decryption --query Parameter.Value --output text)

# berth itself, from the server, checked against the checksum it sends.
curl -fsS --retry 10 --retry-all-errors --retry-delay 3 "${CA[@]}" -H "Authorization: Bearer $TOKEN" \
  -D "$ROOT/etc/berth/binary.headers" -o "$ROOT/etc/berth/berth.download" "$SERVER/v1/agent/binary?os=linux&arch=$ARCH"
SUM=$(tr -d '\r' < "$ROOT/etc/berth/binary.headers" | awk 'tolower($1) == "x-berth-sha256:" {print $2}')
echo "$SUM  $ROOT/etc/berth/berth.download" | sha256sum -c --quiet -
install -m 0755 "$ROOT/etc/berth/berth.download" "$ROOT/usr/local/bin/berth"
rm -f "$ROOT/etc/berth/berth.download" "$ROOT/etc/berth/binary.headers"

# The token reaches the agent by its environment, never its command line.
printf 'BERTH_JOIN_TOKEN=%s\n' "$TOKEN" > "$ROOT/etc/berth/agent.env"
cat > "$ROOT/etc/systemd/system/berth-agent.service" <<UNIT
[Unit]
Description=berth agent (pool $POOL)
Wants=network-online.target docker.service
After=network-online.target docker.service

[Service]
EnvironmentFile=/etc/berth/agent.env
ExecStart=/usr/local/bin/berth agent --server $SERVER --pool $POOL --name $INSTANCE_ID --data /var/lib/berth $CA_FLAG --orphan-after {{.OrphanAfter}} --interruption-grace {{.InterruptionGrace}}
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now berth-agent.service
`))
