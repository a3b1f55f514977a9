#!/usr/bin/env bats
# relerr through the command line: identities, scalings, hand cases,
# ensembles, and every mismatch.

load helper

setup() {
    need_numpy
    cd "$BATS_TEST_TMPDIR"
    npy u.npy 'np.random.default_rng(2).standard_normal((5, 2, 32)) + 0.3'
    py 'np.save("v.npy", 1.1 * np.load("u.npy"))'
    npy2tsr -a dims=t,c,x u.npy u.npy > x.tsr
    npy2tsr -a dims=t,c,x v.npy v.npy > y.tsr
}

# val OUTPUT METRIC KEY: the value of one row
val() { printf '%s\n' "$1" | awk -F'\t' -v m="$2" -v k="$3" '$1 == m && $2 == k { print $3 }'; }

@test "relerr: x against x is 0 on every row" {
    run relerr x.tsr x.tsr
    assert_success
    assert_line --index 0 $'metric\tkey\tvalue'
    run awk -F'\t' 'NR > 1 && $3 != 0' <<< "$output"
    assert_output ""
}

@test "relerr: 1.1 x gives 0.1 (rel_l2, d_fro, rel_max) and 0.21 spectral error" {
    run relerr x.tsr y.tsr
    assert_success
    for m in "rel_l2 mean" "rel_l2 t=3" "d_fro mean" "d_fro sample=1" "rel_max mean"; do
        py 'v = float(sys.argv[1]); assert abs(v - 0.1) < 1e-6, v' "$(val "$output" $m)"
    done
    py 'v = float(sys.argv[1]); assert abs(v - 0.21) < 1e-6, v' "$(val "$output" spec_err c=1)"
}

@test "relerr: hand-computed case" {
    # truth frames (3) and (4), prediction (3) and (0): per frame 0 and 1,
    # mean 0.5; whole path sqrt(16/25) = 0.8; max 4/4; mse 8
    npy a.npy 'np.array([[3.0], [4.0]])'
    npy b.npy 'np.array([[3.0], [0.0]])'
    npy2tsr -a dims=t,x a.npy > a.tsr
    npy2tsr -a dims=t,x b.npy > b.tsr
    run relerr --summary a.tsr b.tsr
    assert_success
    assert_line $'rel_l2\tt=0\t0'
    assert_line $'rel_l2\tt=1\t1'
    assert_line $'rel_l2\tmean\t0.5'
    assert_line $'d_fro\tmean\t0.8'
    assert_line $'rel_max\tmean\t1'
    assert_line $'mse\tall\t8'
}

@test "relerr: an ensemble u +- 0.5 has zero ensemble-mean error, CRPS 0.25, known spread" {
    py 'u = np.load("u.npy"); np.save("p.npy", u + 0.5); np.save("m.npy", u - 0.5)'
    npy2tsr -a dims=t,c,x p.npy m.npy p.npy m.npy > ens.tsr
    run relerr x.tsr ens.tsr
    assert_success
    assert_line $'members\tall\t2'
    py 'v = float(sys.argv[1]); assert abs(v) < 1e-7, v' "$(val "$output" ens_rel_l2 mean)"
    py 'v = float(sys.argv[1]); assert abs(v - 0.25) < 1e-7, v' "$(val "$output" crps all)"
    # unbiased variance 2 * 0.25 = 0.5 per point: spread_t = sqrt(0.5 n) / ||u_t||
    py 'u = np.load("u.npy"); want = np.mean([np.sqrt(0.5 * u[t].size) / np.linalg.norm(u[t]) for t in range(5)])
v = float(sys.argv[1]); assert abs(v / want - 1) < 1e-6, (v, want)' "$(val "$output" ens_spread mean)"
    # from a pipe the member count must be given
    run relerr x.tsr - < ens.tsr
    assert_failure 1
    assert_output --partial "--members"
    run relerr --members 2 x.tsr - < ens.tsr
    assert_success
}

@test "relerr: mismatched shapes, record counts, grids and bad values are clear errors" {
    npy s.npy 'np.ones((5, 2, 16))'
    npy2tsr -a dims=t,c,x s.npy s.npy > s.tsr
    run relerr x.tsr s.tsr
    assert_failure 1
    assert_output --partial "truth record 0 has shape 5x2x32 (dims t,c,x) but pred record 0 has 5x2x16"
    npy2tsr -a dims=t,c,x u.npy u.npy u.npy > three.tsr
    run relerr x.tsr three.tsr
    assert_failure 1
    assert_output --partial "PRED has 3 records and TRUTH 2"
    npy2tsr -a dims=t,c,x u.npy > one.tsr
    run relerr x.tsr - < one.tsr
    assert_failure 1
    assert_output --partial "PRED ends after 1 records"
    npy2tsr -a dims=t,c,x -a L=1 u.npy u.npy > l1.tsr
    run relerr x.tsr l1.tsr
    assert_failure 1
    assert_output --partial "L=1"
    npy2tsr -a dims=c,t,x u.npy u.npy > dims.tsr
    run relerr x.tsr dims.tsr
    assert_failure 1
    assert_output --partial "dims c,t,x"
    py 'u = np.load("u.npy"); u[1, 0, 3] = np.nan; np.save("n.npy", u)'
    npy2tsr -a dims=t,c,x n.npy n.npy > nan.tsr
    run relerr x.tsr nan.tsr
    assert_failure 1
    assert_output --partial "NaN at index (1,0,3)"
    mkstream int.tsr 'np.zeros((5, 2, 32), "i4")' 'np.zeros((5, 2, 32), "i4")'
    run relerr x.tsr int.tsr
    assert_failure 1
    assert_output --partial "dtype <i4"
    npy z.npy 'np.zeros((5, 2, 32))'
    npy2tsr -a dims=t,c,x z.npy z.npy > z.tsr
    run relerr z.tsr x.tsr
    assert_failure 1
    assert_output --partial "identically zero"
    run relerr x.tsr
    assert_failure 2
    run relerr --members -1 x.tsr x.tsr
    assert_failure 2
}

@test "relerr: --help states the normalisations and the mean mode" {
    run relerr --help
    assert_success
    assert_output --partial "mean mode"
    assert_output --partial "INCLUDED"
    assert_output --partial "|FFT(u)/n|^2"
    assert_output --partial "crps"
}
