#!/usr/bin/env bash
# OpenMP's idle-thread spinning, alone and on a shared machine (issue 15).
# Many tiny parallel regions: 100 fno-train steps of a tiny model on 16²
# fields, two threads, under three wait settings: libgomp's own default
# (300000 spins; EDDY_NO_REEXEC=1, the behaviour before cli_parse chose one),
# the tools' default (OMP_WAIT_POLICY=passive, set by cli_parse's re-exec,
# lib/cli.c) and OMP_WAIT_POLICY=active.  "shared" runs the same beside one
# busy loop per core, as on a machine other jobs use.  Best of 3 wall times;
# figures only, never pass/fail.
set -uo pipefail
bin=$2
cores=$(nproc)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_WAIT_POLICY=passive
"$bin/ns-gen" --preset closure --closure --n 32 --out-grid 16 --spinup 3.9478417604357434 \
    --interval 0.39478417604357434 --frames 6 --count 2 -q -o "$tmp/ns.tsr"
"$bin/closure-cond" --term G --obs-n 4 "$tmp/ns.tsr" > "$tmp/cond.tsr"
unset OMP_WAIT_POLICY
work=("$bin/fno-train" --width 4 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4
      --steps ${SPIN_STEPS:-100} -q -j 2 -o "$tmp/m.tsr" "$tmp/cond.tsr")
best() {
    local b=
    for _ in 1 2 3; do
        local s e
        s=$(date +%s.%N)
        env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$@" "${work[@]}" > /dev/null
        e=$(date +%s.%N)
        b=$(awk -v a="$s" -v z="$e" -v b="$b" 'BEGIN { t = z - a; print (b == "" || t < b) ? t : b }')
    done
    echo "$b"
}
run_all() {
    local d t a
    d=$(best EDDY_NO_REEXEC=1)
    t=$(best)
    a=$(best OMP_WAIT_POLICY=active)
    printf '%-7s libgomp default %7.2fs   tools default (passive) %7.2fs   active %7.2fs   libgomp/tools %.2fx\n' \
        "$1" "$d" "$t" "$a" "$(awk -v x="$d" -v y="$t" 'BEGIN { print x / y }')"
}
echo "spin: 100 tiny fno-train steps, 2 threads ($cores cores; best of 3; 'alone' is only as alone as the machine is)"
run_all alone
pids=()
for _ in $(seq 1 "$cores"); do
    (while :; do :; done) &
    pids+=($!)
done
run_all shared
kill "${pids[@]}"
wait 2> /dev/null
