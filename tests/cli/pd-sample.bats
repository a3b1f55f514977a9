#!/usr/bin/env bats
# pd-sample: the three modes' outputs, determinism at 1 and 2 threads,
# divergence reported as an error, and bad input (nothing written).

load helper

TINY=(--arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 -q)
# Untrained nets drive the samplers anywhere: accept saturation unless a test
# is about divergence.
LAX=(--max-clamped 1 --blowup 0 -q)

setup_file() {
    local d=$BATS_FILE_TMPDIR
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 3 -q -o "$d/l96.tsr"
    l96-gen --K 8 --J 4 --frames 4 --spinup 0.5 --count 1 -q -o "$d/l96-4.tsr"
    # the same paths, three times as long (the long-rollout tests)
    l96-gen --K 8 --J 4 --frames 24 --spinup 0.5 --count 3 -q -o "$d/l96-24.tsr"
    l96-gen --K 16 --J 4 --frames 8 --spinup 0.5 --count 1 -q -o "$d/l96-64.tsr"
    ns-gen --preset kolmogorov --n 32 --out-grid 16 --spinup 0.5 --frames 8 --count 1 -q -o "$d/kf.tsr"
    (cd "$d" && pd-train "${TINY[@]}" --steps 2 -o pdd.model l96.tsr)
    (cd "$d" && pd-train "${TINY[@]}" --objective ddpm-gen --steps 1 -o gen.model l96.tsr)
    (cd "$d" && pd-train "${TINY[@]}" --objective ddpm-cond --steps 1 -o cond.model l96.tsr)
    (cd "$d" && pd-train "${TINY[@]}" --steps 1 -o kf.model kf.tsr)
    # a checkpoint of another kind: a closure score model
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 3.9478417604357434 \
        --interval 0.39478417604357434 --frames 2 --count 1 -q -o "$d/ns.tsr"
    closure-cond --term G --obs-n 4 --grid 16 "$d/ns.tsr" > "$d/cond.tsr"
    (cd "$d" && fno-train --width 4 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4 \
        --steps 1 -q -o G.model cond.tsr)
}

setup() { D=$BATS_FILE_TMPDIR; cd "$BATS_TEST_TMPDIR"; }

@test "pd-sample --help: modes, samplers and the safety options" {
    run pd-sample --help
    assert_success
    assert_output --partial 'simulate|generate|super-resolve'
    assert_line --regexp '--schedule S .*\(default: paper\)'
    assert_line --regexp '--score K .*\(default: coloured\)'
    assert_line --regexp '--clamp X .*\(default: 5\)'
    assert_line --regexp '--max-clamped F .*\(default: 0.01\)'
}

@test "pd-sample simulate: the input's shape, the given frames kept, the attributes" {
    run pd-sample -m "$D/pdd.model" simulate -o s.tsr -q "$D/l96.tsr"
    assert_success
    [ "$(count_records s.tsr)" -eq 3 ]
    tsr-info s.tsr | head -n 1 | grep -q $'\tu\t<f4\t(8, 2, 32)\tdims=t,c,x .*sample=0 pdd.mode=simulate lambda=0 pdd.nfe=3'
    # lambda 0, frames 0..4 are the truth's (float32 round trip through standardisation)
    run relerr --dims t,c,x "$D/l96.tsr" s.tsr
    assert_success
    for t in 0 1 2 3 4; do
        v=$(relerr "$D/l96.tsr" s.tsr | awk -F'\t' -v k="t=$t" '$1 == "rel_l2" && $2 == k { print $3 }')
        awk -v v="$v" 'BEGIN { exit !(v < 1e-6) }'
    done
    run pd-sample -m "$D/pdd.model" simulate --lambda 0.2 --noise sigma --given 3 -o s2.tsr -q "$D/l96.tsr"
    assert_success
    tsr-info s2.tsr | head -n 1 | grep -q 'pdd.mode=simulate lambda=0.20*1* pdd.nfe=5'
    # the rollout noise follows --score: coloured (default) or the paper's white
    pd-sample -m "$D/pdd.model" simulate --lambda 0.2 --noise sigma --given 3 --score white -o s2w.tsr -q "$D/l96.tsr"
    ! cmp -s s2.tsr s2w.tsr
    run pd-sample -m "$D/cond.model" simulate --schedule rho --steps 3 --correctors 0 "${LAX[@]}" -o s3.tsr "$D/l96.tsr"
    assert_success
    [ "$(count_records s3.tsr)" -eq 3 ]
}

