# Shared by bench/server/run.sh and bench/fleet/run.sh (sourced): a work
# dir cleaned up at exit, a free loopback port, waiting for an HTTPS
# endpoint, and a PostgreSQL 15 cluster of the benchmark's own. The sourcing
# script sets venv and PG_BIN, and adds the processes it starts to $pids.

pids=""
pgdir=""

work_dir() { # PREFIX: sets work; at exit, stops $pids and PostgreSQL, removes both (KEEP=1: not work)
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 700 "$work"
    trap cleanup EXIT INT TERM
}

cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$pgdir" ]; then
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdir/data" stop -m fast >/dev/null 2>&1 || true
        rm -rf "$pgdir"
    fi
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}

free_port() {
    "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_up() { # URL
    i=0
    until curl -ksf -o /dev/null "$1"; do
        i=$((i + 1)); [ $i -lt 300 ] || { echo "run.sh: $1 did not come up" >&2; exit 1; }
        sleep 0.1
    done
}

# PostgreSQL: the cluster's postmaster pid (its backends' CPU is the
# directory's share of a call; bench.py adds it up), its port and the URL
# of database iam_bench (IAM_BENCH_POSTGRES_URL instead when set).
pg_pid=""
pg_port=""
pg_url=""
start_postgres() {
    if [ -n "${IAM_BENCH_POSTGRES_URL:-}" ]; then
        pg_url=$IAM_BENCH_POSTGRES_URL
        return
    fi
    [ -x "$PG_BIN/initdb" ] || { echo "run.sh: PostgreSQL 15 is not installed ($PG_BIN)" >&2; exit 1; }
    pgdir=$(mktemp -d /tmp/iam-server-bench-pg.XXXXXX)
    chown postgres:postgres "$pgdir"
    pgport=$(free_port)
    runuser -u postgres -- "$PG_BIN/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 \
        --locale=C --no-sync > /dev/null
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$pgdir/data" -w -t 60 -l "$pgdir/log" \
        -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1" start > /dev/null
    pg_pid=$(head -1 "$pgdir/data/postmaster.pid")
    runuser -u postgres -- "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$pgport" -U postgres -d postgres \
        -c "CREATE DATABASE iam_bench" > /dev/null
    pg_port=$pgport
    pg_url="host=127.0.0.1 port=$pgport user=postgres dbname=iam_bench"
    IAM_BENCH_POSTGRES_VERSION=$("$PG_BIN/postgres" --version | cut -d' ' -f3)
    export IAM_BENCH_POSTGRES_VERSION
    echo "PostgreSQL $IAM_BENCH_POSTGRES_VERSION: pid $pg_pid, port $pgport" >&2
}

