#!/usr/bin/env bash
# The README's "From Python and NetCDF" commands, line for line
# (tests/cli/examples-python.bats runs it).  Files go to the folder given
# (default: a new temporary one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/bin:$PATH"
export PYTHONPATH="$root/tools/python${PYTHONPATH:+:$PYTHONPATH}"   # not needed after make install
dir=${1:-$(mktemp -d)}
mkdir -p "$dir" && cd "$dir"

# NetCDF: two samples of 4 frames to one NetCDF-4 file (named dimensions t, y, x and a
# record dimension), its header, and back to a stream.
ns-gen --preset kolmogorov --n 64 --spinup 1 --frames 4 --out-grid 32 --count 2 -q > kf.tsr
tsr2nc -o kf.nc kf.tsr
ncdump -h kf.nc | sed -n 1,12p
nc2tsr kf.nc | tsr-info

# NumPy: read a stream, compute, write a stream the tools read.
python3 - <<'PY'
from eddy import tsr
rec = tsr.read("kf.tsr")[0]                 # tsr.Record: name, array (numpy), attrs (dict)
print(rec.name, rec.array.shape, rec.attrs["dims"], rec.attrs["units"])
mean = rec.array.mean(axis=0)               # the time mean, (y, x)
tsr.write("kf-mean.tsr", [tsr.Record("omega_mean", mean, {"dims": "y,x", "L": rec.attrs["L"]})])
PY
tsr-png --label "time-mean vorticity" -o kf-mean.png kf-mean.tsr

# PyTorch: a trained PDD predictor as a torch module (eddy.models.PDDPredictor).
l96-gen --count 4 --frames 16 -q > l96.tsr
pd-train --arch fno --width 8 --layers 2 --steps 20 -q -o l96.model l96.tsr
python3 - <<'PY'
import torch
from eddy import tsr, models
net = models.load("l96.model")
u = torch.tensor(tsr.read("l96.tsr")[0].array, dtype=torch.float64)   # (t, c, x), physical units
f = net(net.windows(net.standardise(u)), 0.0)   # predicted increments at λ = 0, standardised
print("predictor output", tuple(f.shape))
PY
