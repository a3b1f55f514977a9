#!/usr/bin/env bash
# Smoke: the stochastic-closure pipeline at SCALE=ci runs end to end (data,
# conditions, six score models, samplers, ensembles, coupled runs, figures)
# for both protocols and fills every measured cell of its results tables
# with a number.  At this scale the values mean nothing (a tiny net trained
# for 60 steps).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
make -s -f pipelines/closure.mk SCALE=ci OUT="$out/d" BIN="${BIN:-bin}" J=2 >/dev/null
r=$out/d/results.md
# a-priori table: one row per model (one of them V only on the coarse-term
# base) and one per model-free baseline, a percentage and its interval in
# every grid column
iv='[0-9.]+ % \[[0-9.]+, [0-9.]+\]'
[ "$(grep -c '^| [GH] | V ' "$r")" -eq 6 ]
grep -q '^| G | V only, coarse term as base |' "$r"
[ "$(grep -c '^| [GH] | 5x5 obs alone |' "$r")" -eq 2 ]
[ "$(grep -c '^| [GH] | 16x16 obs alone |' "$r")" -eq 2 ]
grep -q '^| G | coarse term from V alone |' "$r"
awk -F'|' -v iv="^ $iv \$" '/^\| [GH] \| (V |[0-9]+x[0-9]+ obs alone|coarse term from V alone)/ {
           for (i = 4; i < NF; i++) if ($i !~ iv) { print "bad cell: " $0; bad = 1 } }
           END { exit bad }' "$r"
# sampler rows: network evaluations as stated (em: N, heun: 2N-1), intervals
grep -Eq "^\| G_o5 \| em \| karras \| 0.1 \| 10 \| 10 \| $iv \|\$" "$r"
grep -Eq "^\| G_o5 \| heun \| karras \| 0.1 \| 10 \| 19 \| $iv \|\$" "$r"
grep -Eq "^\| G_o5 \| em \| uniform \| 1 \| 100 \| 100 \| $iv \|\$" "$r"
# the sampler claim by the report's rule
grep -Eq '^- G_o5: 10 Karras steps .*(cannot be told apart|do not overlap)' "$r"
# ensembles and the other coarsening (with ve-sample's warning)
[ "$(grep -cE '^\| [GH]_o16 \| [0-9.e+-]+ \[' "$r")" -eq 2 ]
[ "$(grep -c "^| [GH]_o16 | .* | ve-sample: warning: .*coarsened by 'fourier', these conditions by 'stride'" "$r")" -eq 2 ]
# coupled rows for G and H at steps 0..100: zero error at step 0, numbers after
grep -q '^| G_o5 | 0 | 0 | 0.0000 | 0.0000 |' "$r"
[ "$(grep -cE '^\| [GH]_o5 \| (25|50|75|100) \| [0-9.e+-]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$' "$r")" -eq 8 ]
for f in G_o5-truth G_o5-sample G_o5-obs H_o5-truth H_o5-sample H_o5-obs coupled-G_o5 coupled-H_o5 \
         sampler-steps spectra-G_o5 spectra-H_o5; do
    [ -s "$out/d/fig/$f.png" ]
done

# The reference protocol: strided fields, on-grid 16x16 observations, its
# comparison table against the reference code's figures and the default run.
make -s -f pipelines/closure.mk SCALE=ci PROTOCOL=reference OUT="$out/r" DEFAULT_OUT="$out/d" \
    BIN="${BIN:-bin}" J=2 >/dev/null
r=$out/r/results.md
grep -q 'PROTOCOL=reference' "$r"
grep -q -- '--resample stride' "$r"
# one row per model and grid, ours and the default's with intervals, verdicts by rule
[ "$(grep -cE "^\| [GH]_o16 \| (32|64)\^2 \| ([0-9.]+ %|-) \| $iv \| $iv \| " "$r")" -eq 4 ]
grep -Eq "^\| G_o16 \| 32\^2 \| 9.23 % \| $iv \| $iv \| (inside|beyond the interval \(ours (lower|higher)\)) \| (cannot be told apart|differ .*) \|\$" "$r"
[ "$(grep -c "ve-sample: warning: .*coarsened by 'stride', these conditions by 'fourier'" "$r")" -eq 2 ]
[ "$(grep -cE '^\| [GH]_o16 \| (0|25|50|75|100) \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| - \| - \|$' "$r")" -eq 10 ]
# the protocol's measured ablation: coarsening difference and the reference's fill, both grids
[ "$(grep -cE "^\| [GH] \| (32|64)\^2 \| [0-9.]+e[-+][0-9]+ \| $iv \| $iv \|\$" "$r")" -eq 4 ]
# the fill ablation: the G model retrained on the reference's fill, one row per test grid
pipelines/closure-fill-ablation.sh "$out/r" "${BIN:-bin}" > "$out/fill.md"
[ "$(grep -cE "^\| (32|64)\^2 \| $iv \| $iv \| $iv \|\$" "$out/fill.md")" -eq 2 ]
# a protocol that does not exist, and observations off the grid, are errors
if make -s -f pipelines/closure.mk SCALE=ci PROTOCOL=nosuch OUT="$out/x" 2> "$out/err"; then exit 1; fi
grep -q "PROTOCOL must be default or reference, got 'nosuch'" "$out/err"
# The report's rules on hand-made rows: a figure inside / beyond our interval;
# overlapping intervals cannot be told apart, disjoint ones differ.
cmp_awk() { awk -f pipelines/closure-compare.awk "$@"; }
printf 'G_o16\t64\t0.09\t0\t0.08\t0.10\t0\t0\n' > "$out/a.tsv"
printf 'G_o16\t64\t0.095\t0\t0.09\t0.11\t0\t0\n' > "$out/b.tsv"
printf 'G_o16\t64\t0.20\t0\t0.15\t0.25\t0\t0\n' > "$out/c.tsv"
cmp_awk -v mode=apriori -v ref=9.23 "$out/a.tsv" "$out/b.tsv" | grep -q '| inside | cannot be told apart |$'
cmp_awk -v mode=apriori -v ref=12 "$out/a.tsv" "$out/c.tsv" \
    | grep -q '| beyond the interval (ours lower) | differ (reference protocol lower) |$'
printf 'G\tem\tkarras\t0.1\t10\t10\t0.09\t0.08\t0.10\nG\tem\tuniform\t1\t1000\t1000\t0.085\t0.07\t0.095\n' \
    | cmp_awk -v mode=sampler | grep -q 'cannot be told apart'
printf 'G\tem\tkarras\t0.1\t10\t10\t0.09\t0.08\t0.10\nG\tem\tuniform\t1\t1000\t1000\t0.05\t0.04\t0.06\n' \
    | cmp_awk -v mode=sampler | grep -q 'do not overlap: the 10-step sampler is the worse'
# the coupled run's report rows at +5 s and +10 s (t printed with 6 digits by
# closure-run) carry the reference's figures; a run that blew up reads so
printf 'step\tt\tc\tn\tterm\n5000\t197.392\t0.002\t0.2\t0.07\n10000\t394.784\tnan\tnan\tnan\n' \
    | cmp_awk -v mode=post -v m=G -v tu=39.47841760435743 -v rc=".1 .2 .3 .4" -v rn=".5 .6 .7 .8" > "$out/post.md"
grep -qx '| G | 5000 | 5 | 0.0020 | 0.2000 | .1 | .5 |' "$out/post.md"
grep -qx '| G | 10000 | 10 | blew up | blew up | .2 | .6 |' "$out/post.md"
echo "closure smoke: ok"
