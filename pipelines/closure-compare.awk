# The comparison rows of pipelines/closure.mk's reference-protocol report,
# with the report's rules written once (no verdict is typed by hand):
#   a figure lies "inside" an interval when lo <= figure <= hi;
#   two intervals that overlap "cannot be told apart".
# Modes (awk -v mode=...):
#   apriori: files OURS DEFAULT (apriori TSVs: model grid d y dlo dhi ylo yhi;
#            DEFAULT may be /dev/null), -v ref=PERCENT (empty: none printed)
#   sampler: one file, the sampler TSVs of one model (model sampler schedule
#            T steps nfe d lo hi): the 10-step Karras row against the uniform one
#   post:    the coupled TSV (step t closure noclosure term), -v rc="a b c d"
#            -v rn="a b c d" the reference's figures at +5/+10/+15/+20 s (its units),
#            -v tu=4pi^2 (our time per reference second), -v m=MODEL
BEGIN { FS = "\t" }
function iv(v, lo, hi) { return sprintf("%.2f %% [%.2f, %.2f]", 100 * v, 100 * lo, 100 * hi) }
function overlap(a, b, c, d) { return !(b < c || d < a) }
# closure-run writes nan for a run that has blown up
function f4(x) { return x == "nan" ? "blew up" : sprintf("%.4f", x) }
mode == "apriori" && FNR == 1 { nf++ }
mode == "apriori" && nf == 1 { m = $1; g = $2; v = $3; lo = $5; hi = $6 }
# a default run of the format before intervals (4 columns) counts as not run
mode == "apriori" && nf == 2 && NF >= 8 { dv = $3; dlo = $5; dhi = $6; have_d = 1 }
mode == "sampler" && $2 == "em" && $3 == "karras" && $4 == 0.1 && $5 == 10 { kv = $7; klo = $8; khi = $9; kn = $6; m = $1 }
mode == "sampler" && $2 == "em" && $3 == "uniform" { uv = $7; ulo = $8; uhi = $9; un = $6 }
mode == "post" && FNR > 1 {
    tr = $2 / tu; k = int(tr / 5 + 0.5)
    split(rc, c, " "); split(rn, n, " ")
    # t comes with 6 significant digits (closure-run): 5 s is 197.392, not 5 * tu
    at = (k >= 1 && k <= 4 && (tr - 5 * k) ^ 2 < 1e-8)
    printf "| %s | %d | %.4g | %s | %s | %s | %s |\n", m, $1, tr, f4($3), f4($4), at ? c[k] : "-", at ? n[k] : "-"
}
END {
    if (mode == "apriori") {
        r = ref == "" ? "-" : ref " %"
        if (ref == "") v1 = "-"
        else if (100 * lo <= ref && ref <= 100 * hi) v1 = "inside"
        else v1 = "beyond the interval (ours " (100 * v < ref ? "lower" : "higher") ")"
        if (!have_d) { d = "not run"; v2 = "-" }
        else {
            d = iv(dv, dlo, dhi)
            v2 = overlap(lo, hi, dlo, dhi) ? "cannot be told apart" : \
                 "differ (reference protocol " (v < dv ? "lower" : "higher") ")"
        }
        printf "| %s | %s^2 | %s | %s | %s | %s | %s |\n", m, g, r, iv(v, lo, hi), d, v1, v2
    }
    if (mode == "sampler" && kn != "" && un != "") {
        printf "- %s: 10 Karras steps (%d evaluations) %s against %d uniform steps %s: ", m, kn, iv(kv, klo, khi), un, iv(uv, ulo, uhi)
        if (overlap(klo, khi, ulo, uhi)) print "the intervals overlap, the two samplers cannot be told apart at this test-set size."
        else print "the intervals do not overlap: the " (kv < uv ? "10-step sampler is the better" : "10-step sampler is the worse") \
                   " (a " sprintf("%.0f", un / kn) "-fold cost difference)."
    }
}
