#!/usr/bin/env bash
# The reference protocol's observation fill as the cause of its error growth
# with the grid, measured on a model: the G 16x16 model of a PROTOCOL=reference
# run retrained, with the same recipe and seed, on conditions whose Y is the
# reference code's fill (pipelines/closure-reference-fill.py --rewrite), then
# evaluated like the run's own at every test grid.  Prints a markdown table.
#   pipelines/closure-fill-ablation.sh OUT [BIN]    (OUT: a finished reference run)
set -euo pipefail
out=$1 bin=${2:-bin} here=$(dirname "$0")
py=${PYTHON:-/usr/bin/python3}
a=$out/ablation
mkdir -p "$a"
[ -s "$out/models/G_o16.model" ] || { echo "closure-fill-ablation: $out has no G_o16 model: run PROTOCOL=reference first" >&2; exit 2; }
"$py" "$here/closure-reference-fill.py" --rewrite "$out/cond/train-G-o16.tsr" "$a/train.tsr"
# the run's own recipe, read from its report, and its training seed
recipe=$(sed -n 's/^` *\([^`]*\)`, observation models also `\([^`]*\)`.*$/\1 \2/p' "$out/results.md")
[ -n "$recipe" ] || { echo "closure-fill-ablation: no training recipe in $out/results.md" >&2; exit 1; }
# shellcheck disable=SC2086
"$bin/fno-train" --cond v+obs $recipe --seed 42 -j 1 -q -o "$a/G_o16rf.model" "$a/train.tsr"
echo "| grid | the run's G 16x16 model (closure-cond fill) | retrained on the reference's fill | the reference's fill alone |"
echo "|---|---|---|---|"
for f in "$out"/cond/test-G-o16-*.tsr; do
    g=${f##*-}; g=${g%.tsr}
    "$py" "$here/closure-reference-fill.py" --rewrite "$f" "$a/test-$g.tsr"
    "$bin/ve-sample" -m "$a/G_o16rf.model" --seed 13 -j 1 -q --truth "$a/truth-$g.tsr" --obs "$a/base-$g.tsr" \
        "$a/test-$g.tsr" > "$a/sample-$g.tsr"
    dfro() { "$bin/relerr" --dims s,y,x --summary --bootstrap 1000 --group record --seed 7 "$1" "$2" \
        | awk -F'\t' '$1 == "d_fro" { printf "%.2f %% [%.2f, %.2f]", 100 * $3, 100 * $4, 100 * $5 }'; }
    own=$(awk -F'\t' '{ printf "%.2f %% [%.2f, %.2f]", 100 * $3, 100 * $5, 100 * $6 }' "$out/eval/apriori-G_o16-$g.tsv")
    echo "| ${g}^2 | $own | $(dfro "$a/truth-$g.tsr" "$a/sample-$g.tsr") | $(dfro "$a/truth-$g.tsr" "$a/base-$g.tsr") |"
done | sort -t'|' -k2 -n
