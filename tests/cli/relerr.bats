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

# Seed 001 B.5, computed independently in NumPy: standardise both streams
# with the training set's per-channel mean and std, then the per-channel
# spectral error of the path-averaged |FFT_{t,x}|^2 (two-sided, unfolded) and
# the per-channel and pooled relative L2 per frame, averaged over paths.
@test "relerr --standardize: seed 001's metrics agree with NumPy on a fixture" {
    py 'r = np.random.default_rng(5)
tr = r.standard_normal((6, 8, 2, 16)) * np.array([3.0, 0.2])[:, None] + np.array([2.5, 0.1])[:, None]
u = r.standard_normal((3, 8, 2, 16)) * np.array([3.0, 0.2])[:, None] + np.array([2.5, 0.1])[:, None]
v = u + r.standard_normal(u.shape) * np.array([1.0, 0.1])[:, None] + np.array([0.7, 0.0])[:, None]
for n, a in (("tr", tr), ("u", u), ("v", v)):
    for i in range(len(a)): np.save(f"{n}{i}.npy", a[i])'
    npy2tsr -a dims=t,c,x tr0.npy tr1.npy tr2.npy tr3.npy tr4.npy tr5.npy > tr.tsr
    npy2tsr -a dims=t,c,x u0.npy u1.npy u2.npy > u.tsr
    npy2tsr -a dims=t,c,x v0.npy v1.npy v2.npy > v.tsr
    run relerr --stats tr.tsr
    assert_success
    norm=$output
    py 'tr = np.stack([np.load(f"tr{i}.npy") for i in range(6)])
m = tr.mean(axis=(0, 1, 3)); s = tr.std(axis=(0, 1, 3))
got = [[float(x) for x in p.split(":")] for p in sys.argv[1].split(",")]
assert np.allclose(got, np.stack([m, s], 1), rtol=1e-9), (got, m, s)' "$norm"
    run relerr --standardize "$norm" --summary u.tsr v.tsr
    assert_success
    out=$output
    py 'tr = np.stack([np.load(f"tr{i}.npy") for i in range(6)])
m = tr.mean(axis=(0, 1, 3))[:, None]; s = tr.std(axis=(0, 1, 3))[:, None]
u = (np.stack([np.load(f"u{i}.npy") for i in range(3)]) - m) / s
v = (np.stack([np.load(f"v{i}.npy") for i in range(3)]) - m) / s
rows = dict(((l.split("\t")[0], l.split("\t")[1]), float(l.split("\t")[2])) for l in sys.argv[1].splitlines()[1:])
for c in range(2):
    P = (np.abs(np.fft.fft2(u[:, :, c, :])) ** 2).mean(0)
    Q = (np.abs(np.fft.fft2(v[:, :, c, :])) ** 2).mean(0)
    want = np.abs(P - Q).sum() / P.sum()
    assert abs(rows["spec_err", f"c={c}"] / want - 1) < 1e-9, (c, rows["spec_err", f"c={c}"], want)
    for t in (0, 5):
        want = np.mean(np.linalg.norm(u[:, t, c] - v[:, t, c], axis=1) / np.linalg.norm(u[:, t, c], axis=1))
        assert abs(rows["rel_l2", f"c={c},t={t}"] / want - 1) < 1e-9, (c, t)
for t in (0, 5):
    want = np.mean(np.linalg.norm((u[:, t] - v[:, t]).reshape(3, -1), axis=1) / np.linalg.norm(u[:, t].reshape(3, -1), axis=1))
    assert abs(rows["rel_l2", f"t={t}"] / want - 1) < 1e-9, t
# the raw metric differs (the mean mode and the pooling change)
' "$out"
    run relerr --summary u.tsr v.tsr
    assert_success
    [ "$(val "$output" spec_err c=0)" != "$(val "$out" spec_err c=0)" ]
    # truth: the truth operand's own statistics, the same as passing them
    run relerr --stats u.tsr
    a=$(relerr --standardize "$output" --summary u.tsr v.tsr)
    b=$(relerr --standardize truth --summary u.tsr v.tsr)
    py 'a = [l.split("\t") for l in sys.argv[1].splitlines()[1:]]; b = [l.split("\t") for l in sys.argv[2].splitlines()[1:]]
assert [r[:2] for r in a] == [r[:2] for r in b]
assert all(abs(float(x[2]) - float(y[2])) <= 1e-8 * abs(float(y[2])) for x, y in zip(a, b))' "$a" "$b"
}

@test "relerr --standardize / --stats: bad specifications are usage errors, a channel mismatch a data error" {
    for bad in 1 '1:0' '1:-2' 'a:b' '1:2,' '1:nan' '1:2:3'; do
        run relerr --standardize "$bad" x.tsr x.tsr
        assert_failure 2
        assert_output --partial "--standardize"
    done
    run relerr --standardize 0:1 x.tsr x.tsr
    assert_failure 1
    assert_output --partial "1 channel(s) but the records have 2"
    run relerr --standardize truth - x.tsr < x.tsr
    assert_failure 2
    run relerr --stats x.tsr x.tsr
    assert_failure 2
}

