#!/usr/bin/env bash
# Smoke: every script of examples/ runs to the end (the README's tour is
# examples/tour.sh), in a scratch folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bash examples/tour.sh "$out/tour" 2>&1 | tail -n 3
test -s "$out/tour/kf.png" && test -s "$out/tour/sim.tsr"
bash examples/generate.sh "$out/generate" | tail -n 1
