# Sourced by tests/smoke/pdd-SYSTEM.sh (not a smoke test itself: no .sh).
# pdd_smoke SYSTEM [SEEDS]: runs pipelines/pdd-SYSTEM.mk at SCALE=ci end to
# end (SEEDS trainings, default 1) and checks that every measured cell of its
# report holds a value with its bootstrap interval (and mean ± std across
# trainings when SEEDS > 1), every floor is a number, the verdicts are
# stated, and every figure is a PNG (the values themselves mean nothing at
# this scale: tiny nets, a few steps).
pdd_smoke() {
    local sys=$1 seeds=${2:-1}
    set -euo pipefail
    cd "$(dirname "${BASH_SOURCE[0]}")/../.."
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
    make -s -f "pipelines/pdd-$sys.mk" SCALE=ci SEEDS="$seeds" OUT="$out" BIN="${BIN:-bin}" J=2 >/dev/null
    local r=$out/results.md
    grep -q '^| 1 | simulation L2 (step 6), lambda 0 | [0-9]' "$r"
    # the measured cells: columns 3-5 of Tables 1-2, 2-4 of Table 3, 2-5 of the
    # lambda table, 4-6 of the cost table; both super-resolution rows present.
    # A measured cell is "v [lo, hi]" per channel (joined by " / "), with
    # "mean ± std" in place of v for the trainings' cells when SEEDS > 1; a
    # floor or sampler cell is always "v [lo, hi]".
    awk -F'|' -v seeds="$seeds" '
        function num(c, f, multi,   n, i, t, k, per) {
            n = split(c, part, " / ")
            for (i = 1; i <= n; i++) {
                t = part[i]; gsub(/^ +| +$/, "", t)
                per = (multi == 1 && seeds > 1) ? "^[-+0-9.e]+ ± [-+0-9.e]+ \\[[-+0-9.e]+, [-+0-9.e]+\\]$" : \
                      (multi == 2 && seeds > 1) ? "^[-+0-9.e]+ \\[[-+0-9.e]+, [-+0-9.e]+\\] \\(1 of " seeds " trainings\\)$" : \
                      "^[-+0-9.e]+ \\[[-+0-9.e]+, [-+0-9.e]+\\]$"
                if (t !~ per) { print "bad " f " (" t "): " $0; bad = 1 }
            }
        }
        # the long rollout: over the trainings where some path did not diverge
        # (a count the cell states when not all), or none
        function lnum(c, f,   n, i, t) {
            n = split(c, part, " / ")
            for (i = 1; i <= n; i++) {
                t = part[i]; gsub(/^ +| +$/, "", t)
                if (t !~ /^[-+0-9.e]+( ± [-+0-9.e]+)? \[[-+0-9.e]+, [-+0-9.e]+\]( \([0-9]+ of [0-9]+ trainings\))?$/ && t != "all paths diverged") {
                    print "bad " f " (" t "): " $0; bad = 1 }
            }
        }
        /^\| 1 \| (FNO: )?simulation spectral error, long rollout/ { lnum($4, "long PDD"); lnum($5, "long DDPM"); num($6, "floor", 0); long++; next }
        /^\| [12] \| FNO/             { num($4, "FNO PDD", 2); num($5, "FNO DDPM", 2); num($6, "floor", 0); next }
        /^\| [12] \|/                { num($4, "ours PDD", 1); num($5, "ours DDPM", 2); num($6, "floor", 0) }
        /^\| FNO: super-resolution/     { num($3, "FNO SR", 2); num($4, "FNO LR", 2); num($5, "floor", 0); next }
        /^\| super-resolution spectral/ { num($3, "SR", 1); num($4, "LR", 1); num($5, "floor", 0); sr++ }
        /^\| the same from an exact/    { num($3, "SR from q", 1); num($4, "q", 1); num($5, "floor", 0); sr++ }
        /^\| 0(\.[0-9]+)? \|/        { num($3, "L2", 1); num($4, "spec", 1); num($5, "floor", 0); num($6, "spec0", 1) }
        /^\| (generation|super-res)[^|]*\| (paper|ours) \|/ { num($5, "spec", 0) }
        /^\| DDPM[^|]*\| ours \|/      { num($5, "spec", 2) }
        /^\| (generation|super-res|DDPM)[^|]*\| (paper|ours) \|/ {
            for (i = 6; i <= 7; i++) { t = $i; gsub(/ /, "", t); if (t !~ /^[0-9.e+-]+$/) { print "bad cost: " $0; bad = 1 } } }
        END { if (sr != 2) { print "super-resolution rows: " sr " of 2"; bad = 1 }
              if (long != 2) { print "long-rollout rows (U-Net, FNO): " long " of 2"; bad = 1 }; exit bad }' "$r"
    # the protocol statements: test-path count, the long rollout's diverged
    # paths per training (D of the 2 test paths), and
    # a verdict per channel for super-resolution and the sampler comparison
    grep -q '^Test paths: 2 (seed 001 uses 100; SCALE=ci shrinks the count)' "$r"
    local dv="[0-9]+ of 2" k
    for ((k = 1; k < seeds; k++)); do dv+=", [0-9]+ of 2"; done
    # (the baselines and the FNO are trained once, whatever SEEDS)
    grep -Eq "^physics floor at 2 paths\. Diverged paths \(per training\): PDD $dv; DDPM [0-9]+ of 2\.$" "$r"
    grep -Eq "^Diverged paths of the FNO \(per training\): PDD [0-9]+ of 2; DDPM [0-9]+ of 2\.$" "$r"
    local nch
    nch=$(sed -n 's/.*per channel (\([0-9 ]*\) joined by.*/\1/p' "$r" | wc -w)
    # (the U-Net against the FNO: six comparisons, each a verdict per channel
    # or, when every path of one long rollout diverged, "not compared")
    local vs rest
    vs=$(sed -n '/^U-Net against FNO/,/DDPM generation/p' "$r")
    rest=$(sed '/^U-Net against FNO/,/DDPM generation/d' "$r")
    [ "$(grep -o 'c[0-9]: \(SR lower\|LR lower\|paper lower\|ours lower\|cannot be told apart at this count\)' <<< "$rest" | wc -l)" -eq $((3 * nch)) ]
    [ $(( $(grep -o 'c[0-9]: \(U-Net lower\|FNO lower\|cannot be told apart at this count\)' <<< "$vs" | wc -l) + \
          nch * $(grep -o 'not compared' <<< "$vs" | wc -l) )) -eq $((6 * nch)) ]
    [ "$(grep -o 'c[0-9]: \(above the floor\|at the floor: this count cannot resolve it\)' "$r" | wc -l)" -eq $((3 * nch)) ]
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
