#!/usr/bin/env bats
# Reliability of training inputs (issue 15): a trainer learns one model of one
# kind of record, so inputs that mix kinds (record names, shapes, or the key
# attributes term, grid, L, channels, dt) are refused with a message naming
# the two records and their files, exit status 1, and nothing written.

load helper

FNO=(--width 4 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4 --steps 2 -q)
PDD=(--arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 --steps 2 -q)

setup_file() {
    local d=$BATS_FILE_TMPDIR
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 3.9478417604357434 \
        --interval 0.39478417604357434 --frames 6 --count 2 -q -o "$d/ns.tsr"
    closure-cond --term G --obs-n 4 "$d/ns.tsr" > "$d/cond.tsr"
    closure-cond --term H --obs-n 4 "$d/ns.tsr" > "$d/condH.tsr"
    closure-cond --term G --obs-n 8 "$d/ns.tsr" > "$d/cond8.tsr"
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 2 -q -o "$d/l96.tsr"
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 2 --interval 0.1 -q -o "$d/l96-dt.tsr"
}

setup() { D=$BATS_FILE_TMPDIR; cd "$BATS_TEST_TMPDIR"; }

@test "fno-train: G and H closure data mixed are refused, naming both records and files" {
    run fno-train "${FNO[@]}" -o m.model "$D/cond.tsr" "$D/condH.tsr"
    assert_failure 1
    assert_output --partial "$D/condH.tsr record 0 'closure' has term=H, $D/cond.tsr record 0 'closure' has term=G: mixed training data"
    [ ! -e m.model ]
    # within one stream too
    cat "$D/cond.tsr" "$D/condH.tsr" > mixed.tsr
    run fno-train "${FNO[@]}" -o m.model mixed.tsr
    assert_failure 1
    assert_output --partial "mixed.tsr record 2 'closure' has term=H, mixed.tsr record 0 'closure' has term=G"
    [ ! -e m.model ]
}

@test "fno-train: another observation density, or another grid, is refused" {
    run fno-train "${FNO[@]}" -o m.model "$D/cond.tsr" "$D/cond8.tsr"
    assert_failure 1
    assert_output --partial "record 0 'closure' has obs_n=8, $D/cond.tsr record 0 'closure' has obs_n=4"
    ns-gen --preset closure --closure --n 32 --out-grid 32 --spinup 3.9478417604357434 \
        --interval 0.39478417604357434 --frames 2 -q -o ns32.tsr
    closure-cond --term G --obs-n 4 ns32.tsr > cond32.tsr
    run fno-train "${FNO[@]}" -o m.model "$D/cond.tsr" cond32.tsr
    assert_failure 1
    assert_output --partial "cond32.tsr record 0 has grid 32×32, $D/cond.tsr record 0 'closure' 16×16: mixed training data"
    [ ! -e m.model ]
}

@test "fno-train: inputs of one kind from several files still train" {
    run fno-train "${FNO[@]}" -o m.model "$D/cond.tsr" "$D/cond.tsr"
    assert_success
    [ -s m.model ]
}

@test "pd-train: a closure stream (omega, G, H) is refused, naming both records" {
    run pd-train "${PDD[@]}" -o p.model "$D/ns.tsr"
    assert_failure 1
    assert_output --partial "$D/ns.tsr record 1 is named 'G', $D/ns.tsr record 0 'omega': mixed training data"
    [ ! -e p.model ]
    # one kind selected from it trains
    tsr-cat --name omega "$D/ns.tsr" > omega.tsr
    run pd-train "${PDD[@]}" -o p.model omega.tsr
    assert_success
}

@test "pd-train: paths with another frame interval, or other channels, are refused" {
    run pd-train "${PDD[@]}" -o p.model "$D/l96.tsr" "$D/l96-dt.tsr"
    assert_failure 1
    assert_output --regexp "l96-dt.tsr record 0 'u' has interval=0.1[0-9]*, .*l96.tsr record 0 'u' has interval=0.05"
    [ ! -e p.model ]
    # the same shape under other channel names
    need_numpy
    npy x.npy 'np.zeros((8, 2, 32), "f4") + np.arange(32)'
    npy2tsr -n u -a dims=t,c,x -a channels=A,B -a L=6.2831853071795862 -a interval=0.050000000000000003 \
        -a dt=0.00050000000000000001 x.npy > ab.tsr
    run pd-train "${PDD[@]}" -o p.model "$D/l96.tsr" ab.tsr
    assert_failure 1
    assert_output --partial "ab.tsr record 0 'u' has channels=A,B, $D/l96.tsr record 0 'u' has channels=X,Y"
    [ ! -e p.model ]
}

@test "pd-train: paths of another length are refused, naming the first record" {
    l96-gen --K 8 --J 4 --frames 6 --spinup 0.5 --count 1 -q -o short.tsr
    run pd-train "${PDD[@]}" -o p.model "$D/l96.tsr" short.tsr
    assert_failure 1
    assert_output --partial "short.tsr record 0 'u' has 6 frames, 2 channels on a 32x1 grid; $D/l96.tsr record 0 'u' has 8, 2 on 32x1"
    [ ! -e p.model ]
}