@test "pd-sample generate and super-resolve: shapes, NFE and the cost line" {
    run pd-sample -m "$D/pdd.model" generate -n 3 --frames 6 --schedule rho --steps 4 --correctors 1 --max-clamped 1 --blowup 0 -o g.tsr
    assert_success
    assert_output --regexp 'pd-sample: generate: nfe 8, [0-9.e+-]+ s per sample'
    [ "$(count_records g.tsr)" -eq 3 ]
    tsr-info g.tsr | sed -n 3p | grep -q $'(6, 2, 32)\tdims=t,c,x .*pdd.mode=generate lambda=0 sample=2 pdd.nfe=8'
    run pd-sample -m "$D/pdd.model" super-resolve --lambda 0.2 --schedule paper --steps 5 --correctors 0 "${LAX[@]}" -o r.tsr "$D/l96.tsr"
    assert_success
    [ "$(count_records r.tsr)" -eq 3 ]
    tsr-info r.tsr | head -n 1 | grep -q 'sample=0 pdd.mode=super-resolve lambda=0 pdd.nfe=5'
    run pd-sample -m "$D/gen.model" generate -n 2 --schedule rho --steps 3 --correctors 0 "${LAX[@]}" -o dg.tsr
    assert_success
    run pd-sample -m "$D/kf.model" generate -n 1 --schedule rho --steps 3 "${LAX[@]}" -o k.tsr
    assert_success
    tsr-info k.tsr | grep -q $'(8, 16, 16)\tdims=t,y,x'
}

@test "pd-sample: U-Net models (1-D, 2-D; PDD and both DDPM baselines) in every mode" {
    UNET=(--unet-base 8 --unet-channels 8,16 --unet-res 1 --unet-groups 2 --unet-heads 2 --emb-size 8 --emb-hidden 8 --batch 2 -q)
    pd-train "${UNET[@]}" --steps 2 -o u.model "$D/l96.tsr"
    pd-train "${UNET[@]}" --steps 1 -o k.model "$D/kf.tsr"
    pd-train "${UNET[@]}" --objective ddpm-cond --steps 1 -o c.model "$D/l96.tsr"
    pd-train "${UNET[@]}" --objective ddpm-gen --steps 1 -o g.model "$D/kf.tsr"
    run pd-sample -m u.model simulate -o s.tsr -q "$D/l96.tsr"
    assert_success
    tsr-info s.tsr | head -n 1 | grep -q $'\tu\t<f4\t(8, 2, 32)\tdims=t,c,x .*pdd.mode=simulate lambda=0 pdd.nfe=3'
    # the path score (the U-Net's input gradient) drives generation and super-resolution
    run pd-sample -m u.model generate -n 2 --frames 6 --schedule rho --steps 4 --correctors 1 "${LAX[@]}" -o gen.tsr
    assert_success
    tsr-info gen.tsr | sed -n 2p | grep -q $'(6, 2, 32)\tdims=t,c,x .*pdd.mode=generate lambda=0 sample=1 pdd.nfe=8'
    run pd-sample -m k.model super-resolve --lambda 0.2 --schedule rho --steps 3 --correctors 0 "${LAX[@]}" -o r.tsr "$D/kf.tsr"
    assert_success
    [ "$(count_records r.tsr)" -eq 1 ]
    run pd-sample -m c.model simulate --schedule rho --steps 3 --correctors 0 "${LAX[@]}" -o s3.tsr "$D/l96.tsr"
    assert_success
    [ "$(count_records s3.tsr)" -eq 3 ]
    run pd-sample -m g.model generate -n 2 --schedule rho --steps 3 --correctors 0 "${LAX[@]}" -o dg.tsr
    assert_success
    [ "$(count_records dg.tsr)" -eq 2 ]
}

