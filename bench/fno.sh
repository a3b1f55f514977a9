#!/bin/bash
# FNO engine vs the PyTorch peer (../shared/peers/fno_torch.py), side by side in one run:
# configs (a) and (b), 1 and 2 threads; seconds per training step, forward and input
# gradient, ratios torch/ours (goal ≥ 3), achieved GFLOP/s against the machine's limits,
# peak memory.  Never fails on time.
#   bench/fno.sh BUILD_BENCH_DIR BIN_DIR      (REPS=5 by default)
set -u
BB=${1:-build/bench}
REPS=${REPS:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
PEER=${FNO_PEER:-$HERE/../../shared/peers/fno_torch.py}
[ -f "$PEER" ] || PEER=/work/shared/peers/fno_torch.py
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

ours() {  # cfg threads → lines
  OMP_NUM_THREADS=$2 OPENBLAS_NUM_THREADS=$2 "$BB/bench_fno" "$1" "$2" "$REPS" 2>&1
}
for cfg in a b; do
  for t in 1 2; do
    ours $cfg $t | tee -a "$tmp/ours.txt"
    if [ -x /usr/bin/python3 ] && [ -f "$PEER" ]; then
      /usr/bin/time -f "RESULT fno_torch cfg=$cfg threads=$t maxrss %M KB" \
        /usr/bin/python3 "$PEER" --config $cfg --threads $t --reps "$REPS" --warmup 2 \
        --json "$tmp/torch_${cfg}_$t.json" > "$tmp/torch_${cfg}_$t.txt" 2>&1
      grep RESULT "$tmp/torch_${cfg}_$t.txt" | tee -a "$tmp/torch.txt"
    fi
  done
done
[ -s "$tmp/torch.txt" ] || { echo "# torch peer not available: no ratios"; exit 0; }

# ratios: torch seconds / our seconds (config a times only the training step in the peer)
awk '
  /^RESULT fno cfg=/ && / s \(best/ { split($3,c,"="); split($4,t,"="); ours[c[2]" "t[2]" "$5]=$6 }
  /^RESULT fno cfg=/ && /maxrss/   { split($3,c,"="); split($4,t,"="); om[c[2]" "t[2]]=$6 }
  /^RESULT fno cfg=/ && /GFLOP/    { split($3,c,"="); split($4,t,"="); gf[c[2]" "t[2]" "$5]=$(NF-3) }
  /^RESULT fno_torch/ && /maxrss/  { split($3,c,"="); split($4,t,"="); tm[c[2]" "t[2]]=$6/1024 }
  /^RESULT fno_torch/ && / ms /    { split($3,c,"="); split($4,t,"="); ts[c[2]" "t[2]" "$5]=$6/1000 }
  END {
    split("train_step inference_fwd input_grad", parts, " ")
    for (cc=1; cc<=2; cc++) for (th=1; th<=2; th++) for (p=1; p<=3; p++) {
      cf = (cc==1 ? "a" : "b"); k = cf" "th" "parts[p]
      if ((k in ours) && (k in ts))
        printf "RESULT fno ratio cfg=%s threads=%d %s torch %.4f s / ours %.4f s = %.2fx (ours %s GFLOP/s; peak 1 core zmm 238, sgemm 170, batched FFT ~15)\n",
               cf, th, parts[p], ts[k], ours[k], ts[k]/ours[k], gf[k]
    }
    for (cc=1; cc<=2; cc++) for (th=1; th<=2; th++) {
      cf = (cc==1 ? "a" : "b"); k = cf" "th
      if ((k in om) && (k in tm))
        printf "RESULT fno memory cfg=%s threads=%d ours %.0f MB torch %.0f MB (process peak RSS)\n", cf, th, om[k], tm[k]
    }
  }' "$tmp/ours.txt" "$tmp/torch.txt"
exit 0
