#!/usr/bin/env bats
# fno-train (and closure-cond, which makes its input): options, the model it
# writes, determinism at 1 and 2 threads, resume, and bad input.

load helper

# A tiny model on a 16² grid keeps every test well under a second of training.
TINY=(--width 4 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4)

setup_file() {
    local d=$BATS_FILE_TMPDIR
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 3.9478417604357434 \
        --interval 0.39478417604357434 --frames 6 --count 2 -q -o "$d/ns.tsr"
    closure-cond --term G --obs-n 4 "$d/ns.tsr" > "$d/cond.tsr"
}

setup() { D=$BATS_FILE_TMPDIR; cd "$BATS_TEST_TMPDIR"; }

@test "closure-cond: one record per sample, channels U,V,Y" {
    run tsr-info "$D/cond.tsr"
    assert_success
    assert_line --regexp $'^0\tclosure\t<f4\t\\(6, 16, 16, 3\\)\t.*term=G channels=U,V,Y'
    [ "$(count_records "$D/cond.tsr")" -eq 2 ]
}

@test "closure-cond: Y is U at the 4×4 points; U and V are ns-gen's fields" {
    need_numpy
    tsr2npy --stack -o c.npy "$D/cond.tsr"
    tsr2npy -o ns/ "$D/ns.tsr"
    run py '
d = np.load("c.npy")[0]
u, v, y = d[..., 0], d[..., 1], d[..., 2]
assert np.array_equal(u, np.load("ns/0001_G.npy")), "U is not G"
assert np.array_equal(v, np.load("ns/0000_omega.npy")), "V is not omega"
err = np.abs(u[:, ::4, ::4] - y[:, ::4, ::4]).max()
assert err <= 1e-6 * np.abs(u).max(), err
assert np.abs(y - u).max() > 1e-3 * np.abs(u).max()   # the fill is not U itself
print("ok")'
    assert_success
    assert_output ok
}

@test "closure-cond --coarse: without noise, on the solver's grid, the term computed from V is U" {
    need_numpy
    ns-gen --preset closure --closure --n 32 --out-grid 32,16 --beta 0 --spinup 3.9478417604357434 \
        --frames 2 -q -o ns0.tsr
    for t in G H; do
        closure-cond --term $t --grid 32 --coarse co$t.tsr ns0.tsr > c$t.tsr
        closure-cond --term $t --grid 16 --coarse co16$t.tsr ns0.tsr > /dev/null
    done
    tsr2npy -o g/ cG.tsr
    tsr2npy -o h/ cH.tsr
    for f in coG coH co16G co16H; do tsr2npy -o $f.npy $f.tsr; done
    run py '
for t, d in (("G", "g"), ("H", "h")):
    u = np.load(d + "/0000_closure.npy")[..., 0]
    c = np.load("co%s.npy" % t)
    assert c.shape == u.shape, (c.shape, u.shape)
    err = np.abs(c - u).max() / np.abs(u).max()
    assert err < 1e-5, (t, err)
    c16 = np.load("co16%s.npy" % t)
    assert c16.shape == (2, 16, 16), c16.shape
print("ok")'
    assert_success
    assert_output ok
    run closure-cond --term omega2 --vorticity omega --coarse x.tsr ns0.tsr
    assert_failure 2
    assert_output --partial "--coarse knows the terms G and H"
    [ ! -e x.tsr ]
}

@test "closure-cond --y-coarse: Y is the coarse term; closure-run couples a model trained on it" {
    need_numpy
    closure-cond --term G --grid 16 --coarse co.tsr --y-coarse "$D/ns.tsr" > c.tsr
    run tsr-info c.tsr
    assert_line --partial "obs_n=0 obs_fill=coarse"
    tsr2npy --stack -o c.npy c.tsr
    tsr2npy --stack -o co.npy co.tsr
    run py '
c, co = np.load("c.npy"), np.load("co.npy")
assert np.array_equal(c[..., 2], co), "Y is not the coarse term"
assert np.abs(c[..., 0] - co).max() > 0   # the term itself keeps its noise
print("ok")'
    assert_output ok
    fno-train --cond v+obs --residual "${TINY[@]}" --steps 2 -q -o m.model c.tsr
    # Y is rebuilt from the closure run's own vorticity: a sample at every
    # step, finite errors on every report row
    run closure-run -m m.model --term G --n 16 --steps 4 --every 2 --report 2 -q
    assert_success
    assert_line --index 0 $'step\tt\terr_closure\terr_noclosure\terr_term'
    [ "${#lines[@]}" -eq 4 ]
    run awk -F'\t' 'NR > 2 && !($3 > 0 && $5 > 0 && $5 < 1e6)' <<< "$output"
    assert_output ""
    run closure-run -m m.model --term G --n 16 --steps 4 --fill bicubic -q
    assert_failure 2
    assert_output --partial "coarse term"
}

