#!/usr/bin/env bash
# pam_iam demo host, on this machine: run as root on Debian 12 with nothing
# but this repository. It installs the build dependencies (and Rust through
# rustup if cargo is missing), builds and installs the pam-iam package,
# creates IAM user alice with a password and an MFA device (QR code on the
# terminal), a group, a login policy with an aws:SourceIp condition and a
# role, runs `iamctl setup-host --ssh --require-mfa`, starts sshd on
# 127.0.0.1:$DEMO_PORT (default 2222), logs alice in with a code from
# oathtool (and assumes the role, when iamctl has assume-role), and prints
# how to do it yourself. Safe to rerun.
#
# Undo everything: apt-get purge pam-iam; kill "$(cat /run/pam-iam-demo/sshd.pid)"
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
port=${DEMO_PORT:-2222}
state=/root/.pam-iam-demo          # alice's password and TOTP seed, 0700
run=/run/pam-iam-demo              # the demo sshd's config and pid
password_file=$state/alice.password
seed_file=$state/alice.seed

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "demo.sh: run as root (it installs a package and configures PAM)" >&2
    exit 1
fi

say "Build dependencies"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends build-essential ca-certificates curl \
    pkg-config libpam0g-dev openssh-server oathtool python3-paramiko libnss-extrausers \
    >/dev/null
if ! command -v cargo >/dev/null 2>&1; then
    [ -f "$HOME/.cargo/env" ] || curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi

say "Build and install the package (packaging/build-deb.sh)"
deb=$(packaging/build-deb.sh | tail -n 1)
apt-get install -y -qq --reinstall "./$deb" >/dev/null
dpkg-deb -c "$deb" | grep -E 'usr/bin/iamctl|security/pam_iam.so|pam-configs'

iamctl=/usr/bin/iamctl
exists() { "$iamctl" "$@" >/dev/null 2>&1; }
account=$("$iamctl" get-caller-identity | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["Account"])')
install -d -m 0700 "$state"
umask 077

say "IAM user alice with a password"
exists get-user --user-name alice || "$iamctl" create-user --user-name alice
if [ ! -s "$password_file" ]; then
    printf 'Demo-%s-9a!\n' "$(head -c 9 /dev/urandom | base64 | tr -d '/+=')" >"$password_file"
fi
password=$(cat "$password_file")
if exists get-login-profile --user-name alice; then
    printf '%s\n' "$password" | "$iamctl" update-login-profile --user-name alice >/dev/null
else
    printf '%s\n' "$password" | "$iamctl" create-login-profile --user-name alice
fi

say "Virtual MFA device for alice (scan the QR code with an authenticator app)"
serial="arn:aws:iam::$account:mfa/alice-phone"
has_device() { "$iamctl" list-mfa-devices --user-name alice | grep -q "$serial"; }
if [ -s "$seed_file" ] && has_device; then
    echo "alice already has $serial:"
    cat "$state/qr.txt" 2>/dev/null || true
else
    has_device && "$iamctl" deactivate-mfa-device --user-name alice --serial-number "$serial"
    "$iamctl" delete-virtual-mfa-device --serial-number "$serial" >/dev/null 2>&1 || true
    # Without --outfile iamctl shows the otpauth:// URI and a terminal QR
    # code (on stderr); the seed is kept for oathtool below.
    "$iamctl" create-virtual-mfa-device --virtual-mfa-device-name alice-phone 2>"$state/qr.txt"
    cat "$state/qr.txt"
    grep -o 'secret=[A-Z2-7]*' "$state/qr.txt" | head -n 1 | cut -d= -f2 >"$seed_file"
    seed=$(cat "$seed_file")
    # Two consecutive codes, from the two steps before now, so the login
    # below may use the current one (a step is never accepted twice).
    now=$(date +%s)
    if [ $((30 - now % 30)) -lt 3 ]; then sleep 4; now=$(date +%s); fi
    "$iamctl" enable-mfa-device --user-name alice --serial-number "$serial" \
        --authentication-code1 "$(oathtool --totp -b "$seed" --now=@$((now - 60)))" \
        --authentication-code2 "$(oathtool --totp -b "$seed" --now=@$((now - 30)))"
fi
seed=$(cat "$seed_file")
echo "TOTP secret (base32): $seed"

