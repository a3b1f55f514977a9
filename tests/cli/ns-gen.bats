#!/usr/bin/env bats
# ns-gen: records and attributes, shards and threads give the same bytes,
# every bad input is refused with a message.  Tiny grids keep it fast.

load helper

setup() { cd "$BATS_TEST_TMPDIR"; }

# Small, fast settings: 32² solver, 3 frames, 150 steps in all.
SMALL=(--n 32 --frames 3 --spinup 0.1 --interval 0.025 --out-grid 16 --quiet)

# payload FILE: every record's data, decompressed (headers are skippable frames).
payload() { zstd -dcq "$1"; }
# headers FILE: tsr-info's listing with statistics, minus the record index.
headers() { tsr-info --stats "$1" | cut -f2-; }

@test "ns-gen --help lists the options with units and defaults" {
    run ns-gen --help
    assert_success
    assert_output --partial "Usage: ns-gen"
    assert_output --partial "--preset"
    assert_output --partial "--out-grid"
    assert_output --partial "--closure"
    assert_output --partial "viscosity"
    assert_output --partial "(default: kolmogorov)"
    assert_output --partial "Example:"
}

@test "ns-gen writes omega (frames, M, M) records with the physics in attributes" {
    ns-gen "${SMALL[@]}" --count 2 --seed 5 > a.tsr
    run tsr-info a.tsr
    assert_success
    assert_equal "$(count_records a.tsr)" 2
    assert_output --regexp $'omega\t<f4\t\(3, 16, 16\)'
    for kv in dims=t,y,x N=16 solver_N=32 nu=0.001 scheme=rk2 forcing=kolmogorov seed=5 sample=1 \
              resample=fourier preset=kolmogorov t0=0.1 init=forcing-noise; do
        assert_output --partial "$kv"
    done
}

@test "ns-gen --closure adds G and H; several output grids give one record per grid and field" {
    ns-gen "${SMALL[@]}" --closure --out-grid 8,16,32 > c.tsr
    assert_equal "$(count_records c.tsr)" 9
    run tsr-info c.tsr
    assert_output --regexp $'G\t<f4\t\(3, 8, 8\)'
    assert_output --regexp $'H\t<f4\t\(3, 32, 32\)'
    assert_output --partial "resample=none"
    # Without --closure the omega records are identical: G and H only add records.
    ns-gen "${SMALL[@]}" --out-grid 8,16,32 > o.tsr
    assert_equal "$(tsr-cat --name omega c.tsr | zstd -dcq | md5sum)" "$(payload o.tsr | md5sum)"
}

@test "ns-gen --f64 writes float64" {
    ns-gen "${SMALL[@]}" --f64 > d.tsr
    run tsr-info d.tsr
    assert_output --regexp $'omega\t<f8\t\(3, 16, 16\)'
}

@test "ns-gen: stride, bicubic and fourier resampling differ; stride needs a divisor" {
    ns-gen "${SMALL[@]}" --resample stride > s.tsr
    ns-gen "${SMALL[@]}" --resample bicubic > b.tsr
    ns-gen "${SMALL[@]}" > f.tsr
    # Bicubic at a divisor lands on the grid points: identical to striding.
    cmp <(payload s.tsr) <(payload b.tsr)
    ! cmp -s <(payload s.tsr) <(payload f.tsr)
    run ns-gen "${SMALL[@]}" --resample stride --out-grid 12
    assert_failure 2
    assert_output --partial "multiple"
}

@test "ns-gen shards: --count 4 equals --first 0 --count 2 then --first 2 --count 2" {
    ns-gen "${SMALL[@]}" --closure --seed 9 --count 4 > all.tsr
    ns-gen "${SMALL[@]}" --closure --seed 9 --first 0 --count 2 > s0.tsr
    ns-gen "${SMALL[@]}" --closure --seed 9 --first 2 --count 2 > s1.tsr
    cmp <(payload all.tsr) <(cat <(payload s0.tsr) <(payload s1.tsr))
    # Headers agree too (the history, which holds the command line, aside).
    tsr-cat s0.tsr s1.tsr > cat.tsr
    assert_equal "$(headers all.tsr)" "$(headers cat.tsr)"
    # A single sample generated alone is the same as inside the big run.
    ns-gen "${SMALL[@]}" --closure --seed 9 --first 3 > s3.tsr
    cmp <(payload s3.tsr) <(tsr-cat --records 9:12 all.tsr | zstd -dcq)
    # Another seed changes the data.
    ns-gen "${SMALL[@]}" --closure --seed 10 --first 3 > t3.tsr
    ! cmp -s <(payload s3.tsr) <(payload t3.tsr)
}

