"""Reference for the fixed-point bench: the same U-Net architecture in PyTorch (the anchor
`../shared/research/anchors/bench_unet_train.py`, base channels --ch, multipliers 1,2,2, eval
mode, f32, --threads threads), its per-evaluation costs, and SciPy's standard matrix-free
solvers on it: `scipy.optimize.newton_krylov` (finite-difference Jacobian-vector products,
LGMRES) for a zero of F(x) = x - D(x), and ARPACK's `eigs` (k = 10, which='LR') on the
Jacobian of D through `torch.func.jvp`.

D(x) = x - sigma * eps(x, t): an epsilon-parametrised denoiser at one noise level, as memscape's
networks are. The weights are PyTorch's random initialisation, not memscape's trained ones, so
iteration counts are context; the per-row and per-product times are what compare.

Usage: python3 fixed_point_torch.py [--res 14] [--ch 16] [--threads 2] [--sigma 0.2] --out FILE
Appends one JSON line to FILE.
"""
import argparse, json, os, sys, statistics, time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "research", "anchors"))
from bench_unet_train import UNet  # noqa: E402


def timed(f, reps=5):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--res", type=int, default=14)
    p.add_argument("--ch", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sigma", type=float, default=0.2)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = UNet(a.ch).eval()
    d = a.res * a.res
    t = torch.full((1,), 10, dtype=torch.long)

    def denoise(x):  # x: (n, d) float32 tensor
        with torch.no_grad():
            n = x.shape[0]
            return x - a.sigma * net(x.view(n, 1, a.res, a.res), t.expand(n)).view(n, d)

    def eps_flat(x):
        return x - a.sigma * net(x.view(1, 1, a.res, a.res), t).view(1, d)

    x0 = torch.rand(1, d) * 2 - 1
    v = torch.randn(1, d)
    row_s = timed(lambda: denoise(torch.cat([x0, x0])))
    jvp_s = timed(lambda: torch.func.jvp(eps_flat, (x0,), (v,)))

    calls = {"n": 0}

    def residual(x):
        calls["n"] += 1
        xt = torch.from_numpy(x.astype(np.float32)).view(1, d)
        return (xt - denoise(xt)).view(d).double().numpy()

    from scipy.optimize import newton_krylov
    from scipy.sparse.linalg import LinearOperator, eigs

    t0 = time.perf_counter()
    try:
        sol = newton_krylov(residual, x0.view(d).double().numpy(), method="lgmres", f_tol=1e-4, maxiter=50)
        nk_ok = True
    except Exception as e:  # NoConvergence: still timed
        sol, nk_ok = getattr(e, "args", [None])[0], False
    nk_s = time.perf_counter() - t0
    nk_calls = calls["n"]
    at = torch.from_numpy(np.asarray(sol, dtype=np.float32)).view(1, d) if sol is not None else x0
    products = {"n": 0}

    def matvec(w):
        products["n"] += 1
        wt = torch.from_numpy(np.asarray(w, dtype=np.float32).reshape(1, d))
        _, out = torch.func.jvp(lambda y: y - a.sigma * net(y.view(1, 1, a.res, a.res), t).view(1, d), (at,), (wt,))
        return out.detach().view(d).double().numpy()

    t0 = time.perf_counter()
    vals = eigs(LinearOperator((d, d), matvec=matvec, dtype=np.float64), k=10, which="LR", return_eigenvectors=False)
    eig_s = time.perf_counter() - t0
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        net(x0.view(1, 1, a.res, a.res), t)
    with open(a.out, "a") as f:
        f.write(json.dumps({
            "bench": "fixed_point", "framework": "torch " + torch.__version__ + ", scipy", "threads": a.threads,
            "res": a.res, "ch": a.ch, "fwd_gflop_per_image": fc.get_total_flops() / 1e9,
            "row_s": row_s / 2, "jvp_s": jvp_s,
            "newton_krylov_s": nk_s, "newton_krylov_calls": nk_calls, "newton_krylov_converged": nk_ok,
            "eigs_s": eig_s, "eigs_products": products["n"],
            "eigs_top": [float(np.real(v)) for v in sorted(vals, key=lambda z: -z.real)[:3]],
        }) + "\n")


if __name__ == "__main__":
    main()
