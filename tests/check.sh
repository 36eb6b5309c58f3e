# Shared by the package tests (sourced): count checks and say each one.
# `check NAME CMD...` runs CMD with its output in "$work/last.out" (the
# sourcing script sets `work`), and shows the output's tail on failure.
passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $*"; }
not_ok() { failed=$((failed + 1)); echo "FAIL - $*"; }
check() {
    local name=$1
    shift
    if "$@" >"$work/last.out" 2>&1; then
        ok "$name"
    else
        not_ok "$name"
        sed 's/^/       | /' "$work/last.out" | tail -n 30
    fi
}