@test "pd-sample: same seed, same bytes at 1 and 2 threads, the same paths at any --batch; seeds differ" {
    for mode in "generate -n 3" "super-resolve --lambda 0.2"; do
        args=(-m "$D/pdd.model" $mode --schedule rho --steps 4 --correctors 1 "${LAX[@]}")
        in=(); [ "${mode%% *}" = generate ] || in=("$D/l96.tsr")
        OMP_NUM_THREADS=1 pd-sample "${args[@]}" -b 3 "${in[@]}" > a.tsr
        OMP_NUM_THREADS=2 pd-sample "${args[@]}" -b 3 "${in[@]}" > b.tsr
        cmp a.tsr b.tsr
        OMP_NUM_THREADS=2 pd-sample "${args[@]}" -b 1 "${in[@]}" > c.tsr
        # The network's GEMMs may round differently with the batch size (OpenBLAS's
        # Haswell/Zen kernels do, its SkylakeX ones do not): float agreement.
        [ "$(relerr a.tsr c.tsr | awk -F'\t' '$1 == "rel_max" && $2 == "mean" { print ($3 < 1e-5) }')" = 1 ]
        pd-sample "${args[@]}" --seed 5 "${in[@]}" > d.tsr
        [ "$(relerr a.tsr d.tsr | awk -F'\t' '$1 == "mse" { print ($3 > 0) }')" = 1 ]
    done
}

@test "pd-sample: a diverging sampler is an error naming the sample and lambda; nothing written" {
    run pd-sample -m "$D/pdd.model" generate -n 3 -b 2 --schedule rho --steps 4 --clamp 0 --blowup 1e-3 -o g.tsr
    assert_failure 1
    assert_output --regexp 'error: paths 0..1: reverse: sample [01] diverged at lambda [0-9.e-]+ \(step 1 of 4: rms'
    [ ! -e g.tsr ]
    run pd-sample -m "$D/pdd.model" super-resolve --lambda 0.2 --schedule rho --steps 4 --clamp 1e-3 -o r.tsr "$D/l96.tsr"
    assert_failure 1
    assert_output --regexp 'sample 0 diverged at lambda [0-9.e-]+ .*beyond the clamp'
    [ ! -e r.tsr ]
    run pd-sample -m "$D/pdd.model" simulate --blowup 1e-3 -o s.tsr "$D/l96.tsr"
    assert_failure 1
    assert_output --regexp 'simulate: sample 0 diverged at frame 5 \(lambda 0'
    [ ! -e s.tsr ]
}

@test "pd-sample: bad usage is exit 2 and writes nothing" {
    run pd-sample simulate -o o.tsr "$D/l96.tsr"
    assert_failure 2
    assert_output --partial '--model is required'
    run pd-sample -m "$D/pdd.model" -o o.tsr
    assert_failure 2
    run pd-sample -m "$D/pdd.model" dream -o o.tsr
    assert_failure 2
    run pd-sample -m "$D/pdd.model" simulate --lambda -1 -o o.tsr "$D/l96.tsr"
    assert_failure 2
    run pd-sample -m "$D/pdd.model" simulate --lambda nan -o o.tsr "$D/l96.tsr"
    assert_failure 2
    run pd-sample -m "$D/pdd.model" simulate --lambda 1.5 -o o.tsr "$D/l96.tsr"
    assert_failure 2
    assert_output --partial 'outside the trained range'
    run pd-sample -m "$D/pdd.model" super-resolve -o o.tsr "$D/l96.tsr"
    assert_failure 2
    assert_output --partial "super-resolve needs the input's --lambda > 0"
    run pd-sample -m "$D/pdd.model" generate -o o.tsr
    assert_failure 2
    run pd-sample -m "$D/gen.model" simulate -o o.tsr "$D/l96.tsr"
    assert_failure 2
    assert_output --partial 'a ddpm-gen model only generates'
    run pd-sample -m "$D/cond.model" simulate --lambda 0.2 -o o.tsr "$D/l96.tsr"
    assert_failure 2
    run pd-sample -m "$D/pdd.model" generate -n 1 --score pink -o o.tsr
    assert_failure 2
    [ ! -e o.tsr ]
}

