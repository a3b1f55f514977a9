#!/usr/bin/env bats
# l96-gen: records and attributes, shards and threads give the same bytes,
# bad input is refused.

load helper

setup() { cd "$BATS_TEST_TMPDIR"; }

SMALL=(--frames 4 --spinup 0.5 --interval 0.05 --quiet)

payload() { zstd -dcq "$1"; }
headers() { tsr-info --stats "$1" | cut -f2-; }

@test "l96-gen --help lists the options with defaults" {
    run l96-gen --help
    assert_success
    assert_output --partial "Usage: l96-gen"
    assert_output --partial "--scheme S"
    assert_output --partial "(default: 0.0005)"
    assert_output --partial "(default: euler)"
}

@test "l96-gen writes one (frames, 2, K*J) record per sample with dims=t,c,x" {
    l96-gen "${SMALL[@]}" --count 3 --seed 4 > a.tsr
    assert_equal "$(count_records a.tsr)" 3
    run tsr-info a.tsr
    assert_output --regexp $'u\t<f4\t\(4, 2, 128\)'
    for kv in dims=t,c,x channels=X,Y K=32 J=4 F=10 scheme=euler seed=4 sample=2 t0=0.5; do
        assert_output --partial "$kv"
    done
    l96-gen "${SMALL[@]}" --K 8 --J 3 --scheme rk4 --f64 > b.tsr
    run tsr-info b.tsr
    assert_output --regexp $'u\t<f8\t\(4, 2, 24\)'
    assert_output --partial "scheme=rk4"
}

@test "l96-gen X channel is block-constant: X_k replicated J times" {
    need_numpy
    l96-gen "${SMALL[@]}" --f64 | tsr2npy > u.npy
    py 'u = np.load("u.npy"); x = u[:, 0].reshape(4, 32, 4)
assert np.all(x == x[:, :, :1]), "X not replicated"
assert np.std(u[:, 1]) > 0.01 and np.std(x) > 0.5' 
}

@test "l96-gen shards: --count 4 equals two shards of 2, and a lone sample" {
    l96-gen "${SMALL[@]}" --seed 2 --count 4 > all.tsr
    l96-gen "${SMALL[@]}" --seed 2 --count 2 > s0.tsr
    l96-gen "${SMALL[@]}" --seed 2 --first 2 --count 2 > s1.tsr
    cmp <(payload all.tsr) <(cat <(payload s0.tsr) <(payload s1.tsr))
    tsr-cat s0.tsr s1.tsr > cat.tsr
    assert_equal "$(headers all.tsr)" "$(headers cat.tsr)"
    l96-gen "${SMALL[@]}" --seed 2 --first 1 > one.tsr
    cmp <(payload one.tsr) <(tsr-cat --records 1 all.tsr | zstd -dcq)
}

@test "l96-gen gives identical bytes at 1 and 2 threads" {
    OMP_NUM_THREADS=1 l96-gen "${SMALL[@]}" --count 3 > t1.tsr
    OMP_NUM_THREADS=2 l96-gen "${SMALL[@]}" --count 3 > t2.tsr
    cmp t1.tsr t2.tsr
}

@test "l96-gen refuses bad options with exit 2 and a clear message" {
    check() {
        local want=$1
        shift
        run l96-gen "${SMALL[@]}" "$@"
        assert_failure 2
        assert_output --partial "l96-gen: error:"
        assert_output --partial "$want"
    }
    check "K=2" --K 2
    check "J=0" --J 0
    check "b=0" --b 0
    check "unknown scheme 'rk3'" --scheme rk3
    check "--dt: 0 must be positive" --dt 0
    check "not a whole number of steps" --interval 0.0123
    check "--frames: 0" --frames 0
    check "--count: 0" --count 0
    check "not a valid number" --F ten
}

@test "l96-gen blow-up: exit 1 naming the sample and time, no stream file left" {
    run l96-gen "${SMALL[@]}" --dt 0.05 --spinup 50 --first 2 -o blow.tsr
    assert_failure 1
    assert_output --partial "sample 2: blow-up by t="
    [ ! -e blow.tsr ]
}
