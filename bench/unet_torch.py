#!/usr/bin/env python3
"""PyTorch peer of the engine's U-Net (lib/unet.h): the same network, built
from the same parameter records, computing the same function.

  unet_torch.py --check DIR      DIR/model.tsr and DIR/data.tsr from
                                 `bench_unet ref DIR 1|2`: compares torch's
                                 output and input gradient with the engine's
                                 (exit status 1 beyond float32 rounding)
  unet_torch.py --bench --preset l96|kf --batch B --threads T --reps R
                                 times training step, inference forward and
                                 input gradient as bench_unet does

The network is tools/python/eddy's models.UNet (the module that loads
pd-train's U-Net models); the stream reader is eddy.tsr.
"""
import argparse
import math
import sys
import time

import numpy as np

# The network and the tensor-stream reader are the project's Python module
# (tools/python/eddy: models.UNet, tsr).
import os

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "python"))


def read_tsr(path):
    """Records of a tensor stream as a list of (name, attrs dict, array)."""
    from eddy import tsr
    return [(r.name, r.attrs, r.array) for r in tsr.read(path)]


# ---------------------------------------------------------------- the network

import torch
import torch.nn.functional as F


def config_from_attrs(a):
    return dict(dims=int(a["unet.dims"]), cin=int(a["unet.in"]), cout=int(a["unet.out"]),
                base=int(a["unet.base"]), ch=[int(x) for x in a["unet.channels"].split(",")],
                nres=int(a["unet.nres"]), groups=int(a["unet.groups"]), heads=int(a["unet.heads"]),
                emb_size=int(a["unet.emb_size"]), emb_period=float(a["unet.emb_period"]),
                emb_hidden=int(a["unet.emb_hidden"]))


def preset(name):
    c = dict(base=32, nres=2, groups=8, heads=4, emb_size=32, emb_period=1000.0, emb_hidden=128)
    if name == "l96":
        c.update(dims=1, cin=10, cout=2, ch=[64, 128, 128, 192])
        return c, (1, 128)
    c.update(dims=2, cin=5, cout=1, ch=[64, 128, 192])
    return c, (40, 40)


def chan(c, i):
    return c["base"] if i == 0 else c["ch"][i - 1]


def tensor_shapes(c):
    """Names and shapes in the engine's layout (lib/unet.h), creation order."""
    d2 = c["dims"] == 2
    k = (3, 3) if d2 else (3,)
    s = []

    def conv(p, ci, co, tr=False):
        s.append((p + ".w", (k + (co, ci)) if tr else ((co,) + k + (ci,))))
        s.append((p + ".b", (co,)))

    def lin(p, ci, co):
        s.append((p + ".w", (co, ci)))
        s.append((p + ".b", (co,)))

    def gn(p, C):
        s.append((p + ".g", (C,)))
        s.append((p + ".b", (C,)))

    def res(p, ci, co):
        gn(p + ".gn1", ci); conv(p + ".conv1", ci, co); lin(p + ".film", c["emb_hidden"], 2 * co)
        gn(p + ".gn2", co); conv(p + ".conv2", co, co)
        if ci != co:
            lin(p + ".skip", ci, co)

    L = len(c["ch"])
    lin("emb.lin", c["emb_size"], c["emb_hidden"])
    conv("stem", c["cin"], c["base"])
    for i in range(L + 1):
        if i > 0:
            conv("down%d" % i, chan(c, i - 1), chan(c, i))
        for r in range(c["nres"]):
            res("enc%d.%d" % (i, r), chan(c, i), chan(c, i))
    C = chan(c, L)
    res("mid.res1", C, C); gn("mid.attn.gn", C); lin("mid.attn.qkv", C, 3 * C)
    lin("mid.attn.proj", C, C); res("mid.res2", C, C)
    for i in range(L, -1, -1):
        for r in range(c["nres"]):
            res("dec%d.%d" % (i, r), chan(c, i) if r else 2 * chan(c, i), chan(c, i))
        if i > 0:
            conv("up%d" % i, chan(c, i), chan(c, i - 1), tr=True)
    gn("out.gn", c["base"]); conv("out.conv", c["base"], c["cout"])
    return s


def attrs_from_config(c):
    return {"unet.version": "1", "unet.dims": str(c["dims"]), "unet.in": str(c["cin"]),
            "unet.out": str(c["cout"]), "unet.base": str(c["base"]),
            "unet.channels": ",".join(str(x) for x in c["ch"]), "unet.nres": str(c["nres"]),
            "unet.groups": str(c["groups"]), "unet.heads": str(c["heads"]),
            "unet.emb_size": str(c["emb_size"]), "unet.emb_period": repr(c["emb_period"]),
            "unet.emb_hidden": str(c["emb_hidden"])}


class UNet:
    """eddy.models.UNet on channels-first tensors, in float32 or float64."""

    def __init__(self, c, params, dtype=torch.float32):
        from eddy import models
        self.net = models.UNet(attrs_from_config(c), params).to(dtype)

    def params(self):
        return list(self.net.parameters())

    def forward(self, x, s):
        return self.net.forward_cf(x, s)


def to_cf(a, d2):   # (B, H, W, C) → channels first
    return a.permute(0, 3, 1, 2) if d2 else a[:, 0].permute(0, 2, 1)


def from_cf(a, d2):
    return a.permute(0, 2, 3, 1) if d2 else a.permute(0, 2, 1)[:, None]


