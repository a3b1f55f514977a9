#!/usr/bin/env bash
# NS solver and Lorenz-96 against a NumPy peer script (NS_PEER; not in this repository),
# side by side in one run: 256² Kolmogorov flow, explicit midpoint, dt 1e-3,
# the peer's step count (100 steps at N=256, 1000 at N=64; median of 3 after a
# 10-step warm-up).  Prints RESULT lines and ratios; never fails on time.
#
#   bench/ns.sh BUILD_BENCH_DIR BIN_DIR
set -uo pipefail
bdir=${1:-build/bench} bin=${2:-bin}
here=$(cd "$(dirname "$0")" && pwd)
peer=${NS_PEER:-$here/../../shared/peers/ns_numpy.py}
[ -f "$peer" ] || peer=/work/shared/peers/ns_numpy.py
py=/usr/bin/python3

ours=$(mktemp) theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT

echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (timings are noisy when other work runs)"
if [ -f "$peer" ] && "$py" -c 'import numpy' 2>/dev/null; then
    "$py" "$peer" --no-checks 2>&1 | grep '^RESULT' | tee "$theirs"
else
    echo "# peer $peer or numpy unavailable: no ratios"
fi
for n in 256 64; do
    steps=$([ $n = 256 ] && echo 100 || echo 1000)
    "$bdir/bench_ns" $n $steps $([ $n = 256 ] && echo 1 || echo 0) | tee -a "$ours"
done

# Spinning OpenMP threads collapse when another process holds the second
# core; sleeping ones do not.  Show both (the ratios below use the default).
echo "# the same at N=256 with OMP_WAIT_POLICY=passive:"
OMP_WAIT_POLICY=passive "$bdir/bench_ns" 256 100 0 | grep -E 'threads=2|samples=2' | sed 's/$/ [passive wait]/'

# steps/s figure of a RESULT line matching PATTERN in FILE.
sps() { grep -E "$2" "$1" | head -n 1 | sed -E 's/.* ([0-9.e+]+) steps\/s.*/\1/'; }
for n in 256 64; do
    p=$(sps "$theirs" "N=$n .*fft=numpy")
    o1=$(sps "$ours" "kolmogorov N=$n threads=1")
    o2=$(sps "$ours" "kolmogorov N=$n threads=2")
    op=$(sps "$ours" "kolmogorov N=$n samples=2")
    [ -n "$o1" ] || continue
    awk -v n=$n -v p="${p:-0}" -v a="$o1" -v b="$o2" -v c="$op" 'BEGIN {
        if (p > 0) printf "RESULT ns ratio N=%d vs numpy peer: %.1fx at 1 thread (goal >= 5x), %.1fx with 2 threads in one sample\n", n, a / p, b / p;
        printf "RESULT ns scaling N=%d: 2 threads in one sample %.2fx, 2 samples side by side %.2fx throughput (goal >= 1.7x)\n", n, b / a, c / a }'
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
