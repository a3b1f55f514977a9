#!/usr/bin/env bats
# Every numeric option of every tool refuses NaN, Inf and values outside its
# range with exit status 2 and writes nothing.  The option list comes from
# each tool's own parser table (the hidden --help-options dump), so a new
# option is covered the day it is added.

load helper

setup() { cd "$BATS_TEST_TMPDIR"; }

tools() { for t in "$(bin_dir)"/*; do [ -x "$t" ] && basename "$t"; done; }

# below/above: a value just outside a finite bound, or nothing.
outside() {
    "$PY" - "$1" "$2" "$3" <<'PY'
import sys, math
kind, lo, hi = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
out = []
if math.isfinite(lo):
    out.append(str(int(lo) - 1) if kind in ("int", "long") else (repr(-1.0) if lo == 0 else (repr(-abs(lo)) if lo > 0 else repr(lo * 2 - 1))))
if math.isfinite(hi):
    out.append(str(int(hi) + 1) if kind in ("int", "long") else repr(hi * 2 + 1 if hi > 0 else hi / 2 + 1))
print(" ".join(out))
PY
}

@test "every tool dumps its option table, and every numeric option states a range or refuses only NaN/Inf" {
    local n=0
    for t in $(tools); do
        run --separate-stderr "$t" --help-options
        assert_success
        [ -n "$output" ] || fail "$t: empty --help-options"
        n=$((n + 1))
    done
    [ "$n" -ge 15 ]
}

@test "every numeric option of every tool: NaN, Inf and out-of-range values exit 2 and write nothing" {
    local checked=0 bad=()
    for t in $(tools); do
        local has_out=0
        "$t" --help-options | cut -f1 | grep -qx output && has_out=1
        while IFS=$'\t' read -r name kind lo hi; do
            case $kind in int | long | double | number) ;; *) continue ;; esac
            local vals=(nan inf -inf 1e999)
            [ "$kind" = int ] || [ "$kind" = long ] && vals=(nan 1.5 99999999999999999999999)
            vals+=($(outside "$kind" "$lo" "$hi"))
            for v in "${vals[@]}"; do
                rm -rf w && mkdir w
                local args=("--$name=$v")
                [ $has_out = 1 ] && args=(-o out "--$name=$v")
                set +e
                (cd w && "$t" "${args[@]}" < /dev/null > stdout 2> stderr)
                local rc=$?
                set -e
                checked=$((checked + 1))
                if [ $rc -ne 2 ] || [ -s w/stdout ] || [ -n "$(ls w | grep -v '^std')" ] || ! grep -q -- "--$name" w/stderr; then
                    bad+=("$t --$name=$v: status $rc, files: $(ls w | tr '\n' ' ') $(head -c 200 w/stderr)")
                fi
            done
        done < <("$t" --help-options)
    done
    [ "${#bad[@]}" -eq 0 ] || { printf '%s\n' "${bad[@]}"; false; }
    [ "$checked" -gt 200 ]
}

@test "the issue's cases: NaN rates, negative grf alpha, negative modes and steps exit 2" {
    run fno-train --lr-gamma nan -o m x.tsr
    assert_failure 2
    run ns-gen --init grf --grf-alpha -3 -o o.tsr
    assert_failure 2
    assert_output --partial "--grf-alpha"
    [ ! -e o.tsr ]
    run pd-sample --kappa nan generate
    assert_failure 2
    run pd-sample --lambda-max nan generate
    assert_failure 2
    run pd-train --modes -5 -o m x.tsr
    assert_failure 2
    run fno-train --steps -1 -o m x.tsr
    assert_failure 2
    assert_output --partial "out of range"
}

@test "defaults inside a range are shown in --help; sentinel defaults are not" {
    run fno-train --help
    assert_output --partial "--lr-gamma X"
    assert_output --partial "(default: 0.5)"
    run ns-gen --help
    refute_output --partial "(default: (null))"
    refute_output --partial "(default: nan)"
}
