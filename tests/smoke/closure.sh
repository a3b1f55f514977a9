#!/usr/bin/env bash
# Smoke: the stochastic-closure pipeline at SCALE=ci runs end to end (data,
# conditions, four score models, samplers, coupled runs, figures) and fills
# every measured cell of its results table with a number.  At this scale the
# values mean nothing (a tiny net trained for 60 steps).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
make -s -f pipelines/closure.mk SCALE=ci OUT="$out" BIN="${BIN:-bin}" J=2 >/dev/null
r=$out/results.md
# a-priori table: one row per model (one of them V only on the coarse-term
# base) and one per model-free baseline, a percentage in every grid column
[ "$(grep -c '^| [GH] | V ' "$r")" -eq 4 ]
grep -q '^| G | V only, coarse term as base |' "$r"
[ "$(grep -c '^| [GH] | 5x5 obs alone |' "$r")" -eq 2 ]
grep -q '^| G | coarse term from V alone |' "$r"
awk -F'|' '/^\| [GH] \| (V |5x5 obs alone|coarse term from V alone)/ { for (i = 4; i < NF; i++) if ($i !~ /^ [0-9.]+ % $/) { print "bad cell: " $0; bad = 1 } }
           END { exit bad }' "$r"
# sampler rows: network evaluations as stated (em: N, heun: 2N-1)
grep -q '^| G_o5 | em | karras | 0.1 | 10 | 10 | [0-9.]* % |$' "$r"
grep -q '^| G_o5 | heun | karras | 0.1 | 10 | 19 | [0-9.]* % |$' "$r"
grep -q '^| G_o5 | em | uniform | 1 | 100 | 100 | [0-9.]* % |$' "$r"
# coupled rows for G and H at steps 0..100: zero error at step 0, numbers after
grep -q '^| G_o5 | 0 | 0 | 0.0000 | 0.0000 |' "$r"
[ "$(grep -cE '^\| [GH]_o5 \| (25|50|75|100) \| [0-9.e+-]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$' "$r")" -eq 8 ]
for f in G_o5-truth G_o5-sample G_o5-obs H_o5-truth H_o5-sample H_o5-obs coupled-G_o5 coupled-H_o5 \
         sampler-steps spectra-G_o5 spectra-H_o5; do
    [ -s "$out/fig/$f.png" ]
done
echo "closure smoke: ok"
