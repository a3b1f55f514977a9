#!/usr/bin/env bats
# pd-train: options, the model it writes (network, kind, objective, standardisation,
# training spectrum), determinism, resume, and bad input (nothing written).

load helper

TINY=(--arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 -q)

setup_file() {
    local d=$BATS_FILE_TMPDIR
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 3 -q -o "$d/l96.tsr"
    l96-gen --K 8 --J 4 --frames 6 --spinup 0.5 --count 1 -q -o "$d/l96-short.tsr"
    l96-gen --K 8 --J 4 --frames 1 --spinup 0.5 --count 2 -q -o "$d/l96-1.tsr"
    ns-gen --preset kolmogorov --n 32 --out-grid 16 --spinup 0.5 --frames 8 --count 1 -q -o "$d/kf.tsr"
}

setup() { D=$BATS_FILE_TMPDIR; cd "$BATS_TEST_TMPDIR"; }

@test "pd-train --help: the three objectives and the paper's defaults" {
    run pd-train --help
    assert_success
    assert_line --regexp '--objective O .*pdd, ddpm-gen .*ddpm-cond.*\(default: pdd\)'
    assert_line --regexp '--window N .*\(default: 5\)'
    assert_line --regexp '--lr X .*\(default: 0.0002\)'
}

@test "pd-train: a pdd model with its standardisation, spectrum and a loss log" {
    run pd-train "${TINY[@]}" --steps 3 --log loss.tsv -o m.model "$D/l96.tsr"
    assert_success
    run tsr-info m.model
    assert_line --index 0 --regexp 'kind=pdd-model pdd.objective=pdd pdd.dims=1 pdd.grid=32 pdd.channels=2 pdd.frames=8 pdd.window=5'
    assert_line --index 0 --regexp 'pdd.process=rg pdd.alpha=0.10*1 pdd.beta=1.414'
    assert_line --index 0 --regexp 'pdd.mean=[-0-9.e]+,[-0-9.e]+ pdd.std=[0-9.e]+,[0-9.e]+'
    # the training spectrum: C x (N/2+1) = 2 x 17 entries
    n=$(tsr-info -a m.model | grep -m 1 '^[[:space:]]\+pdd.spectrum=' | tr ',' '\n' | wc -l)
    [ "$n" -eq 34 ]
    [ "$(head -n 1 loss.tsv)" = $'step\tepoch\tlr\tloss\tseconds' ]
    [ "$(wc -l < loss.tsv)" -eq 4 ]
    run pd-train "${TINY[@]}" --objective ddpm-cond --steps 1 -o c.model "$D/l96.tsr"
    assert_success
    tsr-info c.model | head -n 1 | grep -q 'pdd.objective=ddpm-cond .*pdd.process=vp .*pdd.gamma=3'
    run pd-train "${TINY[@]}" --objective ddpm-gen --steps 1 -o g.model "$D/kf.tsr"
    assert_success
    tsr-info g.model | head -n 1 | grep -q 'pdd.objective=ddpm-gen pdd.dims=2 pdd.grid=16x16 pdd.channels=1'
}

@test "pd-train: same seed, same bytes; another seed differs" {
    # the same command line (it is in the history) in two directories
    mkdir a b c
    (cd a && pd-train "${TINY[@]}" --steps 3 -j 1 -o m.model "$D/l96.tsr")
    (cd b && pd-train "${TINY[@]}" --steps 3 -j 1 -o m.model "$D/l96.tsr")
    cmp a/m.model b/m.model
    (cd c && pd-train "${TINY[@]}" --steps 3 -j 1 --seed 9 -o m.model "$D/l96.tsr")
    if cmp -s a/m.model c/m.model; then false; fi
}

@test "pd-train --lr-decay-steps: the logged rate steps down by --lr-gamma, and resume keeps it" {
    pd-train "${TINY[@]}" --steps 3 --lr 1e-3 --lr-decay-steps 2 --lr-gamma 0.25 --log l.tsv -o m.model "$D/l96.tsr"
    pd-train "${TINY[@]}" --steps 5 --resume m.model --log l.tsv -o m2.model "$D/l96.tsr"
    run cut -f3 l.tsv
    assert_output $'lr\n0.001\n0.001\n0.00025\n0.00025\n6.25e-05'
    run pd-train "${TINY[@]}" --lr-gamma 0 -o x.model "$D/l96.tsr"
    assert_failure 2
    [ ! -e x.model ]
}

