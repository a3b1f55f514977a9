#!/usr/bin/env bash
# Smoke: the PDD Lorenz-96 pipeline at SCALE=ci runs end to end with two
# trainings (SEEDS=2: mean ± std across them), tests/smoke/pdd-smoke.bash.
source "$(dirname "$0")/pdd-smoke.bash"
pdd_smoke l96 2
