#!/bin/sh
# iam-server side by side with moto (issue 13): builds the release server,
# starts the targets, seeds them, runs bench.py against all of them
# interleaved (the Rust load generator iam-load for throughput and latency,
# and the same calls through boto3), prints Markdown tables. As root
# (server.toml must be root's).
#
#   bench/server/run.sh                      # SQLite, 100,000 users; moto 1,000
#   IAM_USERS=10000 MOTO_USERS=1000 CALLS=200 bench/server/run.sh
#   LOAD_SECONDS=5 LOAD_CONCURRENCY=32 LOW_CONCURRENCY=4 bench/server/run.sh  # iam-load's batches
#   BOTO3=0 bench/server/run.sh              # iam-load only, no boto3 batches
#   PERF=1 OPS="ListUsers (first page)" bench/server/run.sh   # perf record the first iam-server
#   AB_SERVER=/tmp/iam-server-before OPS=ListUsers… bench/server/run.sh  # A/B two builds
#   BACKENDS="sqlite postgres" bench/server/run.sh  # and PostgreSQL 15, a cluster of its own
#   BACKENDS=postgres IAM_BENCH_POSTGRES_URL="host=… port=… user=… dbname=…" bench/server/run.sh
#
# With postgres in BACKENDS and no IAM_BENCH_POSTGRES_URL, run.sh starts a
# PostgreSQL 15 cluster of its own (initdb + pg_ctl as the postgres user, on
# a loopback port, PostgreSQL's defaults: fsync on, as SQLite's
# synchronous=FULL) and removes it afterwards. A given URL must name an
# empty database the server can migrate.
#
# Targets: iam-server per backend with IAM_USERS users, iam-server (SQLite)
# with MOTO_USERS users (like for like with moto), and moto_server with
# MOTO_USERS users. See bench/README.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${IAM_VENV:-/opt/iam-venv}
IAM_USERS=${IAM_USERS:-100000}
MOTO_USERS=${MOTO_USERS:-1000}
BACKENDS=${BACKENDS:-sqlite}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

[ "$(id -u)" = 0 ] || { echo "run.sh: as root (server.toml must be root's)" >&2; exit 1; }

echo "building the release iam-server, iam-bench-seed and iam-load…" >&2
(cd "$repo" && cargo build --release --locked -q -p iam-server -p iam-bench --bin iam-server \
    --bin iam-bench-seed --bin iam-load)
server=$repo/target/release/iam-server
seed=$repo/target/release/iam-bench-seed
load=$repo/target/release/iam-load

# free_port, wait_up, start_postgres (sets pg_pid, pg_url, pgdir), and
# the work dir "$work" removed at exit with everything in $pids.
# shellcheck source=bench/common.sh
. "$here/../common.sh"
work_dir iam-server-bench

targets="[]"
add_target() { # JSON object
    targets=$("$venv/bin/python" -c 'import json,sys; t=json.loads(sys.argv[1]); t.append(json.loads(sys.argv[2])); print(json.dumps(t))' "$targets" "$1")
}

