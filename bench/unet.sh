#!/bin/bash
# U-Net engine (lib/unet.h) vs its PyTorch peer (bench/unet_torch.py), same architecture
# (seed 001 B.2 presets: L96 1-D 128 points, KF 2-D 40²), same batch (the paper's: 50 and
# 40), 1 and 2 threads; seconds per training step (forward, MSE backward with every
# parameter gradient, Adam), inference forward and input gradient; ratio = torch s /
# ours s (goal ≥ 3).  Ours and torch run back to back per (preset, threads).  Never
# fails on time.
#   bench/unet.sh BUILD_BENCH_DIR BIN_DIR   (REPS=3, PRESETS="l96 kf", THREADS="1 2",
#                                            BATCH_L96=50, BATCH_KF=40)
# OPENBLAS_CORETYPE, as set in the environment, applies to both sides (torch's linear
# layers use the same libblas).  This machine's environment sets Haswell (AVX2 kernels);
# unset, OpenBLAS picks Cooperlake (AVX-512) here, and SkylakeX is AVX-512 too (README,
# performance).
set -u
BB=${1:-build/bench}
REPS=${REPS:-3}
PRESETS=${PRESETS:-l96 kf}
THREADS=${THREADS:-1 2}
HERE=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
[ -x "$BB/bench_unet" ] || { echo "# $BB/bench_unet missing: build it first"; exit 0; }
batch() { case $1 in l96) echo "${BATCH_L96:-50}" ;; kf) echo "${BATCH_KF:-40}" ;; esac; }
have_torch=0
/usr/bin/python3 -c 'import torch, numpy, zstandard' 2>/dev/null && have_torch=1
echo "# OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset, OpenBLAS picks the core}"
echo "# load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores; other processes slow both sides)"
for p in $PRESETS; do
  for t in $THREADS; do
    OMP_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t "$BB/bench_unet" time "$p" "$t" "$REPS" "$(batch "$p")" \
      2>&1 | grep -E '^(RESULT|#)' | tee -a "$tmp/all.txt"
    if [ $have_torch = 1 ]; then
      OMP_NUM_THREADS=$t /usr/bin/python3 "$HERE/unet_torch.py" --bench --preset "$p" \
        --batch "$(batch "$p")" --threads "$t" --reps "$REPS" 2>&1 | grep RESULT | tee -a "$tmp/all.txt"
    fi
  done
done
[ $have_torch = 1 ] || { echo "# torch peer not available: no ratios"; exit 0; }
awk -v reps="$REPS" '
  /^RESULT unet cfg=/       { k = $3 " " $4 " " $5; om[k] = $6; gf[k] = $10; oc[k] = $(NF - 1) }
  /^RESULT unet_torch cfg=/ { k = $3 " " $4 " " $5; tm[k] = $6; tc[k] = $(NF - 1) }
  END {
    printf "\n# U-Net vs PyTorch (same architecture and batch, float32), median of %d runs after 2 warm-ups;\n", reps
    printf "# ratio = torch s / ours s (wall clock); cpu ratio = the same on process CPU time, which\n"
    printf "# other processes on the machine disturb less\n"
    printf "# %-9s %-10s %-14s %9s %9s %8s %9s %10s\n", "preset", "threads", "part", "torch s", "ours s", "ratio", "cpu ratio", "ours GF/s"
    for (k in om) keys[++nk] = k
    for (i = 1; i <= nk; i++) for (j = i + 1; j <= nk; j++) if (keys[j] < keys[i]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
    for (i = 1; i <= nk; i++) {
      k = keys[i]; if (!(k in tm)) continue
      split(k, f, " "); r = tm[k] / om[k]; rc = (oc[k] > 0 ? tc[k] / oc[k] : 0)
      printf "# %-9s %-10s %-14s %9.4f %9.4f %7.2fx %8.2fx %10s%s\n", f[1], f[2], f[3], tm[k], om[k], r, rc, gf[k], (r >= 3 ? "" : "   < 3x goal")
      printf "RESULT unet ratio %s %s %s torch %.4f s ours %.4f s ratio %.2f cpu_ratio %.2f\n", f[1], f[2], f[3], tm[k], om[k], r, rc
    }
  }' "$tmp/all.txt"
