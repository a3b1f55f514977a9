#!/usr/bin/env bats
# The Python module (tools/python/eddy): streams both ways with the tools,
# byte for byte; the same refusals as the C reader; the PyTorch models
# against the C network (output and input gradient).

load helper

setup_file() {
    local d=$BATS_FILE_TMPDIR
    ns-gen --preset closure --closure --n 32 --out-grid 16 --spinup 3.9478417604357434 \
        --interval 0.39478417604357434 --frames 6 --count 2 -q -o "$d/ns.tsr"
    closure-cond --term G --obs-n 4 "$d/ns.tsr" > "$d/cond.tsr"
    l96-gen --K 8 --J 4 --frames 8 --spinup 0.5 --count 3 -q -o "$d/l96.tsr"
    ns-gen --preset kolmogorov --n 32 --out-grid 16 --spinup 0.5 --frames 8 --count 1 -q -o "$d/kf.tsr"
}

setup() {
    need_numpy
    "$PY" -c 'import zstandard' 2>/dev/null || skip "python3-zstandard is not installed"
    D=$BATS_FILE_TMPDIR
    cd "$BATS_TEST_TMPDIR"
    export PYTHONPATH="$EDDY_ROOT/tools/python${PYTHONPATH:+:$PYTHONPATH}"
}

# rewrite IN OUT: eddy.tsr reads IN and writes its records to OUT.
rewrite() { py 'from eddy import tsr; tsr.write(sys.argv[2], tsr.read(sys.argv[1]))' "$1" "$2"; }

