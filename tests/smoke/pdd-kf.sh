#!/usr/bin/env bash
# Smoke: the PDD Kolmogorov-flow pipeline at SCALE=ci runs end to end (tests/smoke/pdd-smoke.bash).
source "$(dirname "$0")/pdd-smoke.bash"
pdd_smoke kf
