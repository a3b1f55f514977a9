#!/usr/bin/env bash
# The README's five-minute tour, line for line (tests/smoke/examples.sh runs
# it, so the README cannot drift from what the tools do).  Run from anywhere;
# files go to the folder given (default: a new temporary one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/bin:$PATH"
dir=${1:-$(mktemp -d)}
mkdir -p "$dir" && cd "$dir"

# 1. Generate: one Kolmogorov-flow sample on a 64² solver grid, 8 frames, saved on 32².
ns-gen --preset kolmogorov --n 64 --spinup 2 --frames 8 --out-grid 32 --seed 1 > kf.tsr
tsr-info --stats kf.tsr                     # shapes, attributes, min/max/mean/std, NaN count

# 2. Look at it.
tsr-png --frames all -o kf.png kf.tsr       # a montage of the frames, diverging colormap

# 3. Coarse-grain it in the RG scale λ (heat semigroup plus noise), and compare spectra.
rg-coarsen --lambda 0.2 --alpha 0.3 --beta 2.449 --seed 7 < kf.tsr > kf-coarse.tsr
spectrum --tsv --mean kf.tsr > fine.tsv
spectrum --tsv --mean kf-coarse.tsr > coarse.tsv
relerr kf.tsr kf-coarse.tsr                 # relative L2 per frame, D_Fro, spectral error (TSV)

# 4. Lorenz-96 paths, a Predictor-Driven Diffusion model, and a simulation from it.
l96-gen --count 16 --seed 1 > l96.tsr
pd-train --arch fno --width 8 --layers 2 --steps 20 -o l96.model l96.tsr   # tiny; a real run: pipelines/pdd-l96.mk
pd-sample -m l96.model simulate --lambda 0 l96.tsr > sim.tsr    # 5 given frames, then the predictor
relerr l96.tsr sim.tsr | head

# 5. Interop: every record to .npy and back.
tsr2npy -o kf_ kf.tsr && npy2tsr kf_0000_omega.npy | tsr-info