@test "pd-train: resume continues the step count and the log" {
    pd-train "${TINY[@]}" --steps 2 --log l.tsv -o m.model "$D/l96.tsr"
    run pd-train "${TINY[@]}" --steps 4 --resume m.model --log l.tsv -o m2.model "$D/l96.tsr"
    assert_success
    [ "$(tail -n 1 l.tsv | cut -f 1)" = 4 ]
    [ "$(grep -c '^step' l.tsv)" -eq 1 ]
    run pd-train "${TINY[@]}" --objective ddpm-gen --steps 4 --resume m.model -o m3.model "$D/l96.tsr"
    assert_failure 2
    assert_output --partial 'trained with --objective pdd'
    [ ! -e m3.model ]
    run pd-train "${TINY[@]}" --steps 4 --resume m.model -o m4.model "$D/kf.tsr"
    assert_failure 1
    assert_output --partial 'model of the other system'
    [ ! -e m4.model ]
}

@test "pd-train: bad usage is exit 2 and writes nothing" {
    run pd-train "${TINY[@]}" --steps 1 "$D/l96.tsr"
    assert_failure 2
    assert_output --partial '--output is required'
    run pd-train "${TINY[@]}" --objective vae --steps 1 -o m.model "$D/l96.tsr"
    assert_failure 2
    assert_output --partial '--objective must be pdd, ddpm-gen or ddpm-cond'
    run pd-train "${TINY[@]}" --lr -1 -o m.model "$D/l96.tsr"
    assert_failure 2
    run pd-train "${TINY[@]}" --window 0 -o m.model "$D/l96.tsr"
    assert_failure 2
    # a negative alpha or beta is refused, not taken for "the default"
    run pd-train "${TINY[@]}" --alpha -0.1 -o m.model "$D/l96.tsr"
    assert_failure 2
    assert_output --partial '--alpha and --beta must be > 0'
    run pd-train "${TINY[@]}" --beta -1 -o m.model "$D/l96.tsr"
    assert_failure 2
    [ ! -e m.model ]
}

@test "pd-train: bad data is exit 1 and writes nothing" {
    run pd-train "${TINY[@]}" --steps 1 -o m.model "$D/l96.tsr" "$D/l96-short.tsr"
    assert_failure 1
    assert_output --regexp "l96-short.tsr record 0 'u' has 6 frames, 2 channels on a 32x1 grid; .*/l96.tsr record 0 'u' has 8, 2 on 32x1"
    run pd-train "${TINY[@]}" --steps 1 -o m.model "$D/l96.tsr" "$D/kf.tsr"
    assert_failure 1
    run pd-train "${TINY[@]}" --steps 1 -o m.model "$D/l96-1.tsr"
    assert_failure 1
    assert_output --partial 'no increment'
    run pd-train "${TINY[@]}" --steps 1 -o m.model /nonexistent.tsr
    assert_failure
    [ ! -e m.model ]
    # no temporary file left behind either
    [ -z "$(ls -A)" ]
}

# A tiny U-Net: two halvings (the ci grids divide by 4), one block per level.
UNET=(--unet-base 8 --unet-channels 8,16 --unet-res 1 --unet-groups 2 --unet-heads 2 --emb-size 8 --emb-hidden 8 --batch 2 -q)

@test "pd-train --help: the U-Net is the default and its unstated defaults are stated" {
    run pd-train --help
    assert_success
    assert_line --regexp '--arch A .*unet .*fno .*\(default: unet\)'
    assert_output --partial '2 residual blocks per level and side'
    assert_output --partial 'GroupNorm with 8 groups, 4 attention heads'
    assert_line --regexp '--fno-preset P .*d5'
}

@test "pd-train --arch unet: the model holds the U-Net, the PDD header and the Adam state; both objectives, both dimensions" {
    run pd-train "${UNET[@]}" --steps 2 -o u.model "$D/l96.tsr"
    assert_success
    run tsr-info u.model
    assert_line --index 0 --regexp '^0[[:space:]]+unet[[:space:]].*kind=pdd-model pdd.arch=unet pdd.objective=pdd pdd.dims=1'
    assert_line --index 0 --regexp 'adam.t=2 .*unet.dims=1 unet.in=10 unet.out=2 unet.base=8 unet.channels=8,16 unet.nres=1 unet.groups=2 unet.heads=2'
    assert_output --regexp 'adam.m[[:space:]]+<f4'
    assert_output --regexp 'mid.attn.qkv.w[[:space:]]+<f4[[:space:]]+\(48, 16\)'
    pd-train "${UNET[@]}" --objective ddpm-cond --steps 1 -o c.model "$D/kf.tsr"
    tsr-info c.model | head -n 1 | grep -q 'pdd.arch=unet pdd.objective=ddpm-cond pdd.dims=2 .*unet.in=6 unet.out=1'
    pd-train "${UNET[@]}" --objective ddpm-gen --steps 1 -o g.model "$D/kf.tsr"
    tsr-info g.model | head -n 1 | grep -q 'pdd.arch=unet pdd.objective=ddpm-gen pdd.dims=2 .*unet.in=5 unet.out=1'
    # the FNO: no pdd.arch attribute (its models keep their bytes)
    pd-train "${TINY[@]}" --steps 1 -o f.model "$D/l96.tsr"
    run tsr-info f.model
    assert_line --index 0 --regexp '^0[[:space:]]+fno[[:space:]]'
    refute_line --index 0 --partial 'pdd.arch'
}