@test "pd-sample: bad data is exit 1 and writes nothing" {
    run pd-sample -m /nonexistent.model simulate -o o.tsr "$D/l96.tsr"
    assert_failure 1
    run pd-sample -m "$D/l96.tsr" simulate -o o.tsr "$D/l96.tsr"
    assert_failure 1
    run pd-sample -m "$D/G.model" simulate -o o.tsr "$D/l96.tsr"
    assert_failure 1
    assert_output --partial "not a pd-train model (kind 'closure-score', expected 'pdd-model')"
    # a path no longer than the given frames
    run pd-sample -m "$D/pdd.model" simulate -o o.tsr "$D/l96-4.tsr"
    assert_failure 1
    assert_output --partial 'paths of 4 frames leave nothing to simulate after --given 5'
    run pd-sample -m "$D/pdd.model" simulate -o o.tsr "$D/kf.tsr"
    assert_failure 1
    assert_output --partial 'a model of the other system'
    run pd-sample -m "$D/kf.model" super-resolve --lambda 0.2 -o o.tsr "$D/l96.tsr"
    assert_failure 1
    run pd-sample -m "$D/pdd.model" simulate -o o.tsr "$D/l96-64.tsr"
    assert_failure 1
    assert_output --partial 'the paths are on a 64x1 grid, the model on 32x1'
    [ ! -e o.tsr ]
}

@test "pd-sample: --kappa, --gauss-below and --trace take effect and are checked" {
    G=(-m "$D/pdd.model" generate -n 2 --schedule rho --steps 4 --correctors 1 --seed 3 "${LAX[@]}")
    pd-sample "${G[@]}" --kappa 0.7 -o k7.tsr
    pd-sample "${G[@]}" --kappa 0.2 -o k2.tsr
    ! cmp -s k7.tsr k2.tsr
    pd-sample "${G[@]}" --gauss-below 0 -o g0.tsr
    ! cmp -s k7.tsr g0.tsr
    # one trace row per path and reverse step (2 paths x 4 steps) after the header
    pd-sample "${G[@]}" --trace tr.tsv -o t.tsr
    [ "$(head -n 1 tr.tsv)" = "$(printf 'sample\tstep\tlambda\trms\tscore_rms\tclamped')" ]
    [ "$(wc -l < tr.tsv)" -eq 9 ]
    for bad in "--kappa -1" "--kappa 0" "--gauss-below -1" "--lambda-max -0.5"; do
        run pd-sample "${G[@]}" $bad -o bad.tsr
        assert_failure 2
        [ ! -e bad.tsr ]
    done
}

# segcmp PLAIN LONG PATHS SEGS T: record i*SEGS+k of LONG holds the same
# values, bit for bit, as frames k*T..(k+1)*T-1 of record i of PLAIN.
segcmp() {
    local i k
    for ((i = 0; i < $3; i++)); do
        for ((k = 0; k < $4; k++)); do
            tsr-cat -r "$i" --slice "0:$((k * $5)):$(((k + 1) * $5))" "$1" | tsr2npy -o x.npy
            tsr-cat -r "$((i * $4 + k))" "$2" | tsr2npy -o y.npy
            cmp x.npy y.npy || { echo "path $i segment $k differs"; return 1; }
        done
    done
}

