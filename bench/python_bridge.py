"""The Python bridge's cost, measured in one run (not a test):

1. the overhead of one Python-callback denoiser call against the native path, in µs, for a
   batch of 512 points in d = 784: the same sampling run (512 samples, one batch, S steps) with
   the built-in exact denoiser and with a Python callable wrapping it; the difference divided
   by the S calls is the bridge (copy in, GIL, call, checks, copy out). A trivial callable
   (identity) gives the bridge alone;
2. sampling throughput through a torch CPU module (an MLP denoiser, float32) wrapped as a
   memscape denoiser, against the same module in a plain PyTorch Euler–Maruyama loop with the
   same noise grid, both against the machine's float32 GEMM peak measured by torch here.

Run: python3 bench/python_bridge.py (needs the memscape package, numpy and torch installed:
scripts/test.sh leaves them in target/python-venv). Threads: torch and memscape use all cores.
"""

import statistics
import time

import numpy as np
import torch

import memscape as ms

N, D, K, STEPS, REPEATS = 512, 784, 256, 20, 9


def best(f, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def gemm_peak():
    """torch float32 GEMM FLOP/s on 2048² × 2048² (best of 5)."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    t, _ = best(lambda: a @ b)
    return 2 * 2048**3 / t


def callback_overhead():
    rng = np.random.default_rng(0)
    patterns = rng.normal(size=(K, D))
    exact = ms.ExactDenoiser(patterns, pruning="off")
    kw = dict(seed=0, steps=STEPS, sigma_max=10 * exact.scale, sigma_min=1e-2 * exact.scale, batch_size=N)
    native = best(lambda: ms.sample(exact, N, **kw))[0]
    wrapped = best(lambda: ms.sample(lambda x, s: exact.denoise(x, s), N, dim=D, **kw))[0]
    identity = best(lambda: ms.sample(lambda x, s: x, N, dim=D, **kw))[0]

    x = rng.normal(size=(N, D))
    call = best(lambda: exact.denoise(x, 1.0), 20)[0]
    copy = best(lambda: x.copy(), 50)[0]
    calls = STEPS  # one denoiser call per step, the last one to sigma = 0 included
    print(f"1. callback overhead, batch {N} × d {D} (exact denoiser of K = {K}, {STEPS} steps, best of {REPEATS})")
    print(f"   native sampling         {native * 1e3:8.2f} ms  ({native / calls * 1e6:8.0f} µs per step)")
    print(f"   through a callable      {wrapped * 1e3:8.2f} ms  ({wrapped / calls * 1e6:8.0f} µs per step)")
    print(f"   overhead per call       {(wrapped - native) / calls * 1e6:8.0f} µs  "
          f"({(wrapped - native) / native * 100:.1f}% of the native run)")
    print(f"   identity callable       {identity / calls * 1e6:8.0f} µs per step (bridge + the sampler's own step)")

    print(f"   one exact denoise call  {call * 1e6:8.0f} µs from Python (for scale)")
    print(f"   one copy of the batch   {copy * 1e6:8.0f} µs (numpy, {x.nbytes / 1e6:.1f} MB; the bridge copies it in and out)")
    return (wrapped - native) / calls


class MLP(torch.nn.Module):
    def __init__(self, dim, width=1024):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim + 1, width), torch.nn.SiLU(), torch.nn.Linear(width, width), torch.nn.SiLU(),
            torch.nn.Linear(width, dim))

    def forward(self, x, sigma):
        s = torch.full((x.shape[0], 1), float(np.log(sigma) / 4) if sigma > 0 else 0.0, dtype=x.dtype)
        return x / (1 + sigma**2) + self.net(torch.cat([x, s], dim=1))


def karras(sigma_max, sigma_min, n, rho=7.0):
    i = np.arange(n) / (n - 1)
    a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
    return list((a + i * (b - a)) ** rho) + [0.0]


def torch_loop(module, n, dim, sigmas, seed):
    """Euler–Maruyama on the reverse VE SDE, as memscape's sampler: y ← y + (1 − σ'²/σ²)(D − y)
    + √(σ² − σ'²) z, the last step to σ' = 0 without noise."""
    g = torch.Generator().manual_seed(seed)
    y = sigmas[0] * torch.randn(n, dim, generator=g)
    with torch.no_grad():
        for s, t in zip(sigmas[:-1], sigmas[1:]):
            d = module(y, s)
            y = y + (1 - t * t / (s * s)) * (d - y)
            if t > 0:
                y = y + (s * s - t * t) ** 0.5 * torch.randn(n, dim, generator=g)
    return y


def torch_throughput(peak):
    torch.manual_seed(0)
    module = MLP(D).eval()
    steps = 50
    sigmas = karras(80.0, 0.02, steps)

    def denoise(x, sigma):
        with torch.no_grad():
            return module(torch.from_numpy(x).float(), sigma).double().numpy()

    ours = best(lambda: ms.sample(denoise, N, dim=D, steps=steps, sigma_max=80.0, sigma_min=0.02, batch_size=N), 3)[0]
    plain = best(lambda: torch_loop(module, N, D, sigmas, 0), 3)[0]
    width = 1024
    flops = 2 * N * ((D + 1) * width + width * width + width * D) * steps
    print(f"2. sampling {N} samples in d = {D}, {steps} steps, through an MLP (width {width}, float32) on the CPU (best of 3)")
    print(f"   memscape.sample(callable)   {ours:7.3f} s  {N / ours:8.1f} samples/s  {flops / ours / 1e9:7.1f} GFLOP/s "
          f"({flops / ours / peak * 100:.0f}% of the GEMM peak)")
    print(f"   plain PyTorch loop          {plain:7.3f} s  {N / plain:8.1f} samples/s  {flops / plain / 1e9:7.1f} GFLOP/s "
          f"({flops / plain / peak * 100:.0f}% of the GEMM peak)")
    print(f"   ratio memscape / plain loop: {plain / ours:.2f} (throughput)")


if __name__ == "__main__":
    peak = gemm_peak()
    print(f"machine: torch {torch.__version__}, {torch.get_num_threads()} threads; float32 GEMM peak (2048³, torch) {peak / 1e9:.1f} GFLOP/s")
    callback_overhead()
    torch_throughput(peak)
