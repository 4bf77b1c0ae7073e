"""NumPy's exact empirical denoiser in float32 and float64, beside `cargo bench -p memscape
--bench denoiser`: the formula and data of ../shared/research/anchors/bench_denoiser.py
(N = 512 queries, d = 784, U[0,1) data, beta = 0.5), whose `make_np` it calls, with the arrays
in the dtype asked for. Appends one JSON record per K to --out, in the anchors' format.
Usage: python3 bench/denoiser_numpy.py --dtype float64 [--quick] [--reps R] [--out FILE]
"""
import argparse, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../shared/research/anchors"))
from common import set_threads, timeit, summary, gflops_from, env_info, emit  # noqa: E402
from bench_denoiser import make_np  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--dtype", choices=["float32", "float64"], default="float64")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--quick", action="store_true")
ap.add_argument("--out", default=None)
a = ap.parse_args()
set_threads("numpy", a.threads)
import numpy as np  # noqa: E402

N, d, beta = 512, 784, 0.5
Ks = [1000, 2000] if a.quick else [10_000, 60_000]
rng = np.random.default_rng(0)
X = rng.random((N, d)).astype(a.dtype)
P_all = rng.random((max(Ks), d)).astype(a.dtype)
for K in Ks:
    P = np.ascontiguousarray(P_all[:K])
    f = make_np(N, K, d, beta)
    ts = summary(timeit(lambda: f(X, P), warmup=2, reps=a.reps))
    flops = 4.0 * N * K * d
    emit({"bench": "denoiser", "lib": "numpy", "impl": f"numpy matmul+exp+matmul ({a.dtype})",
          "threads": a.threads, "shape": f"N={N} K={K} d={d} {a.dtype}", "flops": flops,
          "time_s": ts, "gflops": gflops_from(ts, flops), "env": env_info("numpy")}, a.out)
