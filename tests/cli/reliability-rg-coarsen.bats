#!/usr/bin/env bats
# Reliability of sharding through rg-coarsen (issue 15): its noise is keyed by
# each record's sample index (and name and grid), not by its position in the
# input, so coarsening shards of a stream gives the records of coarsening the
# whole, byte for byte (the history, which holds each command line, aside:
# compared here through tsr-info, which leaves it out, and the payloads).

load helper

setup() { cd "$BATS_TEST_TMPDIR"; }

# same_records A B: every record's header line (history aside) and payload agree.
same_records() {
    diff <(tsr-info "$1") <(tsr-info "$2")
    rm -rf "$1.d" "$2.d"
    tsr2npy -o "$1.d/" "$1" && tsr2npy -o "$2.d/" "$2"
    diff -r "$1.d" "$2.d"
}

@test "rg-coarsen: shards of a 6-record closure stream coarsen as the whole does" {
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 0.39478417604357434 --interval 0.39478417604357434 --frames 3 \
        --count 2 -q -o ns.tsr
    [ "$(count_records ns.tsr)" -eq 6 ]
    rg-coarsen --preset kolmogorov --lambda 0.1 --seed 3 < ns.tsr > whole.tsr
    tsr-cat --records 0:3 ns.tsr | rg-coarsen --preset kolmogorov --lambda 0.1 --seed 3 > s0.tsr
    tsr-cat --records 3:6 ns.tsr | rg-coarsen --preset kolmogorov --lambda 0.1 --seed 3 > s1.tsr
    cat s0.tsr s1.tsr > shards.tsr
    same_records whole.tsr shards.tsr
    # the shards cut elsewhere, and the generator's own shards, too
    tsr-cat --records 0:1 ns.tsr | rg-coarsen --preset kolmogorov --lambda 0.1 --seed 3 > t0.tsr
    tsr-cat --records 1:6 ns.tsr | rg-coarsen --preset kolmogorov --lambda 0.1 --seed 3 > t1.tsr
    cat t0.tsr t1.tsr > shards2.tsr
    same_records whole.tsr shards2.tsr
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 0.39478417604357434 --interval 0.39478417604357434 --frames 3 \
        --first 1 --count 1 -q | rg-coarsen --preset kolmogorov --lambda 0.1 --seed 3 > g1.tsr
    tsr-cat --records 3:6 whole.tsr > whole1.tsr
    rm -rf g1.tsr.d whole1.tsr.d
    tsr2npy -o g1.tsr.d/ g1.tsr && tsr2npy -o whole1.tsr.d/ whole1.tsr && diff -r g1.tsr.d whole1.tsr.d
}

@test "rg-coarsen: the fields of one sample get independent noise; another seed other noise" {
    need_numpy
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 0.39478417604357434 --interval 0.39478417604357434 --frames 2 \
        -q -o ns.tsr
    rg-coarsen --preset kolmogorov --lambda 0.1 --seed 3 ns.tsr > a.tsr
    rg-coarsen --preset kolmogorov --lambda 0.1 --no-noise ns.tsr > m.tsr
    rg-coarsen --preset kolmogorov --lambda 0.1 --seed 4 ns.tsr > b.tsr
    for f in a m b; do tsr2npy -o $f/ $f.tsr; done
    run py '
import glob
na = [np.load(f) - np.load(f.replace("a/", "m/")) for f in sorted(glob.glob("a/*.npy"))]
nb = [np.load(f) - np.load(f.replace("b/", "m/")) for f in sorted(glob.glob("b/*.npy"))]
assert len(na) == 3
c = lambda x, y: abs((x * y).sum()) / np.sqrt((x * x).sum() * (y * y).sum())
worst = max(c(na[i], na[j]) for i in range(3) for j in range(i + 1, 3))
assert worst < 0.5, ("noise of omega, G, H correlated", worst)
assert max(c(x, y) for x, y in zip(na, nb)) < 0.5, "seed 3 and 4 share noise"
print("ok")'
    assert_success
    assert_output ok
}

@test "rg-coarsen: without a sample attribute the noise is keyed by position, with a warning" {
    need_numpy
    npy p.npy 'np.random.default_rng(1).standard_normal((4, 64)).astype("f4")'
    npy2tsr -a dims=t,x p.npy p.npy > nosample.tsr
    run rg-coarsen --preset l96 --lambda 0.2 --seed 1 -o out.tsr nosample.tsr
    assert_success
    assert_output --partial "rg-coarsen: warning: record 0 has no sample attribute"
    [ "$(grep -c warning <<< "$output")" -eq 1 ]
    # the two identical records are two positions: different noise
    tsr2npy -o o/ out.tsr
    py 'import glob; a, b = [np.load(f) for f in sorted(glob.glob("o/*.npy"))]; assert not np.array_equal(a, b)'
    npy2tsr -a dims=t,x -a sample=x p.npy > bad.tsr
    run rg-coarsen --preset l96 --lambda 0.2 -o bad-out.tsr bad.tsr
    assert_failure 1
    assert_output --partial "record 0: attribute sample"
    [ ! -e bad-out.tsr ]
}

@test "rg-coarsen --help says how the noise is keyed" {
    run rg-coarsen --help
    assert_success
    assert_output --partial "sample attribute"
    assert_output --partial "keyed by its position"
}
