#!/usr/bin/env bash
# The package, end to end, as an admin meets it (issue 7's CI check):
# build pam-iam_*.deb, `apt-get install` it, `iamctl setup-host --ssh`,
# create an IAM user with password + MFA through the INSTALLED iamctl, log
# in over a real sshd (the installed /etc/pam.d/sshd and the setup-host
# drop-in) with password + TOTP via paramiko keyboard-interactive and run
# `id`; then `apt-get purge` and show the PAM stack and nsswitch.conf are
# back as they were and local logins (`su`, `login` through pamtester)
# still work. Root only; leaves the machine as it found it.
#
# Usage: tests/package_install.sh [--deb FILE]   (default: build one)
# Last line: "N passed, M failed"; exit status non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

if [ "$(id -u)" -ne 0 ]; then
    echo "package_install.sh: needs root (it installs a package and starts sshd)" >&2
    if [ "${CI:-}" = true ]; then echo "0 passed, 1 failed"; exit 1; fi
    echo "0 passed, 0 failed (skipped: not root)"
    exit 0
fi

deb=
if [ "${1:-}" = --deb ]; then deb=$2; fi

# shellcheck source=tests/check.sh
. tests/check.sh

export DEBIAN_FRONTEND=noninteractive
work=$(mktemp -d /tmp/pam-iam-pkgtest.XXXXXX)
chmod 0755 "$work"
port=$((20000 + RANDOM % 20000))
user=pkgalice       # the IAM user (no local account)
local_user=pkglocal # a local account that must keep working
local_pw='Local-Passw0rd!'
iam_pw='Corr3ct-Horse-Battery!'
sshd_pid=

# Other end-to-end tests publish accounts to /var/lib/extrausers and start
# sshds; take their host lock so we never run interleaved with them.
exec 9>/run/lock/pam_iam-e2e.lock
flock 9

snapshot() { # DIR: the state the purge must restore
    mkdir -p "$1"
    cp -a /etc/pam.d "$1/pam.d"
    cp -a /etc/nsswitch.conf "$1/nsswitch.conf"
    ls -A /etc/ssh/sshd_config.d >"$1/sshd_config.d.list" 2>/dev/null || true
    /usr/sbin/sshd -T >"$1/sshd-T" 2>&1 || true
}