@test "pd-train --arch unet --resume: the same steps as an uninterrupted run" {
    pd-train "${UNET[@]}" --steps 4 -j 1 --log a.tsv -o a.model "$D/l96.tsr"
    pd-train "${UNET[@]}" --steps 2 -j 1 --log b.tsv -o b.model "$D/l96.tsr"
    pd-train "${UNET[@]}" --steps 4 -j 1 --resume b.model --log b.tsv -o b2.model "$D/l96.tsr"
    [ "$(cut -f 1,2,3,4 a.tsv)" = "$(cut -f 1,2,3,4 b.tsv)" ]
    # the parameters and Adam moments too: every record but the header (it carries the command line)
    [ "$(tsr-info --stats a.model | tail -n +2)" = "$(tsr-info --stats b2.model | tail -n +2)" ]
}

@test "pd-train: a checkpoint resumed as the other architecture, a grid the halvings do not divide, an unknown --arch: clear errors, nothing written" {
    pd-train "${UNET[@]}" --steps 1 -o u.model "$D/l96.tsr"
    pd-train "${TINY[@]}" --steps 1 -o f.model "$D/l96.tsr"
    run pd-train --arch fno --steps 2 --resume u.model -q -o x.model "$D/l96.tsr"
    assert_failure 2
    assert_output --partial 'u.model is a U-Net model; resume it with --arch unet'
    run pd-train --steps 2 --resume f.model -q -o x.model "$D/l96.tsr"
    assert_failure 2
    assert_output --partial 'f.model is an FNO model; resume it with --arch fno'
    # 32 points: 5 halvings do not divide them; 12x12 and the KF U-Net's 3 halvings neither
    run pd-train "${UNET[@]}" --unet-channels 8,8,8,8,8,8 --steps 1 -o x.model "$D/l96.tsr"
    assert_failure 2
    assert_output --partial 'a grid of 32 points is not divisible by 2^6 = 64 (6 halvings)'
    ns-gen --preset kolmogorov --n 24 --out-grid 12 --spinup 0.5 --frames 6 --count 1 -q -o kf12.tsr
    run pd-train --steps 1 -q -o x.model kf12.tsr
    assert_failure 2
    assert_output --partial 'a 12x12 grid is not divisible by 2^3 = 8 along both axes'
    run pd-train --arch resnet --steps 1 -o x.model "$D/l96.tsr"
    assert_failure 2
    assert_output --partial "--arch must be unet or fno, got 'resnet'"
    # the options of the other network
    run pd-train --width 4 --steps 1 -o x.model "$D/l96.tsr"
    assert_failure 2
    assert_output --partial '--width is an FNO option: add --arch fno'
    run pd-train --arch fno --unet-res 1 --steps 1 -o x.model "$D/l96.tsr"
    assert_failure 2
    assert_output --partial '--unet-res is a U-Net option'
    run pd-train "${UNET[@]}" --unet-channels 8,x --steps 1 -o x.model "$D/l96.tsr"
    assert_failure 2
    [ ! -e x.model ]
    [ -z "$(ls -A | grep -v -e '^[uf].model$' -e '^kf12.tsr$')" ]
}

@test "pd-train --arch fno --fno-preset d5: seed 001 B.2's FNO (width 64; 8 layers in 1-D, 6 in 2-D)" {
    pd-train --arch fno --fno-preset d5 --steps 1 -q -o l.model "$D/l96.tsr"
    tsr-info l.model | head -n 1 | grep -q 'fno.b0.in=10 fno.b0.width=64 fno.b0.layers=8 fno.b0.modes=17 '
    pd-train --arch fno --fno-preset d5 --steps 1 -q -o k.model "$D/kf.tsr"
    tsr-info k.model | head -n 1 | grep -q 'fno.b0.in=5 fno.b0.width=64 fno.b0.layers=6 fno.b0.modes=8,8 '
    run pd-train --arch fno --fno-preset d6 --steps 1 -q -o x.model "$D/kf.tsr"
    assert_failure 2
    [ ! -e x.model ]
}
