#!/usr/bin/env bats
# The OpenMP wait policy the tools choose (lib/cli.c, wait_policy): passive
# unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, applied by one
# re-exec before any work, and without changing a byte of output.  The speed
# it buys on a shared machine is measured by bench/spin.sh (make bench), not
# here.

load helper

setup() { cd "$BATS_TEST_TMPDIR"; }

SLOW=(ns-gen --n 64 --frames 100000 --spinup 0 --interval 0.01 --out-grid 8 -q -o o.tsr)

# policy_of ENV...: the OMP_WAIT_POLICY in the environment of a running tool.
policy_of() {
    env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$@" "${SLOW[@]}" &
    local pid=$! i
    for i in $(seq 1 400); do
        compgen -G "o.tsr.tmp.*" > /dev/null && break
        sleep 0.05
    done
    tr '\0' '\n' < /proc/$pid/environ | grep -E '^(OMP_WAIT_POLICY|GOMP_SPINCOUNT)=' | sort | tr '\n' ' '
    kill $pid
    wait $pid || true
}

@test "without a user setting the tools run with OMP_WAIT_POLICY=passive" {
    [ -r /proc/self/environ ] || skip "no /proc"
    run policy_of
    assert_output "OMP_WAIT_POLICY=passive "
}

@test "a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept" {
    [ -r /proc/self/environ ] || skip "no /proc"
    run policy_of OMP_WAIT_POLICY=active
    assert_output "OMP_WAIT_POLICY=active "
    run policy_of GOMP_SPINCOUNT=5000
    assert_output "GOMP_SPINCOUNT=5000 "
}

@test "the re-exec changes no byte of output, and history records the command once" {
    env -u OMP_WAIT_POLICY ns-gen --n 16 --frames 3 --spinup 0.1 --interval 0.05 --out-grid 8 --count 2 -j 2 > a.tsr
    OMP_WAIT_POLICY=active ns-gen --n 16 --frames 3 --spinup 0.1 --interval 0.05 --out-grid 8 --count 2 -j 2 > b.tsr
    cmp a.tsr b.tsr
    run tsr-info --attrs a.tsr
    assert_output --partial "history=ns-gen --n 16"
}
