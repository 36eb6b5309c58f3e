#!/bin/sh
# Fleet benchmark (issue 14): iam-server on PostgreSQL and HOSTS simulated
# hosts on this machine, each with its own iam.toml, replica and iam-agent
# (release builds); fleet.py measures propagation p50/p99, the server's CPU
# per idle host and a new host's snapshot at 100,000 users / 10,000
# policies, and prints Markdown. As root (the agents' files must be
# root's). See bench/README.md, "Fleet".
#
#   bench/fleet/run.sh
#   HOSTS=10 WRITES=20 IDLE_SECONDS=10 SNAPSHOT_USERS=10000 SNAPSHOT_POLICIES=1000 bench/fleet/run.sh
#
# PostgreSQL: a cluster of its own (bench/common.sh), or
# IAM_BENCH_POSTGRES_URL naming an empty database. BACKEND=sqlite: the
# server's embedded SQLite directory instead (seeding 100,000 users into
# PostgreSQL through the store takes minutes on a loaded machine; SQLite
# seconds):
#
#   BACKEND=sqlite HOSTS=1 WRITES=1 IDLE_SECONDS=1 BASELINE_SECONDS=1 bench/fleet/run.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${IAM_VENV:-/opt/iam-venv}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

[ "$(id -u)" = 0 ] || { echo "run.sh: as root (the hosts' files must be root's)" >&2; exit 1; }

echo "building the release iam-server, iam-agent, iamctl and iam-bench-seed…" >&2
(cd "$repo" && cargo build --release --locked -q -p iam-server -p iam-agent -p iamctl \
    -p iam-bench --bin iam-server --bin iam-agent --bin iamctl --bin iam-bench-seed)
bin=$repo/target/release

# free_port, wait_up, start_postgres (sets pg_pid, pg_url, pgdir), and
# the work dir "$work" removed at exit with everything in $pids.
# shellcheck source=bench/common.sh
. "$here/../common.sh"
work_dir iam-fleet-bench

umask 077
BACKEND=${BACKEND:-postgres}
[ "$BACKEND" = sqlite ] || start_postgres
port=$(free_port)
mkdir -m 700 "$work/server"
cat > "$work/server/server.toml" <<EOF
account_id = "123456789012"
listen = "127.0.0.1:$port"
state_dir = "state"
EOF
if [ "$BACKEND" != sqlite ]; then
    printf '[postgres]\nurl = "%s"\n' "$pg_url" >> "$work/server/server.toml"
fi
# The administrator's access key, in a file of the work dir (0600), never argv.
"$bin/iam-server" --config "$work/server/server.toml" bootstrap --user-name bench-admin \
    > "$work/admin-key.json"
"$bin/iam-server" --config "$work/server/server.toml" > /dev/null 2> "$work/server/server.err" &
server_pid=$!
pids="$server_pid"
wait_up "https://localhost:$port/healthz"
fingerprint=$(sed -n 's/.*SHA-256 fingerprint //p' "$work/server/server.err" | tail -n 1)
echo "iam-server: pid $server_pid, port $port, fingerprint $fingerprint" >&2

IAM_SERVER_VERSION="$("$bin/iam-server" --version | cut -d' ' -f2) ($(git -C "$repo" rev-parse --short HEAD))" \
    "$venv/bin/python" "$here/fleet.py" \
    --endpoint "https://localhost:$port" --ca-bundle "$work/server/state/tls/cert.pem" \
    --fingerprint "$fingerprint" \
    --admin-key "$work/admin-key.json" \
    --server-pid "$server_pid" ${pg_pid:+--db-pid "$pg_pid"} \
    --server "$bin/iam-server" --host-policy "$repo/config/policies/IamHostAgent.json" \
    --agent "$bin/iam-agent" --iamctl "$bin/iamctl" --seed "$bin/iam-bench-seed" \
    --server-toml "$work/server/server.toml" --work "$work" --json "${JSON_OUT:-$work/results.json}" \
    --hosts "${HOSTS:-50}" --writes "${WRITES:-100}" --idle-seconds "${IDLE_SECONDS:-60}" \
    --baseline-seconds "${BASELINE_SECONDS:-30}" --snapshot-users "${SNAPSHOT_USERS:-100000}" \
    --snapshot-policies "${SNAPSHOT_POLICIES:-10000}" --snapshot-runs "${SNAPSHOT_RUNS:-3}"
