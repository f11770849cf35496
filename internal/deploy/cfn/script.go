package cfn

import "regexp"

// placeholderRe are the stack's values in the server's configuration,
// written @Name@ until they become Fn::Sub variables.
var placeholderRe = regexp.MustCompile(`@([A-Za-z0-9:.]+)@`)

// serverScript is the control plane's boot script, an Fn::Sub string.
// @...@ are filled in by serverScript(); ${...} are Fn::Sub's.
const serverScript = `#!/bin/bash
# berth control plane of cluster @STACK@ (berth deploy aws template).
set -euo pipefail
umask 077
REGION='${AWS::Region}'
P=/berth/@STACK@
install -d -m 0700 /etc/berth /var/lib/berth
imds() {
  local tok
  tok=$(curl -fsS -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
  curl -fsS -H "X-aws-ec2-metadata-token: $tok" "http://169.254.169.254/latest/meta-data/$1"
}
IP=$(imds local-ipv4)

# berth, checked against the stack's BerthSha256.
curl -fsSL --retry 10 --retry-all-errors -o /etc/berth/berth.download '${BerthUrl}'
echo '${BerthSha256}  /etc/berth/berth.download' | sha256sum -c --quiet -
install -m 0755 /etc/berth/berth.download /usr/local/bin/berth
rm -f /etc/berth/berth.download

# The cluster's CA: made at the first start and kept in SSM, so that a
# replaced control plane keeps it and the agents keep trusting it.
if aws ssm get-parameter --region "$REGION" --name "$P/ca-key" --with-decryption --query Parameter.Value --output text > /etc/berth/ca.key 2>/dev/null; then
  aws ssm get-parameter --region "$REGION" --name "$P/ca.pem" --query Parameter.Value --output text > /etc/berth/ca.pem
else
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=berth @STACK@ CA" \
    -keyout /etc/berth/ca.key -out /etc/berth/ca.pem
  aws ssm put-parameter --region "$REGION" --name "$P/ca-key" --type SecureString --value file:///etc/berth/ca.key >/dev/null
  aws ssm put-parameter --region "$REGION" --name "$P/ca.pem" --type String --overwrite --value file:///etc/berth/ca.pem >/dev/null
fi
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$IP" \
  -keyout /etc/berth/server.key -out /etc/berth/server.csr
printf 'subjectAltName=IP:%s,IP:127.0.0.1\n' "$IP" > /etc/berth/san.ext
openssl x509 -req -in /etc/berth/server.csr -CA /etc/berth/ca.pem -CAkey /etc/berth/ca.key -CAcreateserial \
  -days 825 -extfile /etc/berth/san.ext -out /etc/berth/server.pem
rm -f /etc/berth/ca.key /etc/berth/server.csr /etc/berth/san.ext

# The pools, with the stack's launch templates, cluster, roles and subnets.
cat > /etc/berth/berth.json <<'BERTH_CONFIG_END'
@CONFIG@
BERTH_CONFIG_END

cat > /etc/systemd/system/berth-server.service <<UNIT
[Unit]
Description=berth server (cluster @STACK@)
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/local/bin/berth server @FLAGS@
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now berth-server.service

export BERTH_SERVER=https://127.0.0.1:@PORT@ BERTH_DATA=/var/lib/berth BERTH_CA_FILE=/etc/berth/ca.pem
until curl -fsS --cacert /etc/berth/ca.pem "$BERTH_SERVER/healthz" >/dev/null; do sleep 2; done
# What the agents and the operator read: the server's URL, the admin
# token (berth deploy aws token) and each ec2 pool's join token.
aws ssm put-parameter --region "$REGION" --name "$P/server-url" --type String --overwrite --value "https://$IP:@PORT@" >/dev/null
aws ssm put-parameter --region "$REGION" --name "$P/admin-token" --type SecureString --overwrite --value file:///var/lib/berth/admin.token >/dev/null
for pool in @POOLS@; do
  berth pools rotate-token "$pool" > /etc/berth/join.token
  aws ssm put-parameter --region "$REGION" --name "$P/$pool/join-token" --type SecureString --overwrite --value file:///etc/berth/join.token >/dev/null
done
rm -f /etc/berth/join.token
`
