#!/usr/bin/env bats
# Outputs a user points at odd places: a device node, a FIFO, a directory, a
# missing or unwritable directory, a full disk on stdout; inputs that are
# directories; error messages that name a file once.

load helper

NS=(--n 16 --frames 2 --spinup 0 --interval 0.01 --out-grid 8 -q)

setup() { cd "$BATS_TEST_TMPDIR"; }

@test "-o onto a device node writes through it and leaves the node in place" {
    mknod null c 1 3 || skip "cannot make a device node here"
    run ns-gen "${NS[@]}" -o null
    assert_success
    [ -c null ]
    [ -z "$(ls | grep -v '^null$')" ]   # no temporary file left
    # Also through the checkpoint writer and tsr-cat.
    ns-gen "${NS[@]}" -o a.tsr
    run tsr-cat -o null a.tsr
    assert_success
    [ -c null ]
    mknod null.npy c 1 3
    run tsr2npy --stack -o null.npy a.tsr
    assert_failure 2
    run tsr2npy -o null.npy a.tsr
    assert_success
    [ -c null.npy ]
    [ -z "$(ls | grep -v '^null' | grep -v '^a.tsr$')" ]
}

@test "-o onto a FIFO writes in place: the reader gets the whole stream" {
    mkfifo pipe
    # (Before the fix the FIFO was replaced by a file and the reader waited
    # for ever: both sides are bounded by timeout.)
    timeout 20 tsr-info --stats pipe > info.txt &
    local reader=$!
    timeout 20 ns-gen "${NS[@]}" -o pipe
    wait $reader
    [ -p pipe ]
    grep -q omega info.txt
    ns-gen "${NS[@]}" | tsr-info --stats > direct.txt
    cmp info.txt direct.txt
}

@test "-o onto a directory is refused before any work, with a clear message" {
    mkdir somedir
    run ns-gen "${NS[@]}" -o somedir
    assert_failure 2
    assert_output --partial "somedir is a directory"
    [ -z "$(ls somedir)" ]
    [ "$(ls)" = somedir ]
    run tsr-cat -o somedir /dev/null
    assert_failure 2
}

@test "-o in a missing directory is refused at option time (ns-gen, pd-train, fno-train)" {
    run ns-gen --n 256 --frames 1000 -o /nonexist/o.tsr
    assert_failure 2
    assert_output --partial "/nonexist"
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 2 -q -o l96.tsr
    # Fails at once: no training step runs (no progress, nothing written).
    run pd-train --arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 --steps 100000 \
        -o /nonexist/m l96.tsr
    assert_failure 2
    assert_output --partial "option --output: cannot write /nonexist/m"
    run fno-train --steps 100000 -o /nonexist/m x.tsr
    assert_failure 2
    assert_output --partial "cannot write /nonexist/m"
    touch plain
    run ns-gen "${NS[@]}" -o plain/o.tsr
    assert_failure 2
}

@test "a write error on stdout exits non-zero (tsr-info > /dev/full, --help > /dev/full)" {
    [ -w /dev/full ] || skip "no /dev/full"
    ns-gen "${NS[@]}" -o a.tsr
    run bash -c 'tsr-info a.tsr > /dev/full'
    assert_failure 1
    assert_output --partial "write error on standard output"
    run bash -c 'tsr-info --stats a.tsr > /dev/full'
    assert_failure 1
    run bash -c 'tsr-cat a.tsr > /dev/full'
    assert_failure
    run bash -c 'ns-gen --help > /dev/full'
    assert_failure 1
}

@test "a directory as input says so" {
    mkdir d
    run tsr-info d
    assert_failure 2
    assert_output --partial "d: is a directory"
    refute_output --partial "empty input"
    run tsr-cat d
    assert_failure 2
    assert_output --partial "is a directory"
}

@test "-m and --resume errors name the path once" {
    echo junk > bad.model
    run pd-sample -m missing.model generate
    assert_failure
    assert_output --partial "missing.model: No such file"
    refute_output --partial "missing.model: missing.model"
    run pd-sample -m bad.model generate
    assert_failure
    refute_output --partial "bad.model: bad.model"
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 2 -q -o l96.tsr
    run pd-train --steps 1 --resume bad.model -o m l96.tsr
    assert_failure
    assert_output --partial "bad.model"
    refute_output --partial "bad.model: bad.model"
}

@test "closure-cond names the record that holds a NaN (record 0, not its partner)" {
    need_numpy
    npy w.npy 'np.random.default_rng(1).standard_normal((2, 16, 16)).astype("f4")'
    npy g.npy 'np.random.default_rng(2).standard_normal((2, 16, 16)).astype("f4")'
    py 'a = np.load("w.npy"); a[1, 3, 4] = np.nan; np.save("w.npy", a)'
    npy2tsr --name omega w.npy > w.tsr
    npy2tsr --name G g.npy > g.tsr
    cat w.tsr g.tsr > wg.tsr
    run closure-cond --term G --obs-n 4 wg.tsr
    assert_failure 1
    assert_output --partial "record 0 'omega': non-finite"
    # And the other way round: the NaN in the second record is named as record 1.
    cat g.tsr w.tsr > gw.tsr
    run closure-cond --term G --obs-n 4 gw.tsr
    assert_failure 1
    assert_output --partial "record 1 'omega'"
}
