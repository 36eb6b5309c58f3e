#!/bin/sh
# CI smoke run of every fuzz target (~6 s each, ~30 s in all) so they keep
# building and the seed corpora keep passing. No corpus is kept.
#   fuzz/ci-smoke.sh   (needs cargo-fuzz: cargo install cargo-fuzz --locked)
set -eu
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
# The stable toolchain's ASan runtime may be missing: fall back to no sanitizer.
san=address
cargo fuzz build -O -s address >/dev/null 2>&1 || san=none
cargo fuzz build -O -s "$san"
for t in $(cargo fuzz list); do
    work=$(mktemp -d)
    echo "== $t"
    cargo fuzz run -O -s "$san" "$t" "$work" seeds/"$t" -- \
        -max_total_time=6 -timeout=20 -rss_limit_mb=4096 2>&1 | tail -n 3
    rm -rf "$work"
done
