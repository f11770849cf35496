// Package userdata writes the boot script (EC2 user data) of an ec2
// pool's instances: it reads the pool's join token from SSM Parameter
// Store, downloads berth from the server and checks its SHA-256, and runs
// the agent as a systemd unit that restarts always. `berth deploy aws
// user-data` prints it for a launch template made by hand; the
// CloudFormation stack of `berth deploy aws template` puts it in the
// launch templates it makes, with the server's address and CA read from
// SSM at boot.
package userdata

import (
	"io"
	"text/template"
)

// Agent is what the boot script of an ec2 pool's instances needs.
type Agent struct {
	// Server is the server's URL as the instances reach it; when empty,
	// ServerParameter names the SSM parameter (String) that holds it.
	Server, ServerParameter string
	Pool, Cluster           string
	// Region of the SSM parameters; the instance's when empty.
	Region string
	// Parameter is the SSM parameter (SecureString) of the join token.
	Parameter string
	// CA is the PEM of the CA that signed the server's certificate; when
	// empty, CAParameter, if set, names the SSM parameter that holds it.
	CA, CAParameter string
	OrphanAfter     string
	// InterruptionGrace is the pool's interruption_grace: SIGTERM to
	// SIGKILL of the containers once a Spot notice came.
	InterruptionGrace string
	// Prepare are shell commands run first, such as installing Docker
	// on an image without it.
	Prepare string
}

// ParameterName is the SSM parameter that holds a pool's join token.
func ParameterName(cluster, pool string) string {
	return "/berth/" + cluster + "/" + pool + "/join-token"
}

// Write writes the boot script of a. The caller has checked a's fields:
// they are written into the script as they are, in single quotes.
func Write(w io.Writer, a Agent) error {
	return script.Execute(w, a)
}

// script is the boot script. It runs once, as root, at the instance's
// first boot; the agent then runs under systemd. IMDSv2 is asked with a
// token, as instances launched by berth require.
var script = template.Must(template.New("user-data").Parse(`#!/bin/bash
# berth agent for pool {{.Pool}} of cluster {{.Cluster}}: the user data of
# the pool's launch template (berth deploy aws user-data). Needs the AWS
# CLI, curl, sha256sum, systemd and Docker on the image, and an instance
# profile allowed ssm:GetParameter on {{.Parameter}}.
set -euo pipefail
umask 077
{{- if .Prepare}}
{{.Prepare}}
{{- end}}
POOL='{{.Pool}}'
PARAMETER='{{.Parameter}}'
ROOT="${BERTH_ROOT:-}"   # tests install under another root
install -d -m 0700 "$ROOT/etc/berth" "$ROOT/var/lib/berth"

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
{{- if .Server}}
SERVER='{{.Server}}'
{{- else}}
# The server's address, which it publishes in SSM when it starts.
SERVER=$(aws ssm get-parameter --region "$REGION" --name '{{.ServerParameter}}' --query Parameter.Value --output text)
{{- end}}
{{- if .CA}}
cat > "$ROOT/etc/berth/ca.pem" <<'BERTH_CA_END'
{{.CA}}
BERTH_CA_END
CA=(--cacert "$ROOT/etc/berth/ca.pem")
CA_FLAG="--ca-file /etc/berth/ca.pem"
{{- else if .CAParameter}}
# The CA of the server's certificate, which the server publishes in SSM.
aws ssm get-parameter --region "$REGION" --name '{{.CAParameter}}' --query Parameter.Value --output text > "$ROOT/etc/berth/ca.pem"
CA=(--cacert "$ROOT/etc/berth/ca.pem")
CA_FLAG="--ca-file /etc/berth/ca.pem"
{{- else}}
CA=()
CA_FLAG=""
{{- end}}

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
