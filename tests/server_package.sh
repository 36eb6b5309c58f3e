#!/usr/bin/env bash
# The iam-server package, end to end, as an admin meets it: build
# iam-server_*.deb, `apt-get install` it (its system user, state directory
# and /etc/iam/server.toml), run the INSTALLED server as that user (as its
# systemd unit would; CI has no systemd), bootstrap the first administrator,
# call it with the real aws CLI over HTTPS, stop it with SIGTERM, then
# `apt-get purge` and show the user, the state and the config are gone.
# Root only; leaves the machine as it found it.
#
# Usage: tests/server_package.sh [--deb FILE]   (default: build one)
# Last line: "N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

if [ "$(id -u)" -ne 0 ]; then
    echo "server_package.sh: needs root (it installs a package)" >&2
    if [ "${CI:-}" = true ]; then echo "0 passed, 1 failed"; exit 1; fi
    echo "0 passed, 0 failed (skipped: not root)"
    exit 0
fi
venv=${IAM_VENV:-/opt/iam-venv}
if [ ! -x "$venv/bin/aws" ]; then
    echo "server_package.sh: no aws CLI in $venv (set IAM_VENV; .ci/run makes it)" >&2
    if [ "${CI:-}" = true ]; then echo "0 passed, 1 failed"; exit 1; fi
    echo "0 passed, 0 failed (skipped: no venv)"
    exit 0
fi

deb=
if [ "${1:-}" = --deb ]; then deb=$2; fi

# shellcheck source=tests/check.sh
. tests/check.sh

export DEBIAN_FRONTEND=noninteractive
work=$(mktemp -d /tmp/iam-server-pkgtest.XXXXXX)
server_pid=

cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    if dpkg-query -W -f='${Status}' iam-server 2>/dev/null | grep -q 'ok installed\|config-files'; then
        apt-get purge -y -qq iam-server >/dev/null 2>&1
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if dpkg-query -W -f='${Status}' iam-server 2>/dev/null | grep -q 'ok installed\|config-files'; then
    echo "note: purging an iam-server left installed before this test"
    apt-get purge -y -qq iam-server >/dev/null
fi
# A server.toml of an earlier run would be kept by postinst; this test
# needs the package's own.
if [ -e /etc/iam/server.toml ]; then
    echo "server_package.sh: /etc/iam/server.toml exists and is not the package's" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

# --- build and install ---------------------------------------------------
if [ -z "$deb" ]; then
    start=$(date +%s)
    if packaging/build-deb.sh --server >"$work/build.log" 2>&1; then
        deb=$(tail -n 1 "$work/build.log")
        ok "build-deb.sh --server built $deb in $(($(date +%s) - start)) s"
    else
        not_ok "build-deb.sh --server"
        tail -n 30 "$work/build.log"
        echo "$passed passed, $failed failed"
        exit 1
    fi
fi
deb=$(realpath "$deb")
check "dpkg-deb -c: /usr/sbin/iam-server and the systemd unit" \
    sh -c "dpkg-deb -c '$deb' | grep -q ' ./usr/sbin/iam-server$' && dpkg-deb -c '$deb' | grep -q 'system/iam-server.service$'"
check "apt-get install ./$(basename "$deb")" apt-get install -y -qq "$deb"
check "postinst: system user iam-server" getent passwd iam-server
check "postinst: /var/lib/iam-server is iam-server's, 0700" \
    test "$(stat -c '%a %U' /var/lib/iam-server)" = "700 iam-server"
check "postinst: /etc/iam/server.toml with a new account id" \
    sh -c "grep -Eq '^account_id = \"[0-9]{12}\"' /etc/iam/server.toml && ! grep -q 123456789012 /etc/iam/server.toml"
check "the unit runs as iam-server, not root" \
    grep -q '^User=iam-server$' /usr/lib/systemd/system/iam-server.service

# --- run it as the unit would ---------------------------------------------
port=$((20000 + RANDOM % 20000))
sed -i "s|^# listen .*|listen = \"127.0.0.1:$port\"|" /etc/iam/server.toml
check "bootstrap (as iam-server) prints the administrator's key" \
    sh -c "runuser -u iam-server -- /usr/sbin/iam-server --config /etc/iam/server.toml bootstrap >'$work/admin.json'"
runuser -u iam-server -- /usr/sbin/iam-server --config /etc/iam/server.toml \
    >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
cert=/var/lib/iam-server/tls/cert.pem
for _ in $(seq 1 100); do
    grep -q 'listening on' "$work/server.err" 2>/dev/null && break
    sleep 0.1
done
check "healthz over HTTPS with the generated certificate" \
    curl -sf --cacert "$cert" "https://localhost:$port/healthz"
check "the printed fingerprint is the certificate's" \
    sh -c "grep -q \"\$(openssl x509 -noout -fingerprint -sha256 -in $cert | cut -d= -f2)\" '$work/server.err'"
check "the server process runs as iam-server" \
    test "$(ps -o user= -p "$(pgrep -P "$server_pid" iam-server || echo "$server_pid")" | tr -d ' ')" = iam-server
key_id=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKey"]["AccessKeyId"])' "$work/admin.json" 2>/dev/null)
secret=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["AccessKey"]["SecretAccessKey"])' "$work/admin.json" 2>/dev/null)
export key_id secret venv work port cert
aws() {
    env -i PATH=/usr/bin:/bin HOME="$work" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        AWS_ACCESS_KEY_ID="$key_id" AWS_SECRET_ACCESS_KEY="$secret" AWS_DEFAULT_REGION=us-east-1 \
        AWS_CA_BUNDLE="$cert" "$venv/bin/aws" --endpoint-url "https://localhost:$port" "$@"
}
check "aws sts get-caller-identity: the bootstrapped administrator" \
    sh -c "$(declare -f aws); aws sts get-caller-identity --query Arn --output text | grep -q ':user/iam-admin$'"
check "aws iam create-user and list-users" \
    sh -c "$(declare -f aws); aws iam create-user --user-name pkgbob >/dev/null && aws iam list-users --query 'Users[].UserName' --output text | grep -qw pkgbob"
check "aws cloudtrail lookup-events shows the CreateUser" \
    sh -c "$(declare -f aws); aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=CreateUser --query 'Events[].Username' --output text | grep -qw iam-admin"
check "SIGTERM stops the server cleanly" \
    sh -c "kill -TERM $server_pid && for i in \$(seq 1 100); do kill -0 $server_pid 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
server_pid=

# --- purge ---------------------------------------------------------------
check "apt-get purge -y iam-server" apt-get purge -y -qq iam-server
check "purge: /var/lib/iam-server gone" test ! -e /var/lib/iam-server
check "purge: /etc/iam/server.toml gone" test ! -e /etc/iam/server.toml
check "purge: user iam-server gone" sh -c "! getent passwd iam-server"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
