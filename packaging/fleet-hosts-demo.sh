#!/usr/bin/env bash
# pam_iam fleet hosts demo, on this machine: run as root on Debian 12 from
# this repository. It builds iam-server, iam-agent, iamctl and pam_iam.so
# (release, no package installed), starts iam-server (HTTPS on
# 127.0.0.1:$DEMO_PORT, default 8444, the embedded SQLite directory) and two
# simulated hosts, web-1 and web-2: each a directory with its own iam.toml,
# its replica of the directory and its own iam-agent, and a PAM service
# (/etc/pam.d/iam-fleet-demo-web-N) loading the built module. It creates
# user alice centrally with the aws CLI, logs her in with pamtester on both
# hosts, then stops the server and shows what still works (logins from the
# replica) and what fails clearly (administrator writes; iamctl's changes on
# a host: ReplicaReadOnly). Everything is removed at the end (KEEP=1 keeps
# the directory and prints how to stop what runs).
#
# Each host enrols as AWS's way has it: an instance profile holding role
# web-host (config/policies/IamHostAgent.json), a one-time join token from
# `iam-server join-token`, and the JoinHost call that `iamctl setup-host
# --join` makes; the demo makes that call itself and writes agent.toml
# (0600) into the host's directory, because setup-host would also change
# this machine's PAM stack and nsswitch.conf.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
port=${DEMO_PORT:-8444}
password='Fleet-Demo-Passw0rd!'

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "fleet-hosts-demo.sh: run as root (PAM services live in /etc/pam.d)" >&2
    exit 1
fi

say "Build dependencies (pamtester, the aws CLI) and the release binaries"
if ! command -v pamtester >/dev/null 2>&1 || ! command -v aws >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends build-essential ca-certificates curl \
        pkg-config libpam0g-dev pamtester awscli >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
    [ -f "$HOME/.cargo/env" ] || curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
cargo build --release --locked -q -p iam-server -p iam-agent -p iamctl -p pam_iam
bin=$repo/target/release

umask 077
demo=$(mktemp -d /tmp/iam-fleet-demo.XXXXXX)
pids=()
cleanup() {
    if [ -n "${KEEP:-}" ]; then
        echo "KEEP: $demo stays; stop: kill ${pids[*]:-}; rm /etc/pam.d/iam-fleet-demo-web-*"
        return
    fi
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -f /etc/pam.d/iam-fleet-demo-web-1 /etc/pam.d/iam-fleet-demo-web-2
    rm -rf "$demo"
}
trap cleanup EXIT INT TERM

say "Start iam-server on https://localhost:$port ($demo/server)"
mkdir "$demo/server"
cat >"$demo/server/server.toml" <<EOF
account_id = "123456789012"
listen = "127.0.0.1:$port"
state_dir = "state"
EOF
"$bin/iam-server" --config "$demo/server/server.toml" bootstrap --user-name iam-admin \
    >"$demo/server/admin-key.json"
"$bin/iam-server" --config "$demo/server/server.toml" >/dev/null 2>"$demo/server/server.log" &
server_pid=$!
pids+=("$server_pid")
cert=$demo/server/state/tls/cert.pem
for _ in $(seq 1 100); do
    [ -s "$cert" ] && curl -sf --cacert "$cert" "https://localhost:$port/healthz" >/dev/null && break
    sleep 0.1
done
fingerprint=$(sed -n 's/.*SHA-256 fingerprint //p' "$demo/server/server.log" | tail -n 1)
echo "certificate SHA-256 fingerprint $fingerprint"

# The administrator's key, as an aws CLI profile (never on a command line).
python3 -c '
import json, sys
k = json.load(open(sys.argv[1]))["AccessKey"]
print("[iam-admin]\naws_access_key_id = " + k["AccessKeyId"])
print("aws_secret_access_key = " + k["SecretAccessKey"])' "$demo/server/admin-key.json" \
    >"$demo/credentials"
printf '[profile iam-admin]\nregion = us-east-1\noutput = json\n' >"$demo/config"
export AWS_SHARED_CREDENTIALS_FILE=$demo/credentials AWS_CONFIG_FILE=$demo/config \
    AWS_PROFILE=iam-admin AWS_CA_BUNDLE=$cert AWS_PAGER=
aws() { command aws --endpoint-url "https://localhost:$port" "$@"; }
aws sts get-caller-identity --query Arn --output text

say "Host identity: role web-host (IamHostAgent policy) in instance profile web"
aws iam create-role --role-name web-host --query Role.Arn --output text \
    --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
aws iam put-role-policy --role-name web-host --policy-name IamHostAgent \
    --policy-document "file://$repo/config/policies/IamHostAgent.json"
