#!/usr/bin/python3
"""The reference code's observation fill, measured on our test trajectories.

Dong, Chen & Wu's code turns the 16x16 observations G[::d, ::d] into a full
field by torch's bicubic F.interpolate to (N+1-d)^2 and a replicate pad to
N^2 (../shared/research/closure.md §2): not periodic, and with torch's default
align_corners=False the 16 values do not stay at their points.  This prints,
per term and grid, the D_Fro of that fill against the truth (closure-cond's
own periodic fill is the report's 'obs alone' row), with a 2.5-97.5 %
bootstrap interval over trajectories, for both align_corners settings.

With a second stream of the same trajectories coarsened the other way
(the default protocol's test set), also the relative L2 difference of each
term between the two coarsenings, per grid (align_corners column: '-').

  closure-reference-fill.py TEST.tsr BOOT [OTHER.tsr] > fill.tsv
  columns: kind term grid align_corners value lo hi
  (kind: fill, or coarsening with lo = hi = value)

With --rewrite, a closure-cond stream (channels U,V,Y; 16x16 observations)
is copied with Y replaced by the reference's fill of U's 16x16 values
(torch's default, align_corners=False), obs_fill=torch-bicubic: the data of
a model conditioned the reference's way (pipelines/closure-fill-ablation.sh).

  closure-reference-fill.py --rewrite IN.tsr OUT.tsr
"""
import sys

import numpy as np

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/tools/python")
from eddy import tsr  # noqa: E402


def cubic_weight(t, a=-0.75):
    # torch's cubic convolution kernel (Keys, a = -0.75)
    t = abs(t)
    if t <= 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return 0.0


def interp_matrix(n_in, n_out, align_corners):
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        s = o * (n_in - 1) / (n_out - 1) if align_corners else (o + 0.5) * n_in / n_out - 0.5
        i0 = int(np.floor(s))
        for k in range(i0 - 1, i0 + 3):   # indices clamped at the border, as torch
            m[o, min(max(k, 0), n_in - 1)] += cubic_weight(s - k)
    return m


def reference_fill(u, align_corners=False):
    """u: (frames, N, N) -> the fill of u[:, ::d, ::d], d = N / 16."""
    n = u.shape[-1]
    d = n // 16
    m = interp_matrix(16, n + 1 - d, align_corners)
    f = np.einsum("ij,tjk,lk->til", m, u[:, ::d, ::d], m)
    return np.pad(f, ((0, 0), (0, d - 1), (0, d - 1)), mode="edge")


def rewrite(src, dst):
    out = []
    for r in tsr.read(src):
        a = r.array
        if r.attrs.get("channels") != "U,V,Y" or r.attrs.get("obs_n") != "16":
            sys.exit(f"{src}: record {r.name}: not a closure-cond stream with 16x16 observations")
        a = a.copy()
        a[..., 2] = reference_fill(a[..., 0].astype(np.float64)).astype(a.dtype)
        attrs = dict(r.attrs)
        attrs["obs_fill"] = "torch-bicubic"
        out.append(tsr.Record(r.name, a, attrs))
    tsr.write(dst, out)


def main():
    if sys.argv[1] == "--rewrite":
        rewrite(sys.argv[2], sys.argv[3])
        return
    path, boot = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(13)
    other = tsr.read(sys.argv[3]) if len(sys.argv) > 3 else None
    for term in ("G", "H"):
        by_grid = {}
        for r in tsr.read(path):
            if r.name == term:
                by_grid.setdefault(r.array.shape[-1], []).append(r.array.astype(np.float64))
        for n, trajs in sorted(by_grid.items()):
            for align in (False, True):
                per_traj = []
                for u in trajs:
                    f = reference_fill(u, align)
                    e = np.linalg.norm((u - f).reshape(len(u), -1), axis=1) / \
                        np.linalg.norm(u.reshape(len(u), -1), axis=1)
                    per_traj.append(e)
                per_traj = np.array(per_traj)       # trajectories x frames
                k = len(per_traj)
                reps = [per_traj[rng.integers(0, k, k)].mean() for _ in range(boot)]
                lo, hi = np.percentile(reps, [2.5, 97.5])
                print(f"fill\t{term}\t{n}\t{str(align).lower()}\t{per_traj.mean():.6f}\t{lo:.6f}\t{hi:.6f}")
        if other:
            for n, trajs in sorted(by_grid.items()):
                b = [r.array.astype(np.float64) for r in other if r.name == term and r.array.shape[-1] == n]
                a = np.concatenate(trajs)
                v = np.linalg.norm(a - np.concatenate(b)) / np.linalg.norm(a)
                print(f"coarsening\t{term}\t{n}\t-\t{v:.3e}\t{v:.3e}\t{v:.3e}")


if __name__ == "__main__":
    main()
