#!/usr/bin/env bats
# ve-sample (and closure-run): options, output records and attributes,
# determinism at 1 and 2 threads and across --batch, and bad input.

load helper

TINY=(--width 4 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4)

setup_file() {
    local d=$BATS_FILE_TMPDIR
    ns-gen --preset closure --closure --n 32 --out-grid 16,32 --spinup 3.9478417604357434 \
        --interval 0.39478417604357434 --frames 3 --count 2 -q -o "$d/ns.tsr"
    closure-cond --term G --obs-n 4 --grid 16 "$d/ns.tsr" > "$d/cond.tsr"
    closure-cond --term G --obs-n 4 --grid 32 "$d/ns.tsr" > "$d/cond32.tsr"
    closure-cond --term H --obs-n 4 --grid 16 "$d/ns.tsr" > "$d/condH.tsr"
    (cd "$d" && fno-train "${TINY[@]}" --steps 3 -q -o G.model cond.tsr)
    (cd "$d" && fno-train "${TINY[@]}" --cond v --steps 2 -q -o Gv.model cond.tsr)
}

setup() { D=$BATS_FILE_TMPDIR; cd "$BATS_TEST_TMPDIR"; }

@test "ve-sample --help: karras EM by default" {
    run ve-sample --help
    assert_success
    assert_line --regexp '--sampler S .*\(default: em\)'
    assert_line --regexp '--schedule S .*\(default: karras\)'
    assert_line --regexp '--t-min T .*\(default: 0.001\)'
    assert_line --regexp '--rho X .*\(default: 7\)'
}

@test "ve-sample: one record per condition record, with the sampler's attributes" {
    run ve-sample -m "$D/G.model" -q --truth truth.tsr -o s.tsr "$D/cond.tsr"
    assert_success
    run tsr-info s.tsr
    assert_line --regexp $'^0\tU\t<f4\t\\(3, 16, 16\\)\t.*sampler=em schedule=karras steps=10 T=0.1.* nfe=10'
    [ "$(count_records s.tsr)" -eq 2 ]
    [ "$(count_records truth.tsr)" -eq 2 ]
    run relerr --summary truth.tsr s.tsr
    assert_success
    run ve-sample -m "$D/G.model" -q --sampler heun --schedule uniform --steps 7 -K 3 "$D/cond.tsr"
    assert_success
    ve-sample -m "$D/G.model" -q --sampler heun --schedule uniform --steps 7 -K 3 "$D/cond.tsr" > h.tsr
    [ "$(count_records h.tsr)" -eq 6 ]
    tsr-info h.tsr | head -n 1 | grep -q 'sampler=heun schedule=uniform steps=7 T=1 nfe=13 .*member=0'
    tsr-info h.tsr | sed -n 3p | grep -q 'member=2'
}

@test "ve-sample: the model runs unchanged on a finer grid" {
    run ve-sample -m "$D/G.model" -q -o s32.tsr "$D/cond32.tsr"
    assert_success
    tsr-info s32.tsr | grep -q $'(3, 32, 32)'
}

@test "ve-sample: same seed, same bytes at 1 and 2 threads; --batch only rounds; seeds and samples differ" {
    OMP_NUM_THREADS=1 ve-sample -m "$D/G.model" -q -K 2 -b 16 "$D/cond.tsr" > a.tsr
    OMP_NUM_THREADS=2 ve-sample -m "$D/G.model" -q -K 2 -b 16 "$D/cond.tsr" > b.tsr
    cmp a.tsr b.tsr
    need_numpy
    ve-sample -m "$D/G.model" -q -K 2 -b 3 "$D/cond.tsr" > c.tsr
    ve-sample -m "$D/G.model" -q -K 2 -b 3 --seed 5 "$D/cond.tsr" > d.tsr
    tsr2npy --stack -o a.npy a.tsr
    tsr2npy --stack -o c.npy c.tsr
    tsr2npy --stack -o d.npy d.tsr
    run py '
a, c, d = np.load("a.npy"), np.load("c.npy"), np.load("d.npy")
# the GEMMs of the network round differently with the batch size: float agreement
d_ac = np.abs(a - c).max() / np.abs(a).max()
assert d_ac < 1e-4, ("batch size changed the samples", d_ac)
assert not np.array_equal(a, d), "seed ignored"
assert not np.array_equal(a[0], a[1]), "members 0 and 1 equal"
print("ok")'
    assert_output ok
}

@test "ve-sample: bad input is a clear error and writes nothing complete" {
    run ve-sample -q "$D/cond.tsr"
    assert_failure 2
    assert_output --partial "--model is required"
    run ve-sample -m nosuch.model -q "$D/cond.tsr"
    assert_failure 1
    run ve-sample -m "$D/cond.tsr" -q "$D/cond.tsr"
    assert_failure 1
    run ve-sample -m "$D/G.model" --sampler pc -q "$D/cond.tsr"
    assert_failure 2
    run ve-sample -m "$D/G.model" --schedule karras --t-min 0.5 -q "$D/cond.tsr"
    assert_failure 2
    # conditions of another term, another domain, no conditions at all
    run ve-sample -m "$D/G.model" -q "$D/condH.tsr"
    assert_failure 1
    assert_output --partial "term H"
    run ve-sample -m "$D/G.model" -q "$D/ns.tsr"
    assert_failure 1
    assert_output --partial "no 'closure' records"
    need_numpy
    npy w.npy 'np.ones((2,16,16,2), "<f4")'
    npy2tsr -n closure w.npy > two.tsr
    run ve-sample -m "$D/G.model" -q -o out.tsr two.tsr
    assert_failure 1
    assert_output --partial "(T, H, W, 3)"
    npy n.npy 'np.where(np.arange(2*16*16*3).reshape(2,16,16,3) == 7, np.nan, 0.5).astype("<f4")'
    npy2tsr -n closure n.npy > nan.tsr
    run ve-sample -m "$D/G.model" -q -o out.tsr nan.tsr
    assert_failure 1
    assert_output --partial "non-finite"
    npy l.npy 'np.ones((2,16,16,3), "<f4")'
    npy2tsr -n closure -a L=1 l.npy > l1.tsr
    run ve-sample -m "$D/G.model" -q -o out.tsr l1.tsr
    assert_failure 1
    assert_output --partial "domain length"
    npy s.npy 'np.ones((2,4,4,3), "<f4")'
    npy2tsr -n closure s.npy > small.tsr
    run ve-sample -m "$D/G.model" -q -o out.tsr small.tsr
    assert_failure 1
    assert_output --partial "grid 4×4"
    no_files_like . 'out.tsr*'
}

