#!/usr/bin/env bash
# Make one Kolmogorov-flow sample and one Lorenz-96 sample, then look at them.
# Small settings so it runs in seconds; drop the options after --preset for
# the paper-size data (256² solver, 50 time units of spin-up, 40 frames).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"
out=${1:-/tmp/eddy-example}
mkdir -p "$out"

# Kolmogorov flow: 64² solver, 2 time units of spin-up, 8 frames 0.5 apart, on 32².
ns-gen --preset kolmogorov --n 64 --spinup 2 --frames 8 --out-grid 32 --seed 1 > "$out/kf.tsr"
tsr-info --stats "$out/kf.tsr"

# The closure flow with its closure terms G and H, on 64² and 32² (striding, as the reference).
ns-gen --preset closure --n 64 --spinup 39.4784176043574 --frames 3 --closure \
       --out-grid 32,16 --resample stride --seed 1 > "$out/closure.tsr"
tsr-info --stats "$out/closure.tsr"

# Two-scale Lorenz-96: the reference settings (30 time units of spin-up, 64 frames).
l96-gen --seed 1 > "$out/l96.tsr"
tsr-info --stats "$out/l96.tsr"