# /etc/pam.d as in the snapshot: every file present in both is identical,
# and the stacks that matter (common-*, sshd, login, su, other) are present
# in both. (Other end-to-end tests may add or remove their own service
# files meanwhile when run by hand; CI runs them one after the other.)
pam_d_as_before() {
    local f n rc=0
    for n in common-auth common-account common-session common-session-noninteractive \
        common-password sshd login su other; do
        [ -e "$work/before/pam.d/$n" ] || continue
        [ -e "/etc/pam.d/$n" ] || { echo "missing: /etc/pam.d/$n"; rc=1; }
    done
    for f in "$work/before/pam.d"/*; do
        n=$(basename "$f")
        [ -e "/etc/pam.d/$n" ] || continue
        cmp -s "$f" "/etc/pam.d/$n" || { diff -u "$f" "/etc/pam.d/$n"; rc=1; }
    done
    return $rc
}

cleanup() {
    [ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null
    if dpkg-query -W -f='${Status}' pam-iam 2>/dev/null | grep -q 'ok installed\|config-files'; then
        apt-get purge -y -qq pam-iam >/dev/null 2>&1
    fi
    # Never leave the CI machine with a changed PAM stack or nsswitch.conf,
    # whatever failed above.
    if [ -d "$work/before/pam.d" ] && ! pam_d_as_before >/dev/null 2>&1; then
        echo "cleanup: restoring /etc/pam.d from the snapshot" >&2
        cp -a "$work/before/pam.d/." /etc/pam.d/
    fi
    if [ -f "$work/before/nsswitch.conf" ] && ! cmp -s "$work/before/nsswitch.conf" /etc/nsswitch.conf; then
        echo "cleanup: restoring /etc/nsswitch.conf from the snapshot" >&2
        cp -a "$work/before/nsswitch.conf" /etc/nsswitch.conf
    fi
    rm -f /etc/ssh/sshd_config.d/pam_iam.conf
    [ -f "$work/nsswitch.machine" ] && cp -a "$work/nsswitch.machine" /etc/nsswitch.conf
    id "$local_user" >/dev/null 2>&1 && userdel -r "$local_user" >/dev/null 2>&1
    rm -rf "/home/${user:?}" "$work"
}
trap cleanup EXIT

# --- before --------------------------------------------------------------
apt-get install -y -qq --no-install-recommends pamtester openssh-server oathtool \
    python3-paramiko libnss-extrausers >/dev/null
if dpkg-query -W -f='${Status}' pam-iam 2>/dev/null | grep -q 'ok installed\|config-files'; then
    echo "note: purging a pam-iam left installed before this test"
    apt-get purge -y -qq pam-iam >/dev/null
fi
# A host that already lists extrausers (an earlier test, an admin) would
# leave setup-host's nsswitch edit and its undo on purge untested: take the
# word out for the duration, and put the machine's file back at the end.
cp -a /etc/nsswitch.conf "$work/nsswitch.machine"
sed -i -E '/^(passwd|group):/ s/ extrausers([[:space:]]|$)/\1/' /etc/nsswitch.conf
# sshd -T (in the snapshot, and setup-host's) needs host keys and /run/sshd.
test -f /etc/ssh/ssh_host_ed25519_key || ssh-keygen -A >/dev/null
mkdir -p /run/sshd
snapshot "$work/before"
useradd -m -s /bin/bash "$local_user"
echo "$local_user:$local_pw" | chpasswd

local_logins_work() { # PHASE: su and login through PAM for a local account
    check "$1: su - $local_user runs a command" su - "$local_user" -c id
    check "$1: su by $local_user authenticates with the local password (pamtester su)" \
        runuser -u "$local_user" -- sh -c "printf '%s\n' '$local_pw' | pamtester su $local_user authenticate"
    check "$1: login service, local password (pamtester login)" \
        sh -c "printf '%s\n' '$local_pw' | pamtester login $local_user authenticate acct_mgmt"
    check "$1: login service refuses a wrong local password" \
        sh -c "! printf 'wrong\n' | pamtester login $local_user authenticate"
}

# --- build and install ---------------------------------------------------
if [ -z "$deb" ]; then
    start=$(date +%s)
    if packaging/build-deb.sh >"$work/build.log" 2>&1; then
        deb=$(tail -n 1 "$work/build.log")
        ok "build-deb.sh built $deb in $(($(date +%s) - start)) s"
    else
        not_ok "build-deb.sh"
        tail -n 30 "$work/build.log"
        echo "$passed passed, $failed failed"
        exit 1
    fi
fi
deb=$(realpath "$deb")
check "dpkg-deb -c: iamctl is setuid root (-rwsr-xr-x 0/0)" \
    sh -c "dpkg-deb -c '$deb' | grep -E '^-rwsr-xr-x 0/0 .* \./usr/bin/iamctl$'"
check "dpkg-deb -c: pam_iam.so in the multiarch security dir" \
    sh -c "dpkg-deb -c '$deb' | grep -q ' ./usr/lib/x86_64-linux-gnu/security/pam_iam.so$'"
check "apt-get install ./$(basename "$deb")" apt-get install -y -qq "$deb"
check "installed /usr/bin/iamctl is mode 4755 root" test "$(stat -c '%a %U' /usr/bin/iamctl)" = "4755 root"
check "postinst: /etc/iam/iam.toml created, root, not writable by others" \
    sh -c "test \"\$(stat -c '%U %a' /etc/iam/iam.toml)\" = 'root 600' -o \"\$(stat -c '%U %a' /etc/iam/iam.toml)\" = 'root 644'"
check "postinst: store /var/lib/iam/iam.db is 0600 root" test "$(stat -c '%a %U' /var/lib/iam/iam.db)" = "600 root"
check "postinst: /var/lib/iam and /var/log/iam are 0700" \
    test "$(stat -c '%a' /var/lib/iam /var/log/iam | sort -u)" = 700
check "installed /usr/sbin/iam-agent runs (--version)" /usr/sbin/iam-agent --version
check "iam-agent.service installed, started only once /etc/iam/agent.toml exists" \
    grep -qx 'ConditionPathExists=/etc/iam/agent.toml' /usr/lib/systemd/system/iam-agent.service
check "install did not touch the PAM stack (module off by default)" pam_d_as_before
check "install did not touch nsswitch.conf" cmp "$work/before/nsswitch.conf" /etc/nsswitch.conf

# An admin's edit of iam.toml survives a reinstall (postinst never rewrites it).
echo "# admin was here" >>/etc/iam/iam.toml
apt-get install -y -qq --reinstall "$deb" >/dev/null 2>&1
check "reinstall keeps the admin's iam.toml edit" grep -q '^# admin was here' /etc/iam/iam.toml

# --- an IAM user through the installed iamctl ----------------------------
iamctl=/usr/bin/iamctl
check "iamctl create-user $user" $iamctl create-user --user-name "$user"
check "iamctl create-login-profile (password on stdin)" \
    sh -c "printf '%s\n' '$iam_pw' | $iamctl create-login-profile --user-name $user"
cat >"$work/login.json" <<'EOF'
{"Version":"2012-10-17","Statement":[{"Sid":"LoginFromLoopbackWithMFA","Effect":"Allow",
 "Action":"host:Login","Resource":"arn:aws:host::*:host/*",
 "Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.0/8"},
              "Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}
EOF
check "iamctl put-user-policy (host:Login from 127.0.0.0/8 with MFA)" \
    $iamctl put-user-policy --user-name "$user" --policy-name LoginFromLoopback \
    --policy-document "file://$work/login.json"
$iamctl create-virtual-mfa-device --virtual-mfa-device-name "$user-phone" \
    --outfile "$work/seed" --bootstrap-method Base32StringSeed >"$work/mfa.json" 2>&1
serial=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["VirtualMFADevice"]["SerialNumber"])' "$work/mfa.json" 2>/dev/null)
seed=$(tr -d '[:space:]' <"$work/seed" 2>/dev/null)
if [ -n "$serial" ] && [ -n "$seed" ]; then ok "iamctl create-virtual-mfa-device ($serial)"; else not_ok "create-virtual-mfa-device"; cat "$work/mfa.json"; fi
# Two consecutive codes from the two steps before now, so a login in this
# step may use the current code (a step is never accepted twice).
now=$(date +%s)
if [ $((30 - now % 30)) -lt 3 ]; then sleep 4; now=$(date +%s); fi
check "iamctl enable-mfa-device (two consecutive oathtool codes)" \
    $iamctl enable-mfa-device --user-name "$user" --serial-number "$serial" \
    --authentication-code1 "$(oathtool --totp -b "$seed" --now=@$((now - 60)))" \
    --authentication-code2 "$(oathtool --totp -b "$seed" --now=@$((now - 30)))"

# [group_map]: the IAM group pkgops grants the local group adm at login
# (pam_iam's setcred, which the packaged profile must let run).
sed -i 's/^\[group_map\].*/&\npkgops = ["adm"]/' /etc/iam/iam.toml
check "iam.toml: [group_map] pkgops = [\"adm\"]" grep -qx 'pkgops = \["adm"\]' /etc/iam/iam.toml
check "iamctl create-group pkgops; add-user-to-group" \
    sh -c "$iamctl create-group --group-name pkgops >/dev/null && $iamctl add-user-to-group --group-name pkgops --user-name $user"

# --- setup-host ------------------------------------------------------------
check "iamctl setup-host --ssh --dry-run changes nothing" \
    sh -c "$iamctl setup-host --ssh --dry-run && cmp '$work/before/nsswitch.conf' /etc/nsswitch.conf && ! grep -q pam_iam /etc/pam.d/common-auth && test ! -e /etc/ssh/sshd_config.d/pam_iam.conf"
# sshd's own AuthorizedKeysFile, which the drop-in must keep (before ours),
# and its whole effective configuration, which purge must give back.
/usr/sbin/sshd -T 2>/dev/null | sed -n 's/^authorizedkeysfile //p' >"$work/authorizedkeysfile.before"
check "iamctl setup-host --ssh" $iamctl setup-host --ssh
cat "$work/last.out"
check "setup-host: nsswitch.conf passwd and group use extrausers" \
    sh -c "grep -Eq '^passwd:.*extrausers' /etc/nsswitch.conf && grep -Eq '^group:.*extrausers' /etc/nsswitch.conf"
check "setup-host: pam_iam in common-auth (no guard: it would skip setcred) and common-account (behind pam_localuser)" \
    sh -c "grep -q pam_iam.so /etc/pam.d/common-auth && ! grep -B1 pam_iam.so /etc/pam.d/common-auth | grep -q pam_localuser && grep -B1 pam_iam.so /etc/pam.d/common-account | grep -q pam_localuser"
check "setup-host: sshd drop-in written" grep -qx 'KbdInteractiveAuthentication yes' /etc/ssh/sshd_config.d/pam_iam.conf
check "setup-host: the drop-in keeps sshd's own AuthorizedKeysFile and adds the published keys by uid (%U)" \
    grep -qxF "AuthorizedKeysFile $(cat "$work/authorizedkeysfile.before") /var/lib/iam-ssh/%U" /etc/ssh/sshd_config.d/pam_iam.conf
check "setup-host again: nothing to change" sh -c "$iamctl setup-host --ssh | grep -q 'nothing to change'"
check "getent passwd $user (extrausers)" getent passwd "$user"
$iamctl doctor >"$work/doctor.out" 2>&1
sed 's/^/       doctor| /' "$work/doctor.out"
check "doctor: PAM stacks of sshd and login OK" \
    sh -c "test \$(grep -c '^OK   pam.d/\(sshd\|login\): \(auth\|account\): pam_iam.so in place' '$work/doctor.out') = 4"
check "doctor: no FAIL except the clock" sh -c "! grep '^FAIL' '$work/doctor.out' | grep -v '^FAIL clock:'"

# --- a real sshd: the installed PAM service and the setup-host drop-in -----
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$work/hostkey"
cat >"$work/sshd_config" <<EOF
# A private sshd on 127.0.0.1:$port; the Include makes it read the
# drop-in setup-host wrote, which must override the defaults below.
Include /etc/ssh/sshd_config.d/*.conf
Port $port
ListenAddress 127.0.0.1
HostKey $work/hostkey
PidFile $work/sshd.pid
KbdInteractiveAuthentication no
PasswordAuthentication no
PubkeyAuthentication no
PermitRootLogin no
EOF
# Debian's sshd names its PAM service after argv[0]: /usr/sbin/sshd -> "sshd".
/usr/sbin/sshd -D -e -f "$work/sshd_config" -E "$work/sshd.log" &
sshd_pid=$!
for _ in $(seq 50); do
    /usr/bin/python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
    sleep 0.1
done
login() { # PASSWORD CODE -> driver JSON
    /usr/bin/python3 tests/sshd_driver.py --port "$port" --user "$user" \
        --password "$1" --code "$2" --command id
}
now=$(date +%s)
if [ $((30 - now % 30)) -lt 6 ]; then sleep 7; fi
code=$(oathtool --totp -b "$seed")
login "$iam_pw" "$code" >"$work/login.json.out" 2>&1
cat "$work/login.json.out"
check "ssh login with password + TOTP, id shows the extrausers uid and the [group_map] group adm" \
    /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"], r
assert "(%s)" % sys.argv[2] in r["stdout"], r
assert "(adm)" in r["stdout"], r
assert any(p.strip().startswith("Verification code") for p in r["prompts"]), r
' "$work/login.json.out" "$user"
check "the same code again is refused (replay)" \
    sh -c "login() { /usr/bin/python3 tests/sshd_driver.py --port $port --user $user --password '$iam_pw' --code $code --command id; }; login | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(1 if r[\"ok\"] else 0)'"
check "a wrong password is refused" \
    sh -c "/usr/bin/python3 tests/sshd_driver.py --port $port --user $user --password wrong --code \$(oathtool --totp -b $seed --now=@\$((\$(date +%s) + 30))) --command id | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(1 if r[\"ok\"] else 0)'"
check "sshd did not crash" sh -c "kill -0 $sshd_pid && ! grep -qi 'signal\|segfault' '$work/sshd.log'"
check "audit log has the Login event" grep -q '"eventName":"Login"' /var/log/iam/audit.log
local_logins_work "while enabled"
kill "$sshd_pid" 2>/dev/null
wait "$sshd_pid" 2>/dev/null
sshd_pid=

# --- purge ---------------------------------------------------------------
check "apt-get purge -y pam-iam" apt-get purge -y -qq pam-iam
check "purge: /etc/pam.d is back to its state before install" pam_d_as_before
check "purge: nsswitch.conf is back to its state before install" diff "$work/before/nsswitch.conf" /etc/nsswitch.conf
check "purge: sshd drop-in removed" test ! -e /etc/ssh/sshd_config.d/pam_iam.conf
check "purge: sshd_config.d as before" sh -c "ls -A /etc/ssh/sshd_config.d 2>/dev/null | diff '$work/before/sshd_config.d.list' -"
check "purge: sshd's effective configuration (sshd -T) as before" sh -c "/usr/sbin/sshd -T 2>&1 | diff '$work/before/sshd-T' -"
check "purge: /etc/iam, /var/lib/iam, /var/log/iam gone" \
    sh -c "test ! -e /etc/iam -a ! -e /var/lib/iam -a ! -e /var/log/iam"
check "purge: $user no longer resolves" sh -c "! getent passwd $user"
check "purge: no pam_iam.so left" sh -c "! ls /usr/lib/*/security/pam_iam.so 2>/dev/null"
local_logins_work "after purge"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