# ---------------------------------------------------------------- modes

def check(d):
    recs = read_tsr(d + "/model.tsr")
    hdr = recs[0]
    assert hdr[0] == "unet", "model.tsr: first record is %r, not a U-Net" % hdr[0]
    c = config_from_attrs(hdr[1])
    params = {n: a for n, _, a in recs[1:]}
    names = [n for n, _ in tensor_shapes(c)]
    assert names == list(params), "tensor names or order differ from the peer's"
    for n, sh in tensor_shapes(c):
        assert tuple(params[n].shape) == sh, "%s: shape %s, peer expects %s" % (n, params[n].shape, sh)
    data = {n: a for n, _, a in read_tsr(d + "/data.tsr")}
    d2 = c["dims"] == 2
    worst = {}
    for dt in (torch.float32, torch.float64):
        net = UNet(c, params, dt)
        x = to_cf(torch.as_tensor(data["x"], dtype=dt), d2).clone().requires_grad_(True)
        s = torch.as_tensor(data["cond"], dtype=torch.float32)
        y = net.forward(x, s)
        r = to_cf(torch.as_tensor(data["r"], dtype=dt), d2)
        (y * r).sum().backward()
        yy = from_cf(y.detach(), d2).double().numpy()
        gx = from_cf(x.grad, d2).double().numpy()
        worst[dt] = (yy, gx)
    y64, g64 = worst[torch.float64]
    y32, g32 = worst[torch.float32]
    yc, gc = data["y"].astype(np.float64), data["dx"].astype(np.float64)
    sy, sg = np.abs(y64).max(), np.abs(g64).max()
    e_c_y, e_c_g = np.abs(yc - y64).max() / sy, np.abs(gc - g64).max() / sg
    e_t_y, e_t_g = np.abs(y32 - y64).max() / sy, np.abs(g32 - g64).max() / sg
    print("# %d-D U-Net, %d tensors: max error relative to max |.| against torch float64:" %
          (c["dims"], len(params)))
    print("#   output:         engine %.2e, torch float32 %.2e" % (e_c_y, e_t_y))
    print("#   input gradient: engine %.2e, torch float32 %.2e" % (e_c_g, e_t_g))
    # float32 rounding through the network: torch's own float32 error sets the
    # scale; the engine may be a few times off it, never orders of magnitude.
    tol_y, tol_g = max(1e-5, 10 * e_t_y), max(1e-5, 10 * e_t_g)
    ok = e_c_y <= tol_y and e_c_g <= tol_g
    print("RESULT unet_torch check dims=%d output %.2e input_grad %.2e tol %.1e %.1e %s" %
          (c["dims"], e_c_y, e_c_g, tol_y, tol_g, "ok" if ok else "FAIL"))
    return 0 if ok else 1


def bench(a):
    torch.set_num_threads(a.threads)
    c, (H, W) = preset(a.preset)
    rng = np.random.default_rng(1)
    params = {}
    for n, sh in tensor_shapes(c):
        fan = sh[-1] * (int(np.prod(sh[1:-1])) if len(sh) > 2 and not n.startswith("up") else 1)
        if n.startswith("up"):
            fan = sh[-1] * (9 if c["dims"] == 2 else 3)
        if n.endswith(".g") and "gn" in n:
            params[n] = np.ones(sh, np.float32)
        elif n.endswith(".b") and "gn" in n.split(".")[-2]:
            params[n] = np.zeros(sh, np.float32)
        else:
            params[n] = rng.uniform(-1, 1, sh).astype(np.float32) / math.sqrt(fan)
    net = UNet(c, params)
    B, d2 = a.batch, c["dims"] == 2
    shape = (B, c["cin"], H, W) if d2 else (B, c["cin"], W)
    oshape = (B, c["cout"], H, W) if d2 else (B, c["cout"], W)
    x = torch.rand(shape) * 2 - 1
    tgt = torch.rand(oshape) * 2 - 1
    s = torch.tensor([1000.0 * (b + 0.5) / B for b in range(B)])
    ps = net.params()
    opt = torch.optim.Adam(ps, lr=2e-4)

    def train():
        for p in ps:
            p.requires_grad_(True)
        opt.zero_grad(set_to_none=False)
        loss = F.mse_loss(net.forward(x, s), tgt)
        loss.backward()
        opt.step()

    def fwd():
        with torch.no_grad():
            net.forward(x, s)

    def igrad():
        for p in ps:
            p.requires_grad_(False)
        xx = x.clone().requires_grad_(True)
        y = net.forward(xx, s)
        (gx,) = torch.autograd.grad(y, xx, tgt)

    for name, f in (("train_step", train), ("inference_fwd", fwd), ("input_grad", igrad)):
        ts, tc = [], []
        for k in range(a.reps + 2):
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            ts.append(time.perf_counter() - t0)
            tc.append(time.process_time() - c0)
        ts, tc = sorted(ts[2:]), sorted(tc[2:])
        print("RESULT unet_torch cfg=%s threads=%d %s %.4f s (best %.4f) cpu %.4f s" %
              (a.preset, a.threads, name, ts[len(ts) // 2], ts[0], tc[len(tc) // 2]))
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", metavar="DIR")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--preset", default="l96", choices=["l96", "kf"])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    if a.check:
        return check(a.check)
    if a.bench:
        bench(a)
        return 0
    ap.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