@test "relerr --bootstrap: identical sets give [0, 0]; intervals bracket spread; same seed same bytes" {
    npy2tsr -a dims=t,c,x u.npy v.npy u.npy v.npy > four.tsr
    run relerr --bootstrap 200 --seed 3 --summary four.tsr four.tsr
    assert_success
    assert_line --index 0 $'metric\tkey\tvalue\tlo\thi'
    run awk -F'\t' 'NR > 1 && ($3 != 0 || $4 != 0 || $5 != 0)' <<< "$output"
    assert_output ""
    # a prediction whose error differs per path: lo < hi, lo <= mean <= hi for the L2 means
    npy2tsr -a dims=t,c,x v.npy u.npy u.npy u.npy > mix.tsr
    run relerr --bootstrap 200 --seed 3 --summary four.tsr mix.tsr
    assert_success
    run awk -F'\t' '$1 ~ /^(d_fro|rel_l2)$/ && $2 == "mean" && !($4 < $5 && $4 <= $3 && $3 <= $5)' <<< "$output"
    assert_output ""
    a=$(relerr --bootstrap 50 --seed 9 four.tsr mix.tsr)
    b=$(relerr --bootstrap 50 --seed 9 four.tsr mix.tsr)
    [ "$a" = "$b" ]
    # per-sample rows carry empty interval columns
    run awk -F'\t' '$2 ~ /^sample=/ && (NF != 5 || $4 != "" || $5 != "")' <<< "$a"
    assert_output ""
}

@test "relerr --bootstrap: a count of 0 or below, or a negative seed, is a usage error" {
    for n in 0 -1 -5; do
        run relerr --bootstrap "$n" x.tsr x.tsr
        assert_failure 2
        assert_output --partial "--bootstrap"
    done
    run relerr --bootstrap 10 --seed -1 x.tsr x.tsr
    assert_failure 2
}

# Six "trajectories" of 10 frames each (--dims s,y,x: a frame is a path):
# the prediction's error is shared by the frames of one record (a factor
# 1 + e_r) plus a little per-frame noise, as for the frames of one flow.
@test "relerr --group record: identical sets give [0, 0]; correlated frames widen the interval" {
    py '
r = np.random.default_rng(5)
for i in range(6):
    u = r.standard_normal((10, 4, 4)) + 0.5
    e = 0.05 + 0.3 * r.random()
    v = u * (1 + e) + 0.01 * r.standard_normal(u.shape)
    np.save("gu%d.npy" % i, u); np.save("gv%d.npy" % i, v)'
    npy2tsr -a dims=s,y,x gu0.npy gu1.npy gu2.npy gu3.npy gu4.npy gu5.npy > gu.tsr
    npy2tsr -a dims=s,y,x gv0.npy gv1.npy gv2.npy gv3.npy gv4.npy gv5.npy > gv.tsr
    run relerr --bootstrap 300 --seed 4 --group record --summary gu.tsr gu.tsr
    assert_success
    run awk -F'\t' 'NR > 1 && ($3 != 0 || $4 != 0 || $5 != 0)' <<< "$output"
    assert_output ""
    g=$(relerr --bootstrap 300 --seed 4 --group record --summary gu.tsr gv.tsr | awk -F'\t' '$1 == "d_fro" { print $3, $4, $5 }')
    p=$(relerr --bootstrap 300 --seed 4 --summary gu.tsr gv.tsr | awk -F'\t' '$1 == "d_fro" { print $3, $4, $5 }')
    # the same estimate; the grouped interval brackets it and is wider (by
    # about sqrt(10) for frames this correlated; 2 is a safe margin)
    py '
g = [float(x) for x in sys.argv[1].split()]; p = [float(x) for x in sys.argv[2].split()]
assert g[0] == p[0], (g, p)
assert g[1] <= g[0] <= g[2], g
assert g[2] - g[1] > 2 * (p[2] - p[1]), (g, p)' "$g" "$p"
    run relerr --bootstrap 10 --group frame gu.tsr gv.tsr
    assert_failure 2
    assert_output --partial "--group"
}

# The noise floor: two disjoint sets of true paths of size n.  Their spectral
# error is sampling noise alone, so it falls like 1/sqrt(n): from n = 16 to
# 64 by about 2 (1.74-2.22 over three generator seeds; averaged over the
# disjoint pairs 256 paths give and both channels).
@test "relerr: the floor of two halves of one physics set shrinks like 1/sqrt(n)" {
    l96-gen --K 8 --J 4 --spinup 2 --frames 16 --count 256 --seed 1 -q -o h.tsr
    floor() {
        local n=$1 i
        for ((i = 0; i < 256; i += 2 * n)); do
            tsr-cat -r $i:$((i + n)) -o a.tsr h.tsr
            tsr-cat -r $((i + n)):$((i + 2 * n)) -o b.tsr h.tsr
            relerr --standardize truth --summary a.tsr b.tsr | awk -F'\t' '$1 == "spec_err" { print $3 }'
        done | awk '{ s += $1; n++ } END { print s / n }'
    }
    f16=$(floor 16) f64=$(floor 64)
    py 'a, b = float(sys.argv[1]), float(sys.argv[2]); assert 1.5 < a / b < 2.7, (a, b, a / b)' "$f16" "$f64"
}

@test "relerr: records with zero frames are an error, not NaN" {
    npy e.npy 'np.zeros((0, 2, 32))'
    npy2tsr -a dims=t,c,x e.npy > e.tsr
    run relerr e.tsr e.tsr
    assert_failure 1
    assert_output --partial "holds no values (0 frames"
    run relerr --stats e.tsr
    assert_failure 1
    assert_output --partial "holds no values"
}