@test "closure-run: coupled run with and without closure, errors start at zero" {
    run closure-run -m "$D/G.model" --term G --init "$D/ns.tsr" --n 16 --steps 10 --every 5 \
        --report 5 -q --frames f.tsr
    assert_success
    assert_line --index 0 $'step\tt\terr_closure\terr_noclosure\terr_term'
    # step 0: all three runs hold the same state (up to the projection's rounding)
    echo "$output" | awk -F'\t' 'NR == 2 { exit !($1 == 0 && $3 < 1e-12 && $4 < 1e-12) }'
    assert_line --index 3 --regexp $'^10\t0.39478[0-9]*\t[0-9.e-]+\t[0-9.e-]+\t[0-9.e-]+$'
    tsr-info f.tsr | grep -q $'omega_noclosure\t<f4\t(3, 16, 16)'
    run closure-run -m "$D/G.model" --term H --init "$D/ns.tsr" --n 16 --steps 2 -q
    assert_failure 2
    assert_output --partial "samples term G"
    run closure-run -m "$D/G.model" --init "$D/ns.tsr" --n 8 --steps 2 -q
    assert_failure 1
}

@test "closure-run --coupling: reference keeps half the viscosity; a run that blows up reads nan, the others go on" {
    # Viscosity-dominated forced flow: the reference settles at f / (nu k^2).
    # The reference coupling's run with no closure keeps the implicit half of
    # nu Lap w, so it settles at twice that: a relative error of 1.
    local run=(-m "$D/G.model" --term G --n 16 --spinup 0.4 --steps 40 --every 5 --report 10 -q --nu 100 --famp 100)
    run closure-run "${run[@]}" --coupling reference
    assert_success
    echo "$output" | awk -F'\t' 'NR == 6 { exit !($1 == 40 && $4 > 0.99 && $4 < 1.01) }'
    # Replacing all of nu Lap w leaves the forcing unbalanced: the run with no
    # closure passes CFL 2 within a few steps, and the reference goes on.
    # Its frames read nan from the report after the blow-up (4 of 5 frames of
    # 16x16), and stderr says why in the solver's words.
    run --separate-stderr closure-run "${run[@]}" --coupling replace --frames f.tsr
    assert_success
    [[ $stderr == *"the no-closure run blew up, its step "*" refused (blow-up at t="*"CFL number"*"its errors and frames read nan"* ]]
    echo "$output" | awk -F'\t' 'NR == 6 { exit !($1 == 40 && $4 == "nan") }'
    tsr-info --stats f.tsr | grep -q $'^2\tomega_noclosure\t.* nan=1024 inf=0$'
    tsr-info --stats f.tsr | grep -q $'^0\tomega_ref\t.* nan=0 inf=0$'
    run closure-run "${run[@]}" --coupling half
    assert_failure 2
    assert_output --partial "--coupling must be replace or reference"
    local hrun=("${run[@]}")
    hrun[3]=H
    run closure-run "${hrun[@]}" --coupling reference --frames g.tsr
    assert_failure 2
    assert_output --partial "--coupling reference is the G coupling"
    [ ! -e g.tsr ]
}

@test "ve-sample --obs writes the conditions' Y; a residual model's samples are Y plus its correction" {
    fno-train "${TINY[@]}" --steps 3 --precond --residual -q -o R.model "$D/cond.tsr"
    # One mean step from T = 1e-6: what is sampled is ~1e-3 of the term's scale,
    # so a sample is ~0 for a plain model and ~Y for a residual one.
    ve-sample -m R.model -q --schedule uniform --T 1e-6 --steps 1 --truth tr.tsr --obs y.tsr \
        -o s.tsr "$D/cond.tsr"
    ve-sample -m "$D/G.model" -q --schedule uniform --T 1e-6 --steps 1 -o s0.tsr "$D/cond.tsr"
    tsr-info y.tsr | head -n 1 | grep -q $'^0\tY\t<f4\t(3, 16, 16)'
    need_numpy
    for f in s s0 y tr; do tsr2npy --stack -o $f.npy $f.tsr; done
    tsr2npy --stack -o c.npy "$D/cond.tsr"
    run py '
c, s, s0, y, tr = (np.load(f + ".npy") for f in ("c", "s", "s0", "y", "tr"))
u = c[..., 0]
assert np.array_equal(tr, u), "truth is not U"
assert np.abs(y - c[..., 2]).max() <= 1e-6 * np.abs(u).max(), "obs is not Y"
m = np.abs(u).max()
assert np.abs(y).max() > 0.3 * m
assert np.abs(s - y).max() < 0.05 * m, ("residual sample far from Y", np.abs(s - y).max() / m)
assert np.abs(s0).max() < 0.05 * m, ("plain sample not ~0", np.abs(s0).max() / m)
print("ok")'
    assert_output ok
}