aws iam create-instance-profile --instance-profile-name web --query InstanceProfile.Arn --output text
aws iam add-role-to-instance-profile --instance-profile-name web --role-name web-host

say "Two hosts, web-1 and web-2: enrolled (agent.toml, 0600), iam.toml, a replica, an agent, a PAM service"
for h in web-1 web-2; do
    d=$demo/$h
    mkdir -p "$d/extrausers" "$d/authorized_keys"
    cat >"$d/iam.toml" <<EOF
account_id = "123456789012"
hostname = "$h"
database = "iam.db"
audit_log = "audit.log"

[accounts]
extrausers_dir = "extrausers"
home = "$d/home/%u"
authorized_keys_dir = "authorized_keys"
EOF
    # A one-time join token (on the server), spent by JoinHost over the
    # pinned TLS connection: the host's key, as setup-host --join gets it.
    "$bin/iam-server" --config "$demo/server/server.toml" join-token \
        --instance-profile-name web >"$d/join-token"
    python3 -c '
import json, ssl, sys, urllib.request
url, ca, token_file, host, fingerprint = sys.argv[1:]
body = json.dumps({"Token": open(token_file).read().strip(), "Hostname": host}).encode()
req = urllib.request.Request(url, data=body, headers={
    "X-Amz-Target": "IamHost_20261203.JoinHost", "Content-Type": "application/x-amz-json-1.1"})
k = json.loads(urllib.request.urlopen(req, context=ssl.create_default_context(cafile=ca)).read())
key_id, secret = k["AccessKeyId"], k["SecretAccessKey"]
print(f"server = \"{url}\"\nca_fingerprint = \"{fingerprint}\"")
print(f"hostname = \"{host}\"\naccess_key_id = \"{key_id}\"")
print(f"secret_access_key = \"{secret}\"")' \
        "https://localhost:$port" "$cert" "$d/join-token" "$h" "$fingerprint" >"$d/agent.toml"
    rm -f "$d/join-token"
    echo "$h enrolled: arn:aws:sts::123456789012:assumed-role/web-host/$h"
    "$bin/iamctl" --config "$d/iam.toml" init >/dev/null
    printf 'auth required %s mode=password config=%s\naccount required %s config=%s\n' \
        "$bin/libpam_iam.so" "$d/iam.toml" "$bin/libpam_iam.so" "$d/iam.toml" \
        >"/etc/pam.d/iam-fleet-demo-$h"
    "$bin/iam-agent" --config "$d/agent.toml" --iam-config "$d/iam.toml" 2>"$d/agent.log" &
    pids+=("$!")
    echo "$h: $d (agent pid $!, log $d/agent.log)"
done

say "Centrally, with the aws CLI: user alice, her password, a login policy"
aws iam create-user --user-name alice --query User.Arn --output text
aws iam create-login-profile --user-name alice --password "$password" \
    --no-password-reset-required --query LoginProfile.UserName --output text
aws iam put-user-policy --user-name alice --policy-name AllowLogin --policy-document \
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"host:Login","Resource":"arn:aws:host::*:host/web-*"}]}'

say "Each agent brings the change to its host's replica"
for h in web-1 web-2; do
    for _ in $(seq 1 100); do
        grep -q '^alice:' "$demo/$h/extrausers/passwd" 2>/dev/null && break
        sleep 0.1
    done
    echo "$h: $(tail -n 1 "$demo/$h/agent.log"); extrausers: $(grep '^alice:' "$demo/$h/extrausers/passwd")"
done

login() { # HOST PASSWORD
    printf '%s\n' "$2" | pamtester -v "iam-fleet-demo-$1" alice authenticate acct_mgmt 2>&1 |
        sed "s/^/    $1: /"
}

say "alice logs in on both hosts (pamtester authenticate acct_mgmt, from each replica)"
login web-1 "$password"
login web-2 "$password"
echo "a wrong password on web-2:"
login web-2 wrong-password || true

say "The server stops: logins still work from the replicas, writes fail clearly"
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
login web-1 "$password"
login web-2 "$password"
echo "aws iam create-user --user-name bob (the server is down):"
AWS_MAX_ATTEMPTS=1 aws iam create-user --user-name bob 2>&1 | sed 's/^/    /' || true
echo "iamctl create-user --user-name bob on web-1 (its directory is a replica):"
"$bin/iamctl" --config "$demo/web-1/iam.toml" create-user --user-name bob 2>&1 |
    sed 's/^/    /' || true

cat <<EOF

Done: one iam-server, two hosts with their own replicas and agents, one
user created centrally and logged in on both. See docs/FLEET.md.
EOF