say "Group developers, a login policy with a SourceIp condition, role admin"
exists get-group --group-name developers || "$iamctl" create-group --group-name developers
"$iamctl" add-user-to-group --group-name developers --user-name alice >/dev/null 2>&1 || true
examples=$repo/packaging/examples/policies
for p in HostLoginFromPrivateNetworksWithMFA AssumeAdminRoleWithMFA RunAsOnAnyHost; do
    exists get-policy --policy-arn "arn:aws:iam::$account:policy/$p" ||
        "$iamctl" create-policy --policy-name "$p" --policy-document "file://$examples/$p.json" >/dev/null
done
"$iamctl" attach-group-policy --group-name developers \
    --policy-arn "arn:aws:iam::$account:policy/HostLoginFromPrivateNetworksWithMFA"
"$iamctl" attach-group-policy --group-name developers \
    --policy-arn "arn:aws:iam::$account:policy/AssumeAdminRoleWithMFA"
sed "s/123456789012/$account/" "$examples/AdminRoleTrustPolicy.json" >"$state/trust.json"
exists get-role --role-name admin ||
    "$iamctl" create-role --role-name admin --assume-role-policy-document "file://$state/trust.json" \
        --description "root on this host (run-as user: tag host:RunAs, default root)" >/dev/null
"$iamctl" attach-role-policy --role-name admin \
    --policy-arn "arn:aws:iam::$account:policy/RunAsOnAnyHost"
"$iamctl" list-groups-for-user --user-name alice --output table

say "setup-host: nsswitch, PAM profile, sshd drop-in"
"$iamctl" setup-host --ssh --require-mfa
"$iamctl" doctor || true

say "sshd on 127.0.0.1:$port"
install -d -m 0755 "$run" /run/sshd
if [ -s "$run/sshd.pid" ] && kill -0 "$(cat "$run/sshd.pid")" 2>/dev/null; then
    kill "$(cat "$run/sshd.pid")"
    sleep 0.5
fi
test -f /etc/ssh/ssh_host_ed25519_key || ssh-keygen -A >/dev/null
cat >"$run/sshd_config" <<EOF
# pam_iam demo sshd: the system's settings (and setup-host's drop-in), on a
# local port. PAM service "sshd" (/etc/pam.d/sshd), as the real one.
Include /etc/ssh/sshd_config.d/*.conf
Port $port
ListenAddress 127.0.0.1
PidFile $run/sshd.pid
PermitRootLogin no
EOF
/usr/sbin/sshd -f "$run/sshd_config" -E "$run/sshd.log"
sleep 0.5
echo "sshd pid $(cat "$run/sshd.pid"), log $run/sshd.log"

say "One login as alice: password + TOTP (code from oathtool), then id"
now=$(date +%s)
if [ $((30 - now % 30)) -lt 6 ]; then sleep 7; fi
/usr/bin/python3 "$repo/tests/sshd_driver.py" --port "$port" --user alice \
    --password "$password" --code "$(oathtool --totp -b "$seed")" \
    --command 'id; iamctl get-caller-identity' | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print("prompts:", r["prompts"])
print(r["stdout"] or r["error"])
sys.exit(0 if r["ok"] else 1)'

if "$iamctl" assume-role --help >/dev/null 2>&1; then
    say "Log in again (next code) and assume role admin for 15 minutes: id as root"
    now=$(date +%s)
    sleep $((30 - now % 30 + 1))
    /usr/bin/python3 "$repo/tests/sshd_driver.py" --port "$port" --user alice \
        --password "$password" --code "$(oathtool --totp -b "$seed")" \
        --command 'iamctl assume-role --role-name admin --duration-seconds 900 -- id' |
        /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["stdout"] or r["error"])
sys.exit(0 if r["ok"] else 1)'
fi

cat <<EOF

Log in yourself (wait for the next 30-second code: a code is accepted once):
    ssh -p $port alice@127.0.0.1
    Password:           $password
    Verification code:  from your phone, or: oathtool --totp -b $seed
Then, as alice, elevate for 15 minutes (the login's MFA counts; else it asks for a code):
    iamctl assume-role --role-name admin --duration-seconds 900 -- id
Check the host:   iamctl doctor
Audit trail:      tail /var/log/iam/audit.log
Password and seed are kept in $state for reruns.
EOF
