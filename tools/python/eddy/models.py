"""The trained models of eddy as PyTorch modules, rebuilt from a checkpoint
(formats/checkpoint.md) and reproducing the C tools' outputs to float32
rounding:

    from eddy import models
    net = models.load("pdd.model")          # PDDPredictor or ClosureScore
    f = net(window, lam)                    # the standardised increment
    s = score(x_t, t, V, Y)                 # a closure model's score

`FNO` and `UNet` are the raw networks (any checkpoint of lib/fno.h or
lib/unet.h); `PDDPredictor` and `ClosureScore` are the two model kinds around
them.  A PDD model's network is chosen by the checkpoint's first record
("fno" or "unet") through `NETWORKS` (see `_network`).
"""
import math

import numpy as np
import torch
from torch import nn

from . import tsr

__all__ = ["FNO", "UNet", "PDDPredictor", "ClosureScore", "load", "load_checkpoint", "NETWORKS", "vesde_std"]


def load_checkpoint(path):
    """(header attributes, {tensor name: numpy array}) of a checkpoint stream."""
    recs = tsr.read(path)
    if not recs:
        raise ValueError(f"{path}: empty stream, not a checkpoint")
    hdr, tensors = recs[0].attrs, {}
    for r in recs[1:]:
        if r.name.startswith("adam."):
            continue
        tensors[r.name] = r.array
    return hdr, tensors


def _act(name):
    if name == "gelu":
        return lambda x: nn.functional.gelu(x)          # exact, erf form
    if name == "silu":
        return nn.functional.silu
    raise ValueError(f"unknown activation '{name}'")


def _ints(s):
    return [int(v) for v in s.split(",") if v != ""] if s else []


