#!/usr/bin/env bash
# pam_iam fleet demo, on this machine: run as root on Debian 12 with nothing
# but this repository. It builds and installs the iam-server package, starts
# the server (HTTPS on 127.0.0.1:8443, the embedded SQLite directory),
# bootstraps its first administrator, and administers it with the real aws
# CLI: a user, a group, a policy, a role assumed with `aws sts assume-role`,
# and the trail of it all with `aws cloudtrail lookup-events`. Safe to rerun.
#
# Undo everything: apt-get purge iam-server; rm -rf /root/.iam-server-demo
# (without systemd: kill "$(cat /run/iam-server-demo.pid)" first)
set -euo pipefail
cd "$(dirname "$0")/.."
state=/root/.iam-server-demo       # the administrator's key (aws config), 0700
port=8443

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "fleet-demo.sh: run as root (it installs a package)" >&2
    exit 1
fi

say "Build dependencies, and the aws CLI from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends build-essential ca-certificates curl \
    pkg-config libpam0g-dev awscli >/dev/null
if ! command -v cargo >/dev/null 2>&1; then
    [ -f "$HOME/.cargo/env" ] || curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

say "Build and install the iam-server package (packaging/build-deb.sh --server)"
deb=$(packaging/build-deb.sh --server | tail -n 1)
apt-get install -y -qq --reinstall "./$deb" >/dev/null
grep -E '^(account_id|listen)' /etc/iam/server.toml || true

say "Start iam-server"
if [ -d /run/systemd/system ]; then
    systemctl restart iam-server
else
    # No systemd (a container): run it in the background, once.
    pidfile=/run/iam-server-demo.pid
    if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        kill "$(cat "$pidfile")"
        while kill -0 "$(cat "$pidfile")" 2>/dev/null; do sleep 0.1; done
    fi
    nohup runuser -u iam-server -- /usr/sbin/iam-server --config /etc/iam/server.toml \
        >>/var/log/iam-server.log 2>&1 &
    echo $! >"$pidfile"
fi
cert=/var/lib/iam-server/tls/cert.pem
for _ in $(seq 1 50); do
    [ -s "$cert" ] && curl -sf --cacert "$cert" "https://localhost:$port/healthz" >/dev/null && break
    sleep 0.2
done
curl -sf --cacert "$cert" "https://localhost:$port/healthz"
openssl x509 -noout -fingerprint -sha256 -in "$cert"

say "The first administrator (iam-server bootstrap), as an aws CLI profile"
install -d -m 0700 "$state"
umask 077
if [ ! -s "$state/credentials" ]; then
    key=$(runuser -u iam-server -- /usr/sbin/iam-server --config /etc/iam/server.toml \
        bootstrap --user-name iam-admin)
    printf '%s' "$key" | python3 -c '
import json, sys
k = json.load(sys.stdin)["AccessKey"]
print("[iam-demo]")
print("aws_access_key_id = " + k["AccessKeyId"])
print("aws_secret_access_key = " + k["SecretAccessKey"])' >"$state/credentials"
fi
cat >"$state/config" <<EOF
[profile iam-demo]
region = us-east-1
output = json
EOF
export AWS_SHARED_CREDENTIALS_FILE=$state/credentials AWS_CONFIG_FILE=$state/config \
    AWS_PROFILE=iam-demo AWS_CA_BUNDLE=$cert
aws() { command aws --endpoint-url "https://localhost:$port" "$@"; }
aws sts get-caller-identity

say "Users, groups and policies with the aws CLI"
account=$(aws sts get-caller-identity --query Account --output text)
aws iam get-user --user-name alice >/dev/null 2>&1 ||
    aws iam create-user --user-name alice --tags Key=team,Value=web
aws iam get-group --group-name developers >/dev/null 2>&1 ||
    aws iam create-group --group-name developers
aws iam add-user-to-group --group-name developers --user-name alice
policy_arn=arn:aws:iam::$account:policy/developer-login
aws iam get-policy --policy-arn "$policy_arn" >/dev/null 2>&1 ||
    aws iam create-policy --policy-name developer-login --policy-document '{
      "Version": "2012-10-17",
      "Statement": [{"Effect": "Allow", "Action": "host:Login",
                     "Resource": "arn:aws:host::*:host/web-*",
                     "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}'
aws iam attach-group-policy --group-name developers --policy-arn "$policy_arn"
aws iam list-users --query 'Users[].UserName'

say "A role, assumed with temporary credentials (aws sts assume-role)"
aws iam get-role --role-name auditor >/dev/null 2>&1 ||
    aws iam create-role --role-name auditor --assume-role-policy-document "{
      \"Version\": \"2012-10-17\",
      \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"sts:AssumeRole\",
                       \"Principal\": {\"AWS\": \"arn:aws:iam::$account:user/iam-admin\"}}]}" >/dev/null
aws iam put-role-policy --role-name auditor --policy-name read --policy-document \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}'
creds=$(aws sts assume-role --role-arn "arn:aws:iam::$account:role/auditor" \
    --role-session-name demo --query Credentials --output json)
(
    export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN
    AWS_ACCESS_KEY_ID=$(printf '%s' "$creds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKeyId"])')
    AWS_SECRET_ACCESS_KEY=$(printf '%s' "$creds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["SecretAccessKey"])')
    AWS_SESSION_TOKEN=$(printf '%s' "$creds" | python3 -c 'import json,sys; print(json.load(sys.stdin)["SessionToken"])')
    unset AWS_PROFILE
    export AWS_DEFAULT_REGION=us-east-1
    aws sts get-caller-identity --query Arn --output text
    echo "as the auditor session, create-user is refused:"
    aws iam create-user --user-name mallory 2>&1 | sed 's/^/    /' || true
)

say "Who changed what (aws cloudtrail lookup-events)"
aws cloudtrail lookup-events --max-results 5 \
    --query 'Events[].[EventTime,Username,EventName]' --output text || true

cat <<EOF

iam-server is running on https://localhost:$port (certificate $cert).
Use it yourself:
    export AWS_SHARED_CREDENTIALS_FILE=$state/credentials AWS_CONFIG_FILE=$state/config
    export AWS_PROFILE=iam-demo AWS_CA_BUNDLE=$cert
    aws --endpoint-url https://localhost:$port iam list-users
Logs: journalctl -u iam-server (or /var/log/iam-server.log). Undo: apt-get purge iam-server
EOF
