#!/usr/bin/env bats
# rg-coarsen through the command line: identities, the single-mode factor,
# sigma against its closed form, the semigroup, determinism, bad input.

load helper

setup() {
    need_numpy
    cd "$BATS_TEST_TMPDIR"
    # 1-D path (t, c, x) and one 2-D field, float32, on [0, 2π)
    npy p.npy 'np.random.default_rng(1).standard_normal((6, 2, 64)).astype("f4")'
    npy2tsr -a dims=t,c,x p.npy p.npy > path.tsr
    npy f.npy 'np.cos(3 * 2 * np.pi * np.arange(64) / 64)'
    # interval is the frame spacing; dt (the solver step) must not be used for sigma
    npy2tsr -a dims=x -a dt=0.0005 -a interval=0.05 f.npy > cos.tsr
}

# arr FILE: the record payloads as one stacked array in FILE.npy
arr() { tsr2npy --stack -o "$1.npy" "$1"; }

@test "rg-coarsen: --help documents every option and the formulas" {
    run rg-coarsen --help
    assert_success
    for o in --lambda --alpha --beta --preset --noise --no-noise --laplacian --lambda-floor --seed --dt --dims; do
        assert_output --partial -- "$o"
    done
    assert_output --partial "exp(-alpha |k|^2 lambda)"
}

@test "rg-coarsen: lambda 0 without noise is the identity (payload bytes)" {
    rg-coarsen --alpha 0.3 --beta 2 --lambda 0 --no-noise path.tsr > out.tsr
    arr path.tsr; arr out.tsr
    py 'a, b = np.load("path.tsr.npy"), np.load("out.tsr.npy"); assert a.dtype == b.dtype and a.tobytes() == b.tobytes()'
    run relerr path.tsr out.tsr --summary
    assert_success
    assert_line --regexp '^rel_max	mean	0$'
}

@test "rg-coarsen: a single mode is damped by exp(-alpha k^2 lambda), both Laplacians" {
    rg-coarsen --alpha 0.1 --beta 1 --lambda 0.5 --no-noise cos.tsr > s.tsr
    rg-coarsen --alpha 0.1 --beta 1 --lambda 0.5 --no-noise --laplacian fd cos.tsr > d.tsr
    arr s.tsr; arr d.tsr
    py 'x = np.cos(3 * 2 * np.pi * np.arange(64) / 64)
h = 2 * np.pi / 64
ks = {"s": 9.0, "d": 4 * np.sin(np.pi * 3 / 64) ** 2 / h ** 2}
for k, ksq in ks.items():
    got = np.load(k + ".tsr.npy")[0]
    want = np.exp(-0.1 * ksq * 0.5) * x
    err = np.abs(got - want).max()
    assert err < 1e-12, (k, err)'
}

@test "rg-coarsen: attributes, and sigma_lambda matches its closed form" {
    rg-coarsen --alpha 0.1 --beta 1.4142135623730951 --lambda 0.2 cos.tsr > s.tsr
    run tsr-info --attrs s.tsr
    assert_output --partial "lambda=0.2"
    assert_output --partial "alpha=0.1"
    assert_output --partial "rg_noise=1"
    assert_output --partial "history="
    sig=$(tsr-info s.tsr | tr '\t ' '\n\n' | sed -n 's/^sigma_lambda=//p')
    # tr(Σ)/D over the full spectrum of N = 64, k = 0 excluded, dt = 0.05
    py 'n = np.fft.fftfreq(64, 1 / 64); k2 = n[n != 0] ** 2
S = 2 * (1 - np.exp(-2 * 0.1 * k2 * 0.2)) / (2 * 0.1 * k2)
want = np.sqrt(S.sum() / 64 / 0.05); got = float(sys.argv[1])
assert abs(got / want - 1) < 1e-12, (got, want)' "$sig"
}

