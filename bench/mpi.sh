#!/bin/bash
# Data-parallel training throughput (lib/cli_dist.h): pd-train on the L96 and KF
# `small` configurations (the FNO rows' ARCH and BATCH of pipelines/pdd-l96.mk and
# pdd-kf.mk at SCALE=small) as 1 process × 1 thread, 1 process × 2 OpenMP
# threads and 2 MPI ranks × 1 thread, all with the same global batch.  Seconds
# per step come from the loss log (last step's time minus the first's, over
# the steps between), so start-up and data reading are left out.  Prints the
# steps per second of each and the scaling ratios of 2 ranks against 1×1 (goal
# ≥ 1.8) and against 1×2 (goal ≥ 1).  The three run back to back, ROUNDS times
# interleaved; the best round of each counts.  Also the CPU seconds per step
# (user + system of the whole run, every rank and thread, start-up included):
# when other processes hold the cores, the wall-clock ratios say little, and
# 2 ranks costing about the CPU of 1×1 says what they would give on idle
# cores.  Never fails on time.
#   bench/mpi.sh BUILD_BENCH_DIR BIN_DIR   (STEPS=30, ROUNDS=1, CONFIGS="l96 kf")
set -u
BIN=${2:-bin}
STEPS=${STEPS:-30}
ROUNDS=${ROUNDS:-1}
CONFIGS=${CONFIGS:-l96 kf}
export PATH="$BIN:$PATH" OMP_WAIT_POLICY=passive
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
command -v mpirun > /dev/null || { echo "# mpirun missing (openmpi-bin): skipped"; exit 0; }
ldd "$BIN/pd-train" | grep libmpi > /dev/null || { echo "# pd-train built without MPI: skipped"; exit 0; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# The small configurations' network and batch; data of the same shape (fewer
# paths and a short spin-up: the cost of a step depends on neither).
arch_of() {
    case $1 in
        l96) echo "--arch fno --width 32 --layers 4 --modes 32 --lr 1e-3 --lr-decay-steps 2000 --clip 1 --checkpoint-every 500 --batch 8" ;;
        kf) echo "--arch fno --width 24 --layers 4 --modes 12 --lr 1e-3 --lr-decay-steps 1000 --clip 1 --checkpoint-every 500 --batch 2" ;;
    esac
}
l96-gen --spinup 1 --count 16 -q -o "$tmp/l96.tsr" || exit 0
ns-gen --preset kolmogorov --n 64 --out-grid 40 --spinup 0.5 --count 4 -q -o "$tmp/kf.tsr" || exit 0

# step_seconds LOG: seconds per step between the first and the last logged step.
step_seconds() { awk -F'\t' 'NR == 2 { s = $1; t = $5 } END { printf "%.6f\n", ($5 - t) / ($1 - s) }' "$1"; }

# run CFG KIND: one timed training; prints seconds per step and CPU seconds per step.
run() {
    local cfg=$1 kind=$2 a
    a=$(arch_of "$cfg")
    rm -f "$tmp/log.tsv"
    local T="/usr/bin/time -f %U+%S -o $tmp/cpu"
    case $kind in
        1x1) OMP_NUM_THREADS=1 $T pd-train $a --steps "$STEPS" -j 1 -q --log "$tmp/log.tsv" -o "$tmp/m.model" "$tmp/$cfg.tsr" ;;
        1x2) OMP_NUM_THREADS=2 $T pd-train $a --steps "$STEPS" -j 2 -q --log "$tmp/log.tsv" -o "$tmp/m.model" "$tmp/$cfg.tsr" ;;
        2x1) OMP_NUM_THREADS=1 $T mpirun --oversubscribe --bind-to none -np 2 -x OMP_NUM_THREADS \
                 pd-train $a --steps "$STEPS" -j 1 -q --log "$tmp/log.tsv" -o "$tmp/m.model" "$tmp/$cfg.tsr" ;;
    esac > "$tmp/out" 2>&1 || { sed 's/^/# /' "$tmp/out"; echo nan nan; return; }
    echo "$(step_seconds "$tmp/log.tsv") $(awk -v n="$STEPS" '{ split($0, a, "+"); printf "%.4f", (a[1] + a[2]) / n }' "$tmp/cpu")"
}

echo "# load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores; other processes slow every side)"
echo "# pd-train, $STEPS steps per run, best of $ROUNDS round(s); same global batch in each"
printf "%-4s %-6s %10s %10s %14s\n" cfg layout "s/step" "steps/s" "cpu s/step"
for cfg in $CONFIGS; do
    declare -A best=() cpu=()
    for round in $(seq "$ROUNDS"); do
        for kind in 1x1 1x2 2x1; do
            read -r s c <<< "$(run "$cfg" "$kind")"
            b=${best[$kind]:-}
            if [ -z "$b" ] || awk -v s="$s" -v b="$b" 'BEGIN { exit !(s < b) }'; then best[$kind]=$s cpu[$kind]=$c; fi
        done
    done
    for kind in 1x1 1x2 2x1; do
        awk -v c="$cfg" -v k="$kind" -v s="${best[$kind]}" -v u="${cpu[$kind]}" 'BEGIN { printf "%-4s %-6s %10.4f %10.2f %14.4f\n", c, k, s, 1 / s, u }'
    done
    awk -v c="$cfg" -v a="${best[1x1]}" -v b="${best[1x2]}" -v m="${best[2x1]}" 'BEGIN {
        printf "RESULT mpi cfg=%s ratio_2ranks_vs_1x1=%.2f (goal >= 1.8) ratio_2ranks_vs_1x2=%.2f (goal >= 1)\n", c, a / m, b / m }'
    unset best cpu
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
