#!/usr/bin/env bash
# The test runner behind `make test`: runs unit binaries (TAP), the same binaries
# built with ASan/UBSan, the bats CLI suite and the smoke pipelines, and ends with
# the single line "N passed, N failed" (exit status 1 if any failed).
set -uo pipefail

bin=bin unit="" asan="" cli="" smoke=""
while [ $# -gt 0 ]; do
    case $1 in
        --bin) bin=$2; shift 2 ;;
        --unit) unit=$2; shift 2 ;;
        --asan) asan=$2; shift 2 ;;
        --cli) cli=$2; shift 2 ;;
        --smoke) smoke=$2; shift 2 ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/$bin:$PATH"
pass=0 fail=0
# Threads that wait passively cost nothing on a busy machine; results do not change.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# count_tap LABEL STATUS FILE: adds a TAP log's ok / not ok lines to the totals;
# a non-zero exit with no failing line (a crash, a sanitizer abort) is one failure.
count_tap() {
    local label=$1 status=$2 file=$3 ok bad
    ok=$(grep -c '^ok ' "$file" || true)
    bad=$(grep -c '^not ok ' "$file" || true)
    if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1
        echo "not ok - $label exited with status $status"
        tail -n 20 "$file" | sed 's/^/#   /'
    fi
    pass=$((pass + ok)) fail=$((fail + bad))
}

run_binary() {  # LABEL BINARY
    local out="$log/out" status
    echo "# $1"
    OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} "$2" > "$out" 2>&1
    status=$?
    grep -v '^1\.\.' "$out" | grep -E '^(not ok|#)' || true
    echo "# $(grep -c '^ok ' "$out" || true) ok"
    count_tap "$1" "$status" "$out"
}

for t in $unit; do
    run_binary "unit $(basename "$t")" "$t"
done

if [ -n "$asan" ]; then
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
    for t in $unit; do
        run_binary "asan $(basename "$t")" "$asan/$(basename "$t")"
    done
    unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if [ -n "$cli" ]; then
    echo "# bats $cli"
    out="$log/bats"
    BATS_LIB_PATH=/usr/lib/bats bats --tap "$cli" > "$out" 2>&1
    status=$?
    grep -E '^(not ok|#)' "$out" || true
    echo "# $(grep -c '^ok ' "$out" || true) ok"
    count_tap "bats" "$status" "$out"
fi

for s in $smoke; do
    echo "# smoke $s"
    if bash "$s" > "$log/smoke" 2>&1; then
        pass=$((pass + 1)); echo "ok - smoke $(basename "$s")"
    else
        fail=$((fail + 1)); echo "not ok - smoke $(basename "$s")"
        tail -n 30 "$log/smoke" | sed 's/^/#   /'
    fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
