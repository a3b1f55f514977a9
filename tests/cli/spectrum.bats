#!/usr/bin/env bats
# spectrum through the command line: single modes, Parseval, averaging, modes.

load helper

setup() {
    need_numpy
    cd "$BATS_TEST_TMPDIR"
}

# tsv_sum FILE: sum of the value column (last) of a TSV with a header
tsv_sum() { awk -F'\t' 'NR > 1 { s += $NF } END { printf "%.15g\n", s }' "$1"; }

@test "spectrum: a single 2-D mode is one spike at |n| = 5 with energy A^2/4" {
    npy w.npy 'np.fromfunction(lambda y, x: 1.7 * np.cos(2 * np.pi * (3 * x + 4 * y) / 32), (32, 32))'
    npy2tsr -a dims=y,x w.npy > w.tsr
    spectrum --tsv w.tsr > E.tsv
    py 'import csv
rows = list(csv.DictReader(open("E.tsv"), delimiter="\t"))
for r in rows:
    want = 1.7 ** 2 / 4 if r["k"] == "5" else 0.0
    assert abs(float(r["value"]) - want) < 1e-12, r
assert rows[5]["wavenumber"] == "5"'
}

@test "spectrum: Parseval (sum E = mean(u^2)/2; 1-D sum P = mean(u^2)); L sets the wavenumber" {
    npy r.npy 'np.random.default_rng(3).standard_normal((24, 20))'
    npy2tsr -a dims=y,x -a L=1 r.npy > r.tsr
    spectrum --tsv r.tsr > E.tsv
    py 'u = np.load("r.npy"); s = float(sys.argv[1]); want = 0.5 * (u ** 2).mean()
assert abs(s / want - 1) < 1e-9, (s, want)' "$(tsv_sum E.tsv)"
    run awk -F'\t' 'NR == 3 { print $4 }' E.tsv
    assert_output "6.283185307"
    npy q.npy 'np.random.default_rng(4).standard_normal((5, 37))'
    npy2tsr -a dims=t,x q.npy > q.tsr
    spectrum --tsv q.tsr > P.tsv
    py 'u = np.load("q.npy"); s = float(sys.argv[1]); want = (u ** 2).mean()
assert abs(s / want - 1) < 1e-9, (s, want)' "$(tsv_sum P.tsv)"
}

@test "spectrum: 1-D PSD of A cos(5x) is A^2/2 at n = 5; --mean averages records" {
    npy a.npy '1.0 * np.cos(2 * np.pi * 5 * np.arange(64) / 64)'
    npy b.npy '3.0 * np.cos(2 * np.pi * 5 * np.arange(64) / 64)'
    npy2tsr -a dims=x a.npy b.npy > ab.tsr
    spectrum --tsv ab.tsr > P.tsv
    run awk -F'\t' '$3 == 5 { print $1, $NF }' P.tsv
    assert_line "0 0.5"
    assert_line "1 4.5"
    spectrum --tsv --mean ab.tsr > M.tsv
    run awk -F'\t' '$3 == 5 { print $1, $NF }' M.tsv
    assert_output "mean 2.5"
}

@test "spectrum: space-time PSD puts a travelling wave at one (omega, k)" {
    npy p.npy 'np.fromfunction(lambda t, x: np.cos(2 * np.pi * (3 * x / 32 - 2 * t / 20)), (20, 32))'
    npy2tsr -a dims=t,x p.npy > p.tsr
    spectrum --mode spacetime --tsv p.tsr > S.tsv
    py 'import csv
for r in csv.DictReader(open("S.tsv"), delimiter="\t"):
    want = 0.5 if (r["w"], r["k"]) == ("-2", "3") else 0.0
    assert abs(float(r["value"]) - want) < 1e-12, r'
}

@test "spectrum: stream output is a record per input with dims c,k, kept attributes and history" {
    npy a.npy 'np.random.default_rng(0).standard_normal((3, 2, 16, 16)).astype("f4")'
    npy2tsr -a dims=t,c,y,x -a nu=0.001 a.npy a.npy > a.tsr
    spectrum a.tsr > s.tsr
    run tsr-info s.tsr
    assert_success
    assert_line --partial $'0\tspectrum\t<f8\t(2, 12)'
    assert_output --partial "dims=c,k"
    assert_output --partial "nu=0.001"
    run tsr-info --attrs s.tsr
    assert_output --partial "spectrum a.tsr"
    spectrum --mean a.tsr > m.tsr
    [ "$(count_records m.tsr)" = 1 ]
}

@test "spectrum: bad input and options are clear errors" {
    mkstream nan.tsr 'np.array([[0, 1], [np.nan, 2]], "f4")'
    run spectrum --tsv -o out.tsv nan.tsr
    assert_failure 1
    assert_output --partial "NaN"
    [ ! -e out.tsv ]
    mkstream int.tsr 'np.zeros((4, 4), "i4")'
    run spectrum int.tsr
    assert_failure 1
    assert_output --partial "dtype <i4"
    npy a.npy 'np.zeros(8)'
    npy2tsr -a dims=x a.npy > x.tsr
    run spectrum --mode energy x.tsr
    assert_failure 1
    assert_output --partial "needs 2-D fields"
    run spectrum --mode spacetime x.tsr
    assert_failure 1
    assert_output --partial "needs a t axis"
    run spectrum --mode wavelet x.tsr
    assert_failure 2
    npy b.npy 'np.zeros(16)'
    npy2tsr -a dims=x a.npy b.npy > ab.tsr
    run spectrum --mean --tsv ab.tsr
    assert_failure 1
    assert_output --partial "shape differs"
}

@test "spectrum: records with zero frames are an error, not NaN" {
    npy e.npy 'np.zeros((0, 2, 32))'
    npy2tsr -a dims=t,c,x e.npy > e.tsr
    for m in psd spacetime; do
        run spectrum --mode $m --tsv e.tsr
        assert_failure 1
        assert_output --partial "record 0 holds no values (0 frames"
        run spectrum --mode $m --mean --tsv e.tsr
        assert_failure 1
    done
}