@test "pd-sample simulate --frames: the input's length gives a plain simulate's values" {
    pd-sample -m "$D/pdd.model" simulate -q -o a.tsr "$D/l96.tsr"
    run pd-sample -m "$D/pdd.model" simulate --frames 8 -q -o b.tsr "$D/l96.tsr"
    assert_success
    assert_output 'pd-sample: simulate: 0 of 3 paths diverged (left out):'
    [ "$(count_records b.tsr)" -eq 3 ]
    tsr-info b.tsr | sed -n 2p | grep -q $'(8, 2, 32)\tdims=t,c,x .*sample=1 pdd.mode=simulate lambda=0 pdd.nfe=3 pdd.segment=0 pdd.frame0=0 pdd.frames=8'
    tsr2npy --stack -o a.npy a.tsr
    tsr2npy --stack -o b.npy b.tsr
    cmp a.npy b.npy
    pd-sample -m "$D/pdd.model" simulate --frames 8 --keep-from 0 -q -o c.tsr "$D/l96.tsr" 2>/dev/null
    tsr2npy --stack -o c.npy c.tsr
    cmp a.npy c.npy
}

@test "pd-sample simulate --frames --keep-from: segments continue one rollout exactly (pdd with noise, ddpm-cond)" {
    # 24 frames streamed through a buffer of 13 from 8-frame inputs are the
    # frames of a plain simulate of the 24-frame paths (same first frames).
    for opts in "" "--lambda 0.2 --noise sigma --seed 3" "--lambda 0.1 --noise sigma --score white --seed 4"; do
        pd-sample -m "$D/pdd.model" simulate $opts -q -o p.tsr "$D/l96-24.tsr"
        pd-sample -m "$D/pdd.model" simulate $opts --frames 24 --keep-from 0 -q -o l.tsr "$D/l96.tsr" 2>/dev/null
        [ "$(count_records l.tsr)" -eq 9 ]
        segcmp p.tsr l.tsr 3 3 8
    done
    tsr-info l.tsr | sed -n 5p | grep -q 'sample=1 .*pdd.nfe=19 pdd.segment=1 pdd.frame0=8 pdd.frames=24'
    C=(-m "$D/cond.model" simulate --schedule rho --steps 3 --correctors 0 "${LAX[@]}")
    pd-sample "${C[@]}" -o p.tsr "$D/l96-24.tsr"
    run pd-sample "${C[@]}" --frames 24 --keep-from 8 -o l.tsr "$D/l96.tsr"
    assert_success
    [ "$(count_records l.tsr)" -eq 6 ]
    tsr-info l.tsr | head -n 1 | grep -q 'sample=0 .*pdd.segment=0 pdd.frame0=8 pdd.frames=24'
    tsr-cat -r 0:3 --slice 0:8:24 p.tsr -o p2.tsr
    segcmp p2.tsr l.tsr 3 2 8
}

@test "pd-sample simulate --frames streams: peak memory does not grow with the rollout" {
    command -v /usr/bin/time > /dev/null || skip "no /usr/bin/time"
    local m1 m2
    m1=$(/usr/bin/time -f %M pd-sample -m "$D/pdd.model" simulate --frames 16 --keep-from 8 --blowup 0 -q -o s.tsr "$D/l96.tsr" 2>&1 | tail -n 1)
    m2=$(/usr/bin/time -f %M pd-sample -m "$D/pdd.model" simulate --frames 4000 --keep-from 3992 --blowup 0 -q -o l.tsr "$D/l96.tsr" 2>&1 | tail -n 1)
    [ "$(count_records l.tsr)" -eq 3 ]
    # Holding the whole rollout would take 3 paths x 4000 frames x 64 values
    # x 8 bytes = 6 MB (a plain simulate of 4000-frame paths peaks 9 MB above
    # one of 8 frames); the stream holds a window and one segment per path.
    echo "peak RSS: $m1 KB at 16 frames, $m2 KB at 4000"
    [ "$m2" -lt $((m1 + 2000)) ]
}

