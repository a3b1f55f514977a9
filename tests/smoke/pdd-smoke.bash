# Sourced by tests/smoke/pdd-SYSTEM.sh (not a smoke test itself: no .sh).
# pdd_smoke SYSTEM: runs pipelines/pdd-SYSTEM.mk at SCALE=ci end to end and
# checks that every measured cell of its report holds numbers and every
# figure is a PNG (the values themselves mean nothing at this scale: tiny
# nets, a few steps).
pdd_smoke() {
    local sys=$1
    set -euo pipefail
    cd "$(dirname "${BASH_SOURCE[0]}")/../.."
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    make -s -f "pipelines/pdd-$sys.mk" SCALE=ci OUT="$out" BIN="${BIN:-bin}" J=2 >/dev/null
    local r=$out/results.md
    grep -q '^| 1 | simulation L2 (step 6), lambda 0 | [0-9]' "$r"
    # the measured cells: columns 3-4 of Tables 1-2, 2-3 of Table 3, 2-4 of the
    # lambda table, 4-6 of the cost table; both super-resolution rows present
    awk -F'|' '
        function num(c, f) { gsub(/ /, "", c); if (c !~ /^[-+0-9.e]+(\/[-+0-9.e]+)*$/) { print "bad " f ": " $0; bad = 1 } }
        /^\| [12] \|/                { num($4, "ours PDD"); num($5, "ours DDPM") }
        /^\| super-resolution spectral/ { num($3, "SR"); num($4, "LR"); sr++ }
        /^\| the same from an exact/    { num($3, "SR from q"); num($4, "q"); sr++ }
        /^\| 0(\.[0-9]+)? \|/        { num($3, "L2"); num($4, "spec"); num($5, "spec0") }
        /^\| (generation|super-res|DDPM)[^|]*\| (paper|ours) \|/ { num($5, "spec"); num($6, "nfe"); num($7, "seconds") }
        END { if (sr != 2) { print "super-resolution rows: " sr " of 2"; bad = 1 }; exit bad }' "$r"
    [ "$(grep -c '^| 0' "$r")" -eq 2 ]
    [ "$(grep -c '| \(paper\|ours\) |' "$r")" -eq 6 ]
    # the report names its figures (at least the lambda and PSD ones); each is a PNG
    local f figs
    figs=$(sed -n 's/^Figures: \(.*\); PSD.*/\1/p' "$r")
    [ "$(wc -w <<< "$figs")" -ge 2 ] || { echo "no Figures: line in $r"; exit 1; }
    for f in $figs; do
        [ "$(head -c 4 "$out/$f" | tail -c 3)" = PNG ] || { echo "not a PNG: $f"; exit 1; }
    done
    echo "pdd-$sys smoke: ok"
}