@test "ns-gen gives identical bytes at 1 and 2 threads (one sample, and samples in parallel)" {
    for c in 1 3; do
        OMP_NUM_THREADS=1 ns-gen "${SMALL[@]}" --closure --beta 0.2 --noise-a 0.05 --count $c > t1.tsr
        OMP_NUM_THREADS=2 ns-gen "${SMALL[@]}" --closure --beta 0.2 --noise-a 0.05 --count $c > t2.tsr
        cmp t1.tsr t2.tsr
        # --threads changes the command line kept in the history, not the data.
        ns-gen "${SMALL[@]}" --closure --beta 0.2 --noise-a 0.05 --count $c --threads 2 > t3.tsr
        cmp <(payload t1.tsr) <(payload t3.tsr)
        assert_equal "$(headers t1.tsr)" "$(headers t3.tsr)"
    done
    # From 128² up, one sample splits its transforms over the two threads.
    big=(--n 128 --frames 2 --spinup 0.005 --interval 0.005 --out-grid 32 --closure --quiet)
    OMP_NUM_THREADS=1 ns-gen "${big[@]}" > b1.tsr
    OMP_NUM_THREADS=2 ns-gen "${big[@]}" > b2.tsr
    cmp b1.tsr b2.tsr
}

@test "ns-gen closure preset runs at small size with CN and noise" {
    ns-gen --preset closure --n 32 --frames 2 --spinup 0 --interval 0.0394784176043574 --out-grid 16 \
        --dt 0.0394784176043574 --closure --quiet > cl.tsr
    run tsr-info cl.tsr
    assert_success
    assert_output --partial "scheme=cn"
    assert_output --partial "forcing=closure"
    assert_output --partial "init=grf"
    assert_output --regexp 'beta=[1-9]'
}

@test "ns-gen -o FILE writes the stream to a file" {
    ns-gen "${SMALL[@]}" -o out.tsr
    ns-gen "${SMALL[@]}" > ref.tsr
    cmp <(payload out.tsr) <(payload ref.tsr)
    assert_equal "$(headers out.tsr)" "$(headers ref.tsr)"
}

@test "ns-gen refuses bad options with exit 2 and a clear message" {
    check() {   # EXPECTED_TEXT ARGS...
        local want=$1
        shift
        run ns-gen "${SMALL[@]}" "$@"
        assert_failure 2
        assert_output --partial "ns-gen: error:"
        assert_output --partial "$want"
    }
    check "--n: 0 must be positive" --n 0
    check "--n: -4 must be positive" --n -4
    check "must be even" --n 31
    check "finer than the solver grid" --out-grid 64
    check "viscosity nu=-1" --nu -1
    check "unknown preset 'foo'" --preset foo
    check "unknown forcing 'vortex'" --forcing vortex
    check "unknown scheme 'rk3'" --scheme rk3
    check "unknown initial state" --init zero
    check "unknown resampling method 'linear'" --resample linear
    check "not a whole number of steps" --interval 0.0015
    check "--frames: 0" --frames 0
    check "--count: 0" --count 0
    check "not a valid number" --nu abc
    check "forcing wavenumber kf=20" --kf 20
    check "not a list of positive sizes" --out-grid 16,x
    check "unexpected operand" extra
    run ns-gen --no-such-option
    assert_failure 2
}

@test "ns-gen blow-up: exit 1 naming sample and time, and no complete stream" {
    run ns-gen "${SMALL[@]}" --first 3 --dt 0.2 --interval 0.2 --spinup 2 -o blow.tsr
    assert_failure 1
    assert_output --partial "sample 3: blow-up at t="
    [ ! -e blow.tsr ]
    no_files_like . 'blow.tsr*'
    # To stdout: whatever was written is not a complete stream.
    ns-gen "${SMALL[@]}" --dt 0.2 --interval 0.2 --spinup 2 > part.tsr 2>/dev/null || true
    run tsr-info part.tsr
    assert_failure
}

@test "ns-gen refuses to write binary to a terminal" {
    command -v script >/dev/null || skip "script(1) not available"
    run script -qec "ns-gen ${SMALL[*]}" /dev/null
    assert_output --partial "terminal"
}