@test "closure-cond --on-grid: observations that do not divide the grid are an error, nothing written" {
    run closure-cond --term G --obs-n 5 --on-grid -o x.tsr "$D/ns.tsr"
    assert_failure 2
    assert_output --partial "--on-grid: 5 observations per axis do not divide the 16² grid"
    [ ! -s x.tsr ]
    # 4 divides 16: the same record as without the flag (read off the grid either way)
    closure-cond --term G --obs-n 4 --on-grid "$D/ns.tsr" > y.tsr
    [ "$(tsr-info --stats y.tsr)" = "$(tsr-info --stats "$D/cond.tsr")" ]
}

@test "closure-cond: a term without its vorticity is an error naming the record" {
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 0.39478417604357434 \
        --frames 1 -q -o ns1.tsr
    run closure-cond --term G --vorticity nosuch ns1.tsr
    assert_failure 1
    assert_output --partial "no matching 'nosuch' record"
    run closure-cond --obs-n 0 ns1.tsr
    assert_failure 2
    run closure-cond --fill spline ns1.tsr
    assert_failure 2
    assert_output --partial "--fill"
}

@test "closure-cond --coarse: a field without its physics attributes is an error, nothing written" {
    tsr2npy -o n/ "$D/ns.tsr"
    # Sample 0's fields, re-wrapped with their sample and L but without nu.
    npy2tsr -a sample=0 -a L=6.283185307179586 -n omega n/0000_omega.npy > a.tsr
    npy2tsr -a sample=0 -n G n/0001_G.npy > b.tsr
    tsr-cat a.tsr b.tsr > bare.tsr
    run closure-cond --term G --coarse co.tsr bare.tsr
    assert_failure 1
    assert_output --partial "--coarse needs the attribute nu"
    [ ! -e co.tsr ]
}

@test "fno-train --help shows the reference defaults" {
    run fno-train --help
    assert_success
    assert_line --regexp '--width N .*\(default: 20\)'
    assert_line --regexp '--layers N .*\(default: 4\)'
    assert_line --regexp '--modes N .*\(default: 8\)'
    assert_line --regexp '--emb-size N .*\(default: 256\)'
    assert_line --regexp '--emb-scale X .*\(default: 30\)'
    assert_line --regexp '--sigma0 X .*\(default: 26\)'
    assert_line --regexp '--t-max T .*\(default: 2\)'
    assert_line --regexp '--batch N .*\(default: 200\)'
    assert_line --regexp '--epochs N .*\(default: 1000\)'
    assert_line --regexp '--seed N .*\(default: 42\)'
}

@test "fno-train: usage errors exit 2" {
    run fno-train "$D/cond.tsr"
    assert_failure 2
    assert_output --partial "--output is required"
    run fno-train --cond vorticity -o m.model "$D/cond.tsr"
    assert_failure 2
    run fno-train --fuse 8,x -o m.model "$D/cond.tsr"
    assert_failure 2
    run fno-train --t-min 3 -o m.model "$D/cond.tsr"
    assert_failure 2
    no_files_like . 'm.model*'
}

@test "fno-train: writes a closure-score checkpoint and a TSV loss log" {
    run fno-train "${TINY[@]}" --steps 5 -q --log loss.tsv -o m.model "$D/cond.tsr"
    assert_success
    run tsr-info m.model
    assert_line --regexp $'^0\tfno\t.*kind=closure-score closure.sigma0=26 closure.u_scale=[0-9.e+]+ closure.v_scale=[0-9.e+]+ closure.cond=v\\+obs'
    assert_line --partial "fno.nbranch=3"
    [ "$(head -n 1 loss.tsv)" = $'step\tepoch\tlr\tloss\tseconds' ]
    [ "$(wc -l < loss.tsv)" -eq 6 ]
    awk -F'\t' 'NR > 1 && !($4 > 0) { exit 1 }' loss.tsv
    run fno-train "${TINY[@]}" --cond v --steps 1 -q -o v.model "$D/cond.tsr"
    assert_success
    tsr-info v.model | grep -q 'fno.nbranch=2'
}

@test "fno-train: same seed gives the same bytes at 1 and 2 threads; another seed differs" {
    mkdir a b c
    (cd a && OMP_NUM_THREADS=1 fno-train "${TINY[@]}" --steps 4 -q -o m.model "$D/cond.tsr")
    (cd b && OMP_NUM_THREADS=2 fno-train "${TINY[@]}" --steps 4 -q -o m.model "$D/cond.tsr")
    cmp a/m.model b/m.model
    (cd c && fno-train "${TINY[@]}" --steps 4 --seed 7 -q -o m.model "$D/cond.tsr")
    ! cmp -s a/m.model c/m.model
}

