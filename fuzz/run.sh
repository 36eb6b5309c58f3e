#!/bin/sh
# Runs every fuzz target in turn for SECONDS each (default 600), niced, with
# the grown corpus in fuzz/corpus/TARGET (seeded from fuzz/seeds/TARGET) and
# logs in fuzz/logs/TARGET.log. Crashes land in fuzz/artifacts/TARGET/.
#   fuzz/run.sh [SECONDS] [TARGET…]
# Needs cargo-fuzz; only a stable toolchain here, hence RUSTC_BOOTSTRAP=1.
set -eu
cd "$(dirname "$0")"
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-"policy_authorize host_config cli_documents login_answers extrausers_render"}
export RUSTC_BOOTSTRAP=1
nice -n 10 cargo fuzz build -O
mkdir -p logs
status=0
for t in $targets; do
    mkdir -p "corpus/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    echo "== $t: ${secs}s"
    nice -n 10 cargo fuzz run -O "$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 \
        >"logs/$t.log" 2>&1 || status=1
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)|ERROR|panicked' "logs/$t.log" || true
done
exit $status
