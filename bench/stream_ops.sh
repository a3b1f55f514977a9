#!/usr/bin/env bash
# Streaming speed of rg-coarsen and spectrum against `zstd -d` of the same
# stream, measured in the same run.  MB/s counts uncompressed field bytes
# (the payload a tool must touch) per second of wall time.  Figures only:
# this script never fails on time.
#
#   bench/stream_ops.sh BUILD_BENCH_DIR BIN_DIR     (as run by bench/run.sh)
set -uo pipefail
bin=${2:-bin}
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PATH="$bin:$PATH"
for t in rg-coarsen spectrum npy2tsr; do
    command -v "$t" >/dev/null || { echo "stream_ops: $t not built; skipped"; exit 0; }
done
command -v zstd >/dev/null || { echo "stream_ops: zstd not installed; skipped"; exit 0; }

now() { date +%s.%N; }
# rate NAME MB CMD...: runs CMD once, prints a RESULT line, returns MB/s in $rate
rate() {
    local name=$1 mb=$2 t0 t1
    shift 2
    t0=$(now)
    "$@" > /dev/null || echo "stream_ops: $name failed (status $?)"
    t1=$(now)
    rate=$(awk -v mb="$mb" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", mb / (b - a) }')
    printf 'RESULT diag %s MBps=%s seconds=%.3f\n' "$name" "$rate" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
}

# Kolmogorov-like 2-D paths (40 frames of 64x64) and Lorenz-96-like 1-D paths
# (64 frames, 2 channels, 128 points), float32, random (incompressible: the
# honest case for zstd -d).
"$PY" - "$work" <<'PY'
import sys, numpy as np
d = sys.argv[1]; g = np.random.default_rng(0)
with open(f"{d}/kf.npy", "wb") as f:
    for i in range(48): np.save(f, g.standard_normal((40, 64, 64)).astype("f4"))
with open(f"{d}/l96.npy", "wb") as f:
    for i in range(400): np.save(f, g.standard_normal((64, 2, 128)).astype("f4"))
PY
npy2tsr -a dims=t,y,x "$work/kf.npy" > "$work/kf.tsr"
npy2tsr -a dims=t,c,x "$work/l96.npy" > "$work/l96.tsr"
mb_kf=$(awk 'BEGIN { printf "%.3f", 48 * 40 * 64 * 64 * 4 / 1e6 }')
mb_l96=$(awk 'BEGIN { printf "%.3f", 400 * 64 * 2 * 128 * 4 / 1e6 }')
echo "stream_ops: 2-D stream ${mb_kf} MB of fields, 1-D stream ${mb_l96} MB; threads ${OMP_NUM_THREADS:-all}"

for s in kf l96; do
    mb=$([ $s = kf ] && echo "$mb_kf" || echo "$mb_l96")
    rate "zstd_d_$s" "$mb" zstd -d -q -c "$work/$s.tsr"; z=$rate
    rate "rg_coarsen_$s" "$mb" rg-coarsen --preset kolmogorov --lambda 0.2 "$work/$s.tsr"; r=$rate
    rate "rg_coarsen_nonoise_$s" "$mb" rg-coarsen --preset kolmogorov --lambda 0.2 --no-noise "$work/$s.tsr"; rn=$rate
    rate "spectrum_$s" "$mb" spectrum --mean "$work/$s.tsr"; sp=$rate
    awk -v z="$z" -v r="$r" -v rn="$rn" -v sp="$sp" -v s="$s" 'BEGIN {
        printf "stream_ops %s: rg-coarsen at %.2fx zstd -d speed (%.2fx without noise), spectrum at %.2fx\n",
               s, r / z, rn / z, sp / z }'
done
exit 0