class _MLP(nn.Module):
    """Linear layers named <prefix>.<i>.w/.b, activation between them."""

    def __init__(self, tensors, prefix, act):
        super().__init__()
        self.layers = nn.ModuleList()
        i = 0
        while f"{prefix}.{i}.w" in tensors:
            w, b = tensors[f"{prefix}.{i}.w"], tensors[f"{prefix}.{i}.b"]
            lin = nn.Linear(w.shape[1], w.shape[0])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.array(w, np.float32)))
                lin.bias.copy_(torch.from_numpy(np.array(b, np.float32)))
            self.layers.append(lin)
            i += 1
        if not self.layers:
            raise ValueError(f"checkpoint has no tensors {prefix}.0.w/.b")
        self.act = act

    def forward(self, x):                       # (..., c_in) channels last
        for i, lin in enumerate(self.layers):
            x = lin(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x


class _SpectralConv(nn.Module):
    def __init__(self, w, dims):
        super().__init__()
        self.dims = dims
        self.w = nn.Parameter(torch.from_numpy(np.array(w, np.complex64)))
        # 2-D (2·my, mx, cin, cout); 1-D (mx, cin, cout)
        self.my = w.shape[0] // 2 if dims == 2 else 1
        self.mx = w.shape[1] if dims == 2 else w.shape[0]

    def forward(self, x):                       # (B, H, W, cin) or (B, W, cin)
        if self.dims == 1:
            B, W, _ = x.shape
            X = torch.fft.rfft(x, dim=1)
            Y = torch.zeros(B, W // 2 + 1, self.w.shape[-1], dtype=X.dtype, device=x.device)
            Y[:, :self.mx] = torch.einsum("bxi,xio->bxo", X[:, :self.mx], self.w)
            return torch.fft.irfft(Y, n=W, dim=1)
        B, H, W, _ = x.shape
        my, mx = self.my, self.mx
        X = torch.fft.rfft2(x, dim=(1, 2))
        Y = torch.zeros(B, H, W // 2 + 1, self.w.shape[-1], dtype=X.dtype, device=x.device)
        Y[:, :my, :mx] = torch.einsum("bxyi,xyio->bxyo", X[:, :my, :mx], self.w[:my])
        Y[:, H - my:, :mx] = torch.einsum("bxyi,xyio->bxyo", X[:, H - my:, :mx], self.w[my:])
        return torch.fft.irfft2(Y, s=(H, W), dim=(1, 2))


class _Branch(nn.Module):
    def __init__(self, hdr, tensors, k, act, dims, length):
        super().__init__()
        p = f"fno.b{k}."
        self.k, self.dims, self.length = k, dims, length
        self.grid = hdr.get(p + "grid", "0") == "1"
        self.cond = hdr.get(p + "cond", "none")
        self.layers = int(hdr[p + "layers"])
        self.act = act
        self.lift = _MLP(tensors, f"b{k}.lift", act)
        self.spec = nn.ModuleList()
        self.pw = nn.ModuleList()
        self.condl = nn.ModuleList()
        for l in range(self.layers):
            q = f"b{k}.layer{l}."
            self.spec.append(_SpectralConv(tensors[q + "spec.w"], dims))
            self.pw.append(_linear(tensors[q + "pw.w"], tensors[q + "pw.b"]))
            if self.cond != "none":
                self.condl.append(_linear(tensors[q + "cond.w"], tensors[q + "cond.b"]))
        self.proj = _MLP(tensors, f"b{k}.proj", act) if int(hdr.get(p + "out", "0")) > 0 else None

    def _coords(self, x):
        # computed in double and rounded to float, as lib/fno.c does
        if self.dims == 2:
            B, H, W, _ = x.shape
            yy = (torch.arange(H, dtype=torch.float64) * (self.length[0] / H)).to(torch.float32)
            xx = (torch.arange(W, dtype=torch.float64) * (self.length[1] / W)).to(torch.float32)
            g = torch.stack(torch.meshgrid(yy, xx, indexing="ij"), dim=-1)
            return g.expand(B, H, W, 2).to(x.device)
        B, W, _ = x.shape
        xx = (torch.arange(W, dtype=torch.float64) * (self.length[0] / W)).to(torch.float32)
        return xx[None, :, None].expand(B, W, 1).to(x.device)

    def forward(self, x, h):                    # x channels last; h (B, Eh) or None
        if self.grid:
            x = torch.cat([x, self._coords(x)], dim=-1)
        x = self.lift(x)
        shape = (-1,) + (1,) * self.dims + (x.shape[-1],)
        for l in range(self.layers):
            z = self.spec[l](x) + self.pw[l](x)
            if self.cond != "none":
                c = self.condl[l](h)
                if self.cond == "bias":
                    z = z + c.reshape(shape)
                else:
                    C = z.shape[-1]
                    z = z * (1 + c[:, :C].reshape(shape)) + c[:, C:].reshape(shape)
            x = self.act(z) if l < self.layers - 1 else z
        return self.proj(x) if self.proj is not None else x


def _linear(w, b):
    lin = nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.array(w, np.float32)))
        lin.bias.copy_(torch.from_numpy(np.array(b, np.float32)))
    return lin


class FNO(nn.Module):
    """The network of lib/fno.h from a checkpoint's header and tensors.

    forward(inputs, cond): inputs is a list with one tensor per branch,
    channels last: 2-D (B, H, W, C_k), 1-D (B, W, C_k); cond (B,) the scalar
    the embedding conditions on (or None).  Returns (B, H, W, C_out) or
    (B, W, C_out)."""

    def __init__(self, hdr, tensors):
        super().__init__()
        if hdr.get("fno.version") != "1":
            raise ValueError(f"not an FNO checkpoint of version 1 (fno.version={hdr.get('fno.version')})")
        self.dims = int(hdr["fno.dims"])
        length = [float(v) for v in hdr["fno.length"].split(",")]
        self.act = _act(hdr["fno.act"])
        self.nbranch = int(hdr["fno.nbranch"])
        self.emb = hdr.get("fno.emb", "none")
        if self.emb != "none":
            self.emb_size = int(hdr["fno.emb_size"])
            self.emb_scale = float(hdr["fno.emb_scale"])
            self.emb_act = _act(hdr["fno.emb_act"])
            self.emb_lin = _linear(tensors["emb.lin.w"], tensors["emb.lin.b"])
            if self.emb == "gaussian":
                self.register_buffer("freq", torch.from_numpy(np.array(tensors["emb.freq"], np.float32)))
        self.branches = nn.ModuleList(_Branch(hdr, tensors, k, self.act, self.dims, length)
                                      for k in range(self.nbranch))
        self.fuse = _MLP(tensors, "fuse", self.act) if self.nbranch > 1 else None

    def embed(self, s):
        # features in double, rounded to float (lib/nn.c nn_embed)
        s = s.to(torch.float32).to(torch.float64)
        h = self.emb_size // 2
        if self.emb == "gaussian":
            a = 2 * math.pi * self.freq.to(torch.float64)[None, :] * s[:, None]
        else:
            f = torch.exp(-math.log(self.emb_scale) * torch.arange(h, dtype=torch.float64) / h)
            a = f[None, :] * s[:, None]
        e = torch.cat([torch.sin(a), torch.cos(a)], dim=1).to(torch.float32)
        return self.emb_act(self.emb_lin(e))

    def forward(self, inputs, cond=None):
        h = self.embed(cond) if self.emb != "none" else None
        outs = [b(x, h) for b, x in zip(self.branches, inputs)]
        if self.fuse is None:
            return outs[0]
        return self.fuse(torch.cat(outs, dim=-1))


class UNet(nn.Module):
    """The U-Net of lib/unet.h (seed 001 B.2) from a checkpoint's header
    (unet.* attributes) and tensors; formats/checkpoint.md gives the
    computation.  Convolutions are periodic, kernel 3; GroupNorm eps 1e-5.

    forward(inputs, cond): inputs a tensor or a one-element list, channels
    last: 2-D (B, H, W, C_in), 1-D (B, W, C_in); cond (B,) the scalar the
    sinusoidal embedding takes (1000·λ for a PDD predictor).  Returns
    (B, H, W, C_out) or (B, W, C_out).  forward_cf does the same on channels
    first tensors.  Parameters are kept in torch's layouts (conv weights
    (cout, cin, 3[, 3]), transposed (cin, cout, 3[, 3])); .double() gives a
    float64 twin."""

    def __init__(self, hdr, tensors):
        super().__init__()
        if hdr.get("unet.version") != "1":
            raise ValueError(f"not a U-Net checkpoint of version 1 (unet.version={hdr.get('unet.version')})")
        self.dims = int(hdr["unet.dims"])
        self.cin, self.cout = int(hdr["unet.in"]), int(hdr["unet.out"])
        self.base = int(hdr["unet.base"])
        self.ch = [int(v) for v in hdr["unet.channels"].split(",")]
        self.nres, self.groups, self.heads = int(hdr["unet.nres"]), int(hdr["unet.groups"]), int(hdr["unet.heads"])
        self.emb_size, self.emb_period = int(hdr["unet.emb_size"]), float(hdr["unet.emb_period"])
        d2 = self.dims == 2
        self._names = []
        for name, a in tensors.items():
            t = torch.as_tensor(np.array(a, np.float32))
            if name.endswith(".w") and t.dim() == (4 if d2 else 3):
                if name.startswith("up"):    # (3, [3,] cout, cin) → (cin, cout, 3[, 3])
                    t = t.permute(3, 2, 0, 1) if d2 else t.permute(2, 1, 0)
                else:                        # (cout, 3, [3,] cin) → (cout, cin, 3[, 3])
                    t = t.permute(0, 3, 1, 2) if d2 else t.permute(0, 2, 1)
            self.register_parameter(name.replace(".", "_"), nn.Parameter(t.contiguous()))
            self._names.append(name)

    def _p(self, name):
        return getattr(self, name.replace(".", "_"))

    def _has(self, name):
        return hasattr(self, name.replace(".", "_"))

    def _conv(self, x, name, stride=1):
        x = nn.functional.pad(x, (1, 1, 1, 1) if self.dims == 2 else (1, 1), mode="circular")
        f = nn.functional.conv2d if self.dims == 2 else nn.functional.conv1d
        return f(x, self._p(name + ".w"), self._p(name + ".b"), stride=stride)

    def _conv_t(self, x, name):
        # Periodic transposed convolution: output point 2i + k − 1 (mod 2N)
        # receives input i through tap k; torch's unpadded one puts it at 2i + k,
        # 2N + 1 points, so fold the first point onto the last: q → (q − 1) mod 2N.
        f = nn.functional.conv_transpose2d if self.dims == 2 else nn.functional.conv_transpose1d
        y = f(x, self._p(name + ".w"), None, stride=2)
        for ax in ([2, 3] if self.dims == 2 else [2]):
            n = y.shape[ax] - 1
            pad = [0, 0] * (y.dim() - 1 - ax) + [n - 1, 0]
            y = y.narrow(ax, 1, n) + nn.functional.pad(y.narrow(ax, 0, 1), pad)
        return y + self._p(name + ".b").view(1, -1, *([1] * (y.dim() - 2)))

    def _gn(self, x, name):
        return nn.functional.group_norm(x, self.groups, self._p(name + ".g"), self._p(name + ".b"), eps=1e-5)

    def _res(self, x, name, h):
        F = nn.functional
        y = self._conv(F.silu(self._gn(x, name + ".gn1")), name + ".conv1")
        y = self._gn(y, name + ".gn2")
        ss = F.linear(h, self._p(name + ".film.w"), self._p(name + ".film.b"))
        co = y.shape[1]
        sh = (ss.shape[0], co) + (1,) * (y.dim() - 2)
        y = y * (1 + ss[:, :co].reshape(sh)) + ss[:, co:].reshape(sh)
        y = self._conv(F.silu(y), name + ".conv2")
        if self._has(name + ".skip.w"):
            w = self._p(name + ".skip.w")
            w = w.view(*w.shape, *([1] * (x.dim() - 2)))
            x = (F.conv2d if self.dims == 2 else F.conv1d)(x, w, self._p(name + ".skip.b"))
        return x + y

    def _attn(self, x, name):
        F = nn.functional
        B, C = x.shape[:2]
        H = self.heads
        d = C // H
        g = self._gn(x, name + ".gn").reshape(B, C, -1).transpose(1, 2)          # (B, N, C)
        qkv = F.linear(g, self._p(name + ".qkv.w"), self._p(name + ".qkv.b"))
        N = qkv.shape[1]
        q, k, v = (qkv[:, :, i * C:(i + 1) * C].reshape(B, N, H, d).transpose(1, 2) for i in range(3))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        o = F.linear((a @ v).transpose(1, 2).reshape(B, N, C), self._p(name + ".proj.w"), self._p(name + ".proj.b"))
        return x + o.transpose(1, 2).reshape(x.shape)

    def embed(self, s, dtype=torch.float32):
        # features in double, rounded to float (lib/nn.c nn_embed), then Swish(Linear)
        h = self.emb_size // 2
        f = torch.exp(-math.log(self.emb_period) * torch.arange(h, dtype=torch.float64) / h)
        a = s.to(torch.float32).to(torch.float64)[:, None] * f[None, :]
        e = torch.cat([torch.sin(a), torch.cos(a)], 1).to(torch.float32).to(dtype)
        return nn.functional.silu(nn.functional.linear(e, self._p("emb.lin.w"), self._p("emb.lin.b")))

    def forward_cf(self, x, s):
        L, nr = len(self.ch), self.nres
        h = self.embed(s, x.dtype)
        x = self._conv(x, "stem")
        skips = []
        for i in range(L + 1):
            if i > 0:
                x = self._conv(x, "down%d" % i, stride=2)
            for r in range(nr):
                x = self._res(x, "enc%d.%d" % (i, r), h)
            skips.append(x)
        x = self._res(x, "mid.res1", h)
        x = self._attn(x, "mid.attn")
        x = self._res(x, "mid.res2", h)
        for i in range(L, -1, -1):
            x = torch.cat([x, skips[i]], 1)
            for r in range(nr):
                x = self._res(x, "dec%d.%d" % (i, r), h)
            if i > 0:
                x = self._conv_t(x, "up%d" % i)
        return self._conv(nn.functional.silu(self._gn(x, "out.gn")), "out.conv")

    def forward(self, inputs, cond):
        x = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        x = torch.movedim(x, -1, 1)
        return torch.movedim(self.forward_cf(x, torch.as_tensor(cond)), 1, -1)


# The networks a PDD predictor may carry, by the checkpoint's first record
# name: a class taking (hdr, tensors) whose forward([(B, H, W, C_in) or
# (B, W, C_in)], cond) returns channels last.
NETWORKS = {"fno": FNO, "unet": UNet}


def _network(path):
    recs = tsr.read(path)
    kind = recs[0].name if recs else ""
    if kind not in NETWORKS:
        raise ValueError(f"{path}: network '{kind}' is not known to eddy.models (known: {', '.join(NETWORKS)})")
    hdr = recs[0].attrs
    tensors = {r.name: r.array for r in recs[1:] if not r.name.startswith("adam.")}
    return hdr, NETWORKS[kind](hdr, tensors)


def vesde_std(sigma0, t):
    """σ_t of the VE-SDE (lib/vesde.c): sqrt((σ0^{2t} − 1) / (2 ln σ0))."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return torch.sqrt(torch.expm1(2 * t * math.log(sigma0)) / (2 * math.log(sigma0)))


class PDDPredictor(nn.Module):
    """The PDD predictor f(window, λ) of pd-train (lib/pdd_net.h), objective pdd.

    window: (B, C·W, *grid) in standardised units, channel c·W + w holding
    channel c of frame n − (W−1) + w (w = W−1 is the current frame; frames
    before the path's start are zeros).  lam: float or (B,).  Returns the
    predicted standardised increment u_{n+1} − u_n, (B, C, *grid)."""

    def __init__(self, hdr, net):
        super().__init__()
        self.hdr, self.net = hdr, net
        self.dims = int(hdr["pdd.dims"])
        self.C = int(hdr["pdd.channels"])
        self.W = int(hdr["pdd.window"])
        self.objective = hdr.get("pdd.objective", "pdd")
        self.mean = [float(v) for v in hdr["pdd.mean"].split(",")]
        self.std = [float(v) for v in hdr["pdd.std"].split(",")]
        self.dt = float(hdr.get("pdd.dt", "1"))

    def forward(self, window, lam):
        B = window.shape[0]
        lam = torch.as_tensor(lam, dtype=torch.float64).expand(B) if torch.as_tensor(lam).dim() == 0 \
            else torch.as_tensor(lam, dtype=torch.float64)
        cond = (1000 * lam).to(torch.float32)    # the sinusoidal embedding of 1000·λ
        x = torch.movedim(window.to(torch.float32), 1, -1)
        return torch.movedim(self.net([x], cond), -1, 1)

    def windows(self, path):
        """All windows of a standardised path (T, C, *grid): (T, C·W, *grid)."""
        T = path.shape[0]
        pad = torch.cat([torch.zeros((self.W - 1,) + tuple(path.shape[1:]), dtype=path.dtype), path])
        win = torch.stack([pad[n:n + self.W] for n in range(T)])      # (T, W, C, *grid)
        return win.transpose(1, 2).reshape((T, self.C * self.W) + tuple(path.shape[2:]))

    def standardise(self, u):
        """Physical → standardised units, u (..., C, *grid)."""
        shape = (-1,) + (1,) * self.dims
        m = torch.tensor(self.mean, dtype=u.dtype).reshape(shape)
        s = torch.tensor(self.std, dtype=u.dtype).reshape(shape)
        return (u - m) / s


class ClosureScore(nn.Module):
    """The closure score model of fno-train (lib/closure_score.h).

    forward(x_t, t, V, Y=None): x_t, V, Y (B, H, W) in the network's scaled
    units (U·u_scale, V·v_scale, Y·u_scale); t (B,) or a float, the VE-SDE
    time.  Returns the score s = net([x_t·c_in(σ_t)], [V], [Y]; t) / σ_t, in
    the same units (a residual model's x_t is U − Y)."""

    def __init__(self, hdr, net):
        super().__init__()
        self.hdr, self.net = hdr, net
        self.sigma0 = float(hdr.get("closure.sigma0", "26"))
        self.sigma_data = float(hdr.get("closure.sigma_data", "0"))
        self.u_scale = float(hdr.get("closure.u_scale", "1"))
        self.v_scale = float(hdr.get("closure.v_scale", "1"))
        self.with_obs = hdr.get("closure.cond") == "v+obs"
        self.residual = hdr.get("closure.residual") == "1"

    def c_in(self, sigma):
        if self.sigma_data > 0:
            return 1 / torch.sqrt(sigma * sigma + self.sigma_data ** 2)
        return torch.ones_like(sigma)

    def forward(self, x_t, t, V, Y=None):
        B = x_t.shape[0]
        t = torch.as_tensor(t, dtype=torch.float32)
        t = t.expand(B) if t.dim() == 0 else t
        sigma = vesde_std(self.sigma0, t.to(torch.float64))           # (B,) double
        ci = self.c_in(sigma).to(torch.float32)
        x = x_t.to(torch.float32) * ci[:, None, None]
        ins = [x[..., None], V.to(torch.float32)[..., None]]
        if self.with_obs:
            ins.append(Y.to(torch.float32)[..., None])
        out = self.net(ins, t)[..., 0]
        return out * (1 / sigma).to(torch.float32)[:, None, None]


def load(path):
    """The model of a checkpoint as a module: PDDPredictor (kind pdd-model,
    objective pdd), ClosureScore (kind closure-score), else the bare network."""
    hdr, net = _network(path)
    kind = hdr.get("kind")
    if kind == "pdd-model":
        return PDDPredictor(hdr, net)
    if kind == "closure-score":
        return ClosureScore(hdr, net)
    return net