@test "rg-coarsen: lambda 0.1 twice equals lambda 0.2 (means exactly; lambda adds up)" {
    rg-coarsen --preset kolmogorov --lambda 0.1 --no-noise path.tsr | rg-coarsen --preset kolmogorov --lambda 0.1 --no-noise > two.tsr
    rg-coarsen --preset kolmogorov --lambda 0.2 --no-noise path.tsr > one.tsr
    run relerr one.tsr two.tsr --summary
    assert_success
    py 'import re; v = float(re.search(r"^d_fro\tmean\t(\S+)$", sys.argv[1], re.M).group(1)); assert v < 1e-6, v' "$output"
    run tsr-info two.tsr
    assert_output --partial "lambda=0.20000000000000001"
}

@test "rg-coarsen: another alpha on already coarse-grained data is refused" {
    rg-coarsen --preset l96 --lambda 0.1 path.tsr > c.tsr
    run rg-coarsen --preset kolmogorov --lambda 0.1 -o bad.tsr c.tsr
    assert_failure 1
    assert_output --partial "would not compose"
    [ ! -e bad.tsr ]
}

@test "rg-coarsen: same seed gives the same bytes at 1 and 2 threads; another seed differs" {
    OMP_NUM_THREADS=1 rg-coarsen --preset l96 --lambda 0.3 --seed 5 path.tsr > a.tsr
    OMP_NUM_THREADS=2 rg-coarsen --preset l96 --lambda 0.3 --seed 5 path.tsr > b.tsr
    cmp a.tsr b.tsr
    rg-coarsen --preset l96 --lambda 0.3 --seed 6 path.tsr > c.tsr
    arr a.tsr; arr c.tsr
    py 'assert not np.array_equal(np.load("a.tsr.npy"), np.load("c.tsr.npy"))'
}

@test "rg-coarsen: noise keeps the mean of every field (k = 0 untouched)" {
    rg-coarsen --preset kolmogorov --lambda 0.9 path.tsr > n.tsr
    arr path.tsr; arr n.tsr
    py 'a, b = np.load("path.tsr.npy").astype("f8"), np.load("n.tsr.npy").astype("f8")
d = np.abs(a.mean(-1) - b.mean(-1)).max(); assert d < 1e-5, d
assert np.abs(a - b).max() > 0.1'
}

@test "rg-coarsen: bad input is a clear error and writes nothing" {
    mkstream nan.tsr 'np.array([[0, 1, np.nan, 2]], "f4")'
    run rg-coarsen --preset l96 --lambda 0.1 -o out.tsr nan.tsr
    assert_failure 1
    assert_output --partial "NaN at index (0,2)"
    [ ! -e out.tsr ]
    mkstream int.tsr 'np.arange(8, dtype="i4")'
    run rg-coarsen --preset l96 --lambda 0.1 -o out.tsr int.tsr
    assert_failure 1
    assert_output --partial "dtype <i4"
    [ ! -e out.tsr ]
    run rg-coarsen --preset l96 path.tsr
    assert_failure 2
    assert_output --partial "--lambda is required"
    run rg-coarsen --lambda 0.1 path.tsr
    assert_failure 2
    assert_output --partial "--alpha is required"
    run rg-coarsen --preset l96 --lambda -1 path.tsr
    assert_failure 2
    assert_output --partial "not a finite number >= 0"
    run rg-coarsen --preset l96 --lambda abc path.tsr
    assert_failure 2
    run rg-coarsen --preset l96 --lambda 0.1 --laplacian wavelet path.tsr
    assert_failure 2
    assert_output --partial "not spectral or fd"
    run rg-coarsen --preset l96 --lambda 0.1 --dims t,x path.tsr
    assert_failure 1
    assert_output --partial "names 2 axes but the array has rank 3"
    head -c 200 path.tsr > trunc.tsr
    run rg-coarsen --preset l96 --lambda 0.1 -o out.tsr trunc.tsr
    assert_failure 1
    no_files_like . 'out.tsr*'
}