@test "pd-sample simulate --frames: diverged paths are left out and counted, the others unchanged" {
    # An untrained net's rollout grows; --blowup 2.8 stops one of the three
    # paths (sample 1) within 40 frames.
    run pd-sample -m "$D/pdd.model" simulate --frames 40 --keep-from 32 --blowup 2.8 -o l.tsr "$D/l96.tsr"
    assert_success
    assert_line 'pd-sample: simulate: 1 of 3 paths diverged (left out): 1'
    assert_line --regexp '^pd-sample: sample 1 diverged at frame [0-9]+$'
    [ "$(count_records l.tsr)" -eq 2 ]
    tsr-info l.tsr | cut -f 5 | grep -o 'sample=[0-9]*' | tr '\n' ' ' | grep -qx 'sample=0 sample=2 '
    pd-sample -m "$D/pdd.model" simulate --frames 40 --keep-from 32 --blowup 0 -q -o all.tsr "$D/l96.tsr" 2>/dev/null
    [ "$(count_records all.tsr)" -eq 3 ]
    tsr-cat -r 0,2 all.tsr -o kept.tsr
    segcmp kept.tsr l.tsr 2 1 8
    # every path diverging: an empty stream and the count, still not an error
    run pd-sample -m "$D/pdd.model" simulate --frames 40 --blowup 1e-3 -q -o none.tsr "$D/l96.tsr"
    assert_success
    assert_output 'pd-sample: simulate: 3 of 3 paths diverged (left out): 0,1,2'
    run tsr-info none.tsr
    assert_success
    [ "$(count_records none.tsr)" -eq 0 ]
    # a sampler that fails on every path (the DDPM's clamp check) counts them too
    run pd-sample -m "$D/cond.model" simulate --schedule rho --steps 3 --correctors 0 --clamp 1e-3 --frames 12 -q -o c.tsr "$D/l96.tsr"
    assert_success
    assert_output 'pd-sample: simulate: 3 of 3 paths diverged (left out): 0,1,2'
}

@test "pd-sample --frames, --keep-from: bad usage is exit 2 and writes nothing" {
    for bad in "--frames 5" "--frames 3" "--frames -1" "--frames 16 --keep-from 16" "--frames 16 --keep-from 20" \
               "--frames 16 --keep-from 4" "--frames 20 --keep-from 8" "--keep-from 3" "--keep-from -2"; do
        run pd-sample -m "$D/pdd.model" simulate $bad -o o.tsr "$D/l96.tsr"
        echo "$bad: $output"
        assert_failure 2
        [ ! -e o.tsr ]
    done
    run pd-sample -m "$D/pdd.model" simulate --frames 16 --keep-from 4 -o o.tsr "$D/l96.tsr"
    assert_output --partial 'is not a multiple of the input'"'"'s 8 frames'
    run pd-sample -m "$D/pdd.model" simulate --frames 4 -o o.tsr "$D/l96.tsr"
    assert_output --partial 'leaves nothing to simulate after --given 5'
    run pd-sample -m "$D/pdd.model" generate -n 1 --keep-from 0 -o o.tsr
    assert_failure 2
    assert_output --partial '--keep-from is for simulate only'
    run pd-sample -m "$D/pdd.model" super-resolve --lambda 0.2 --frames 16 -o o.tsr "$D/l96.tsr"
    assert_failure 2
    assert_output --partial '--frames has no meaning for super-resolve'
    run pd-sample -m "$D/pdd.model" super-resolve --lambda 0.2 --keep-from 0 -o o.tsr "$D/l96.tsr"
    assert_failure 2
    [ ! -e o.tsr ]
    # input paths shorter than the given frames: bad data
    run pd-sample -m "$D/pdd.model" simulate --frames 16 -o o.tsr "$D/l96-4.tsr"
    assert_failure 1
    assert_output --partial 'paths of 4 frames do not hold --given 5'
    [ ! -e o.tsr ]
}