# iam-server NAME BACKEND USERS LABEL
start_iam() {
    dir=$work/$1
    mkdir -m 700 "$dir"
    port=$(free_port)
    {
        echo 'account_id = "123456789012"'
        echo "listen = \"127.0.0.1:$port\""
        echo 'state_dir = "state"'
        if [ "$2" = postgres ]; then
            echo '[postgres]'
            echo "url = \"$pg_url\""
        fi
    } > "$dir/server.toml"
    chmod 600 "$dir/server.toml"
    key=$("$bin" --config "$dir/server.toml" bootstrap --user-name bench-admin)
    via_api=true
    note="seeded through the API"
    if [ "$3" -gt 0 ]; then
        # Straight into the directory (SQLite or PostgreSQL, opened from
        # server.toml as the server opens it), one transaction, before the
        # server starts (bench/src/bin/iam-bench-seed.rs).
        note=$("$seed" "$dir/server.toml" "$3")
        via_api=false
    fi
    "$bin" --config "$dir/server.toml" > "$dir/requests.jsonl" 2> "$dir/server.err" &
    pid=$!
    pids="$pids $pid"
    wait_up "https://localhost:$port/healthz"
    add_target "$("$venv/bin/python" -c '
import json, sys
k = json.loads(sys.argv[1])["AccessKey"]
print(json.dumps({"label": sys.argv[2], "kind": "iam-server", "endpoint": "https://localhost:" + sys.argv[3],
    "ca_bundle": sys.argv[4], "key_id": k["AccessKeyId"], "secret": k["SecretAccessKey"],
    "pid": int(sys.argv[5]), "users": int(sys.argv[6]), "seed_via_api": sys.argv[7] == "true",
    "seed_note": sys.argv[8], "db_pid": int(sys.argv[9]) if sys.argv[9] else None}))' \
        "$key" "$4" "$port" "$dir/state/tls/cert.pem" "$pid" "$3" "$via_api" "$note" \
        "$([ "$2" = postgres ] && echo "$pg_pid")")"
    echo "$4: pid $pid, port $port ($note)" >&2
}

umask 077
case " $BACKENDS " in *" postgres "*) start_postgres ;; esac
bin=$server
for b in $BACKENDS; do
    start_iam "iam-$b" "$b" "$IAM_USERS" "iam-server ($b, $IAM_USERS users)"
done
if [ -n "${AB_SERVER:-}" ]; then
    # A/B: another iam-server binary (e.g. main's) at the same size,
    # interleaved with this one.
    bin=$AB_SERVER
    start_iam iam-ab sqlite "$IAM_USERS" "$(basename "$AB_SERVER") (sqlite, $IAM_USERS users)"
    bin=$server
fi
start_iam iam-small sqlite "$MOTO_USERS" "iam-server (sqlite, $MOTO_USERS users)"

port=$(free_port)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto_pid=$!
pids="$pids $moto_pid"
wait_up "http://127.0.0.1:$port/moto-api/"
add_target "{\"label\": \"moto ($MOTO_USERS users)\", \"kind\": \"moto\", \"endpoint\": \"http://127.0.0.1:$port\",
  \"key_id\": \"testing\", \"secret\": \"testing\", \"pid\": $moto_pid, \"users\": $MOTO_USERS,
  \"seed_via_api\": true, \"seed_note\": \"seeded through the API (moto keeps everything in memory; ListUsers ignores MaxItems and returns every user)\"}"
echo "moto: pid $moto_pid, port $port" >&2

printf '%s\n' "$targets" > "$work/targets.json"
perf_pid=""
if [ -n "${PERF:-}" ]; then
    # Profile the first iam-server for the whole run (perf's own overhead
    # then weighs on it: a profiling run, not a measuring one).
    first=$(echo "$targets" | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
    perf record -q -F 499 --call-graph dwarf,16384 -p "$first" -o "${PERF_OUT:-/tmp/iam-server-bench.perf.data}" 2>/dev/null &
    perf_pid=$!
fi
IAM_SERVER_VERSION="$("$server" --version | cut -d' ' -f2) ($(git -C "$repo" rev-parse --short HEAD))" \
    "$venv/bin/python" "$here/bench.py" --targets "$work/targets.json" \
    --calls "${CALLS:-400}" --list-calls "${LIST_CALLS:-60}" --rounds "${ROUNDS:-3}" \
    --procs "${PROCS:-4}" --json "${JSON_OUT:-$work/results.json}" ${OPS:+--ops "$OPS"} \
    --load "$load" --load-seconds "${LOAD_SECONDS:-5}" \
    --load-concurrency "${LOAD_CONCURRENCY:-32}" --low-concurrency "${LOW_CONCURRENCY:-4}" \
    $([ "${BOTO3:-1}" = 0 ] && echo --no-boto3)
if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