@test "fno-train --resume continues exactly where a run stopped" {
    mkdir a b
    (cd a && fno-train "${TINY[@]}" --steps 6 -q -o m.model "$D/cond.tsr" &&
        ve-sample -m m.model -q "$D/cond.tsr" > s.tsr)
    (cd b && fno-train "${TINY[@]}" --steps 3 -q -o m.model "$D/cond.tsr" &&
        fno-train "${TINY[@]}" --steps 6 --resume m.model -q -o m.model "$D/cond.tsr" &&
        ve-sample -m m.model -q "$D/cond.tsr" > s.tsr)
    tsr-info a/m.model | grep -q 'adam.t=6'
    tsr-info b/m.model | grep -q 'adam.t=6'
    cmp a/s.tsr b/s.tsr
}

@test "fno-train: bad input is a clear error and writes no model" {
    run fno-train "${TINY[@]}" --steps 1 -q -o m.model "$D/ns.tsr"
    assert_failure 1
    assert_output --partial "no 'closure' records"
    need_numpy
    npy "n.npy" 'np.where(np.arange(4*16*16*3).reshape(4,16,16,3) == 100, np.nan, 1.0).astype("<f4")'
    npy2tsr -n closure n.npy > nan.tsr
    run fno-train "${TINY[@]}" --steps 1 -q -o m.model nan.tsr
    assert_failure 1
    assert_output --partial "non-finite"
    npy "w.npy" 'np.ones((4,16,16,2), "<f4")'
    npy2tsr -n closure w.npy > two.tsr
    run fno-train "${TINY[@]}" --steps 1 -q -o m.model two.tsr
    assert_failure 1
    assert_output --partial "(T, H, W, 3)"
    head -c 300 "$D/cond.tsr" > trunc.tsr
    run fno-train "${TINY[@]}" --steps 1 -q -o m.model trunc.tsr
    assert_failure 1
    no_files_like . 'm.model*'
    run fno-train "${TINY[@]}" --steps 2 --resume nosuch.model -q -o m.model "$D/cond.tsr"
    assert_failure 1
    tsr-info "$D/cond.tsr" >/dev/null
    run fno-train "${TINY[@]}" --steps 2 --resume "$D/cond.tsr" -q -o m.model "$D/cond.tsr"
    assert_failure 1
    no_files_like . 'm.model*'
}

@test "fno-train: --precond stores the rms of the scaled term, --residual that of U - Y" {
    fno-train "${TINY[@]}" --steps 2 --precond -q -o p.model "$D/cond.tsr"
    fno-train "${TINY[@]}" --steps 2 --precond --residual --t-focus 0.1 --focus-frac 0.6 -q \
        -o r.model "$D/cond.tsr"
    tsr-info r.model | grep -q 'closure.t_focus=0.1[0-9]* closure.focus_frac=0.59[0-9]*'
    tsr-info r.model | grep -q 'closure.residual=1'
    ! tsr-info p.model | grep -q 'closure.residual'
    sd() { tsr-info -a "$1" | awk -F= '$1 ~ /^ *closure.sigma_data$/ { print $2 }'; }
    need_numpy
    tsr2npy --stack -o c.npy "$D/cond.tsr"
    run py '
d = np.load("c.npy").astype(np.float64)
s = (2 * np.pi) ** 4          # u_scale: L^4, the reference units
u, r = d[..., 0] * s, (d[..., 0] - d[..., 2]) * s
for got, want in ((float(sys.argv[1]), np.sqrt((u * u).mean())), (float(sys.argv[2]), np.sqrt((r * r).mean()))):
    assert abs(got / want - 1) < 1e-5, (got, want)
print("ok")' "$(sd p.model)" "$(sd r.model)"
    assert_output ok
}

@test "fno-train: --residual needs observations; --t-focus and --focus-frac are checked" {
    run fno-train "${TINY[@]}" --cond v --residual --steps 1 -q -o m.model "$D/cond.tsr"
    assert_failure 2
    assert_output --partial "--residual needs --cond v+obs"
    run fno-train "${TINY[@]}" --t-focus 3 --steps 1 -q -o m.model "$D/cond.tsr"
    assert_failure 2
    run fno-train "${TINY[@]}" --t-focus 0.1 --focus-frac 1.5 --steps 1 -q -o m.model "$D/cond.tsr"
    assert_failure 2
    no_files_like . 'm.model*'
}