# same_as_c FILE: every array eddy.tsr reads equals what tsr2npy (the C reader) gives.
same_as_c() {
    mkdir -p npy_$$ && rm -f npy_$$/*
    tsr2npy -o npy_$$/ "$1"
    py 'from eddy import tsr
recs, files = tsr.read(sys.argv[1]), sorted(os.listdir(sys.argv[2]))
assert len(recs) == len(files), (len(recs), files)
for r, f in zip(recs, files):
    a = np.load(os.path.join(sys.argv[2], f))
    assert f.endswith(("_" + r.name if r.name else "") + ".npy") and a.dtype == r.array.dtype and a.shape == r.array.shape, (f, r)
    assert a.tobytes() == r.array.tobytes(), f' "$1" npy_$$
}

@test "eddy.tsr reads every stream the tools write, and writes the same bytes back" {
    mkstream dtypes.tsr 'np.arange(-3, 3, dtype="i1")' 'np.arange(6, dtype="u1")' 'np.arange(-3, 3, dtype="<i2")' \
        'np.arange(6, dtype="<u2")' 'np.arange(-3, 3, dtype="<i4").reshape(2, 3)' 'np.arange(6, dtype="<u4")' \
        'np.arange(-3, 3, dtype="<i8")' 'np.array([0, 2**64 - 1], "<u8")' 'np.linspace(-1, 1, 7).astype("<f4")' \
        'np.float64(np.pi)' 'np.zeros((0, 3), "<f8")' '(np.arange(4) * (1 + 2j)).astype("<c8")' \
        '(np.arange(4) * (1 - 2j)).astype("<c16")' 'np.random.default_rng(0).standard_normal((70, 1000)).astype("f4")'
    npy one.npy 'np.ones(3)'
    npy2tsr -a 'note=a\back=slash and=sign' -a "units=m s^-1 (µ)" one.npy > attrs.tsr
    rg-coarsen --preset kolmogorov --lambda 0.1 --seed 1 "$D/kf.tsr" > coarse.tsr
    fno-train --cond v+obs --width 4 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4 --steps 2 -q -o cs.model "$D/cond.tsr"
    pd-train --arch fno --width 4 --layers 1 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 -q --steps 2 -o p.model "$D/l96.tsr"
    pd-train --unet-base 8 --unet-channels 8,16 --unet-res 1 --unet-groups 2 --unet-heads 2 --emb-size 8 --emb-hidden 8 \
        --batch 2 -q --steps 2 -o u.model "$D/l96.tsr"
    for f in dtypes.tsr attrs.tsr coarse.tsr cs.model p.model u.model "$D/ns.tsr" "$D/cond.tsr" "$D/l96.tsr" "$D/kf.tsr"; do
        rewrite "$f" back.tsr
        cmp "$f" back.tsr || fail "$f: eddy.tsr wrote different bytes"
        same_as_c "$f"
    done
    # a history with several lines and attribute escapes survive as text
    py 'from eddy import tsr
r = tsr.read(sys.argv[1])[0]
assert r.attrs["note"] == "a\\back=slash and=sign", r.attrs
assert r.attrs["units"] == "m s^-1 (µ)" and r.attrs["history"].startswith("npy2tsr ")' attrs.tsr
    # concatenated streams (cat a b) read as one sequence; other writer options keep the arrays
    cat "$D/l96.tsr" "$D/kf.tsr" > two.tsr
    same_as_c two.tsr
    tsr-cat --no-shuffle --level 9 "$D/kf.tsr" > opts.tsr
    same_as_c opts.tsr
}

@test "the tools read every stream eddy.tsr writes: arrays and attributes identical" {
    py 'from eddy import tsr
rng = np.random.default_rng(2)
dts = ["|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f4", "<f8", "<c8", "<c16"]
recs = []
for i, d in enumerate(dts):
    a = (rng.standard_normal((3, 5)) * 100).astype(d) if np.dtype(d).kind != "c" else (rng.standard_normal((3, 5)) + 1j * rng.standard_normal((3, 5))).astype(d)
    recs.append(tsr.Record("a%d" % i, a, {"dims": "y,x", "k": "v=w", "multi": "line one\nline \\two", "utf8": "λ σ_t"}))
recs.append(tsr.Record("", np.float32(1.5), {}))
recs.append(tsr.Record("empty", np.zeros((4, 0), "f4"), {"units": ""}))
recs.append(tsr.Record("big", rng.standard_normal((300, 300)), {"history": "made by python\nsecond line"}))
tsr.write("py.tsr", recs)
tsr.write("py-noshuf.tsr", recs, level=5, shuffle=False)'
    zstd -qt py.tsr
    for f in py.tsr py-noshuf.tsr; do
        tsr-info --stats "$f" > /dev/null
        same_as_c "$f"
    done
    # tsr-cat rewrites the records through the C writer: equal to eddy.tsr's
    # records plus one history line, and to its bytes when that line is removed
    tsr-cat py.tsr > c.tsr
    py 'from eddy import tsr
a, b = tsr.read("py.tsr"), tsr.read("c.tsr")
assert len(a) == len(b)
for x, y in zip(a, b):
    assert x.name == y.name and x.array.dtype == y.array.dtype and x.array.tobytes() == y.array.tobytes()
    h = y.attrs.pop("history").split("\n")
    assert h[-1] == "tsr-cat py.tsr", h
    if h[:-1]: y.attrs["history"] = "\n".join(h[:-1])
    hx = x.attrs.pop("history", None)
    if hx is not None: x.attrs["history"] = hx
    assert list(x.attrs.items()) == list(y.attrs.items()), (x.attrs, y.attrs)' || fail "tsr-cat disagrees"
    py 'from eddy import tsr
recs = tsr.read("py.tsr")
for r in recs:
    r.attrs.pop("history", None)
tsr.write("py-nohist.tsr", recs)
recs = tsr.read("c.tsr")
for r in recs:
    r.attrs.pop("history", None)
tsr.write("c2.tsr", recs)'
    cmp py-nohist.tsr c2.tsr
    # a dtype with no stream dtype, an over-long name: refused, nothing written
    run py 'from eddy import tsr; tsr.write("bad.tsr", [tsr.Record("b", np.array([True]))])'
    assert_failure
    assert_output --partial "has no stream dtype"
    no_files_like . 'bad.tsr*'
}

@test "eddy.tsr refuses every corrupted stream the C reader refuses (each byte flipped, every truncation)" {
    mkstream s.tsr 'np.arange(6, dtype="f4").reshape(2, 3)' 'np.arange(4, dtype="<i4")'
    py 'from eddy import tsr
d = open("s.tsr", "rb").read()
os.makedirs("bad", exist_ok=True)
for i in range(len(d)):
    b = bytearray(d); b[i] ^= 0x5A
    open("bad/flip-%04d.tsr" % i, "wb").write(bytes(b))
for n in range(len(d)):
    open("bad/cut-%04d.tsr" % n, "wb").write(d[:n])
open("bad/stray.tsr", "wb").write(d + b"junk")
open("bad/twice.tsr", "wb").write(d + d)
open("bad/reserved.tsr", "wb").write(d + b"\x53\x2a\x4d\x18\x02\x00\x00\x00ab")'
    : > verdicts
    for f in bad/*.tsr; do
        if tsr-info "$f" > /dev/null 2>&1 && tsr2npy -o /dev/null --stack "$f" > /dev/null 2>&1 ||
           tsr2npy -o - "$f" > /dev/null 2>&1; then c=ok; else c=refused; fi
        echo "$f $c" >> verdicts
    done
    grep -q "flip-0000.tsr refused" verdicts
    grep -q "twice.tsr ok" verdicts
    grep -q "reserved.tsr ok" verdicts
    [ "$(grep -c refused verdicts)" -gt 300 ]
    py 'from eddy import tsr
bad = 0
for line in open("verdicts"):
    f, c = line.split()
    try:
        tsr.read(f); p = "ok"
    except tsr.TsrError:
        p = "refused"
    if p != c:
        print(f, "C:", c, "python:", p); bad += 1
sys.exit(1 if bad else 0)'
}

# equal MODEL: the PyTorch module of MODEL and the C network (tests/python/
# model_probe.c) agree in output and input gradient to float32 rounding.
equal() {
    py 'from eddy import tsr, models
import subprocess, torch
model, probe = sys.argv[1], sys.argv[2]
net = models.load(model)
rng = np.random.default_rng(3)
if isinstance(net, models.PDDPredictor):
    grid = tuple(int(v) for v in net.hdr["pdd.grid"].split("x"))
    nb, C, W, lam = 3, net.C, net.W, 0.37
    win, gout = rng.standard_normal((nb, C * W) + grid), rng.standard_normal((nb, C) + grid)
    tsr.write("in.tsr", [tsr.Record("win", win.reshape(nb, C * W, -1), {"lambda": repr(lam)}),
                         tsr.Record("gout", gout.reshape(nb, C, -1))])
    subprocess.run([probe, model, "in.tsr", "out.tsr"], check=True)
    o = {r.name: r.array for r in tsr.read("out.tsr")}
    x = torch.tensor(win, requires_grad=True)
    f = net(x, lam)
    (f.double() * torch.tensor(gout)).sum().backward()
    pairs = [("out", f.detach().numpy().reshape(nb, C, -1), o["out"]), ("gwin", x.grad.numpy().reshape(nb, C * W, -1), o["gwin"])]
    # the windows of a path, as lib/pdd.c forms them: zeros before frame 0
    path = torch.tensor(rng.standard_normal((7, C) + grid))
    w = net.windows(path)
    assert w.shape == (7, C * W) + grid and (w[0, W - 1] == path[0, 0]).all() and (w[0, 0] == 0).all()
    assert (w[6, C * W - 1] == path[6, C - 1]).all() and (w[6, 0] == path[2, 0]).all()
else:
    B, H, W, t = 3, 16, 16, 0.05
    xt, V, Y, gout = (rng.standard_normal((B, H, W)).astype("f4") for _ in range(4))
    tsr.write("in.tsr", [tsr.Record("x", xt, {"t": repr(t)}), tsr.Record("V", V), tsr.Record("Y", Y), tsr.Record("gout", gout)])
    subprocess.run([probe, model, "in.tsr", "out.tsr"], check=True)
    o = {r.name: r.array for r in tsr.read("out.tsr")}
    x, v, y = (torch.tensor(a, requires_grad=True) for a in (xt, V, Y))
    s = net(x, t, v, y if net.with_obs else None)
    (s * torch.tensor(gout)).sum().backward()
    pairs = [("score", s.detach().numpy(), o["score"]), ("gx", x.grad.numpy(), o["gx"]), ("gV", v.grad.numpy(), o["gV"])]
    if net.with_obs: pairs.append(("gY", y.grad.numpy(), o["gY"]))
for name, a, b in pairs:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (name, a.shape, b.shape)
    err = np.abs(a - b).max() / np.abs(b).max()
    print("%s %s: max error / max value %.2g" % (model, name, err))
    assert err < 1e-5, (name, err)' "$1" "$EDDY_ROOT/build/tests/model-probe"
}

@test "eddy.models: the closure score model and the PDD predictor (FNO, U-Net; 1-D, 2-D) match the C network" {
    "$PY" -c 'import torch' 2>/dev/null || skip "skipped: python3-torch is not installed"
    [ -x "$EDDY_ROOT/build/tests/model-probe" ] || skip "skipped: build/tests/model-probe is not built (make test builds it)"
    TINY=(--width 4 --layers 2 --modes 4 --emb-size 16 --emb-hidden 16 --fuse 8 --batch 4 --steps 5 -q)
    fno-train --cond v "${TINY[@]}" -o v.model "$D/cond.tsr"
    fno-train --cond v+obs "${TINY[@]}" -o obs.model "$D/cond.tsr"
    fno-train --cond v+obs --precond --residual --u-scale 3 --v-scale 0.5 "${TINY[@]}" -o res.model "$D/cond.tsr"
    PT=(--arch fno --width 4 --layers 2 --modes 4 --emb-size 8 --emb-hidden 8 --batch 2 --steps 5 -q)
    pd-train "${PT[@]}" -o l96.model "$D/l96.tsr"
    pd-train "${PT[@]}" --act gelu -o kf.model "$D/kf.tsr"
    # tiny trained U-Nets (every parameter moved off its initial value), both dimensions
    UT=(--unet-base 8 --unet-channels 8,16 --unet-res 1 --unet-groups 2 --unet-heads 2 --emb-size 8 --emb-hidden 8
        --batch 2 --steps 5 --lr 1e-2 -q)
    pd-train "${UT[@]}" -o l96-unet.model "$D/l96.tsr"
    pd-train "${UT[@]}" -o kf-unet.model "$D/kf.tsr"
    for m in v obs res l96 kf l96-unet kf-unet; do
        run equal $m.model
        assert_success
        echo "$output"
    done
    # a checkpoint of another network kind is refused by name
    py 'from eddy import tsr
r = tsr.read("kf.model"); r[0].name = "resnet"; tsr.write("resnet.model", r)'
    run py 'from eddy import models; models.load("resnet.model")'
    assert_failure
    assert_output --partial "network 'resnet' is not known"
}
