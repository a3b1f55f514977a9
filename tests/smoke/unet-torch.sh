#!/usr/bin/env bash
# Smoke: the engine's U-Net (lib/unet.h) and its PyTorch peer (bench/unet_torch.py)
# compute the same function from the same parameter records: outputs and input
# gradients agree to float32 rounding (both measured against torch in float64), for a
# small 1-D and 2-D network with perturbed parameters and for the L96 and KF presets.
# Skipped, and saying so, when python3-torch (or numpy, zstandard) is absent.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bb=${BENCH_BUILD:-$root/build/bench}
py=/usr/bin/python3
if ! [ -x "$py" ] || ! "$py" -c 'import torch, numpy, zstandard' 2>/dev/null; then
    echo "SKIPPED: the PyTorch peer needs python3-torch, python3-numpy and python3-zstandard"
    exit 0
fi
[ -x "$bb/bench_unet" ] || { echo "$bb/bench_unet missing (make $bb/bench_unet)"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for dims in 1 2; do
    mkdir "$tmp/d$dims"
    "$bb/bench_unet" ref "$tmp/d$dims" "$dims"
    "$py" "$root/bench/unet_torch.py" --check "$tmp/d$dims"
done
for p in l96 kf; do
    mkdir "$tmp/$p"
    "$bb/bench_unet" ref-preset "$tmp/$p" "$p" 2
    "$py" "$root/bench/unet_torch.py" --check "$tmp/$p"
done
