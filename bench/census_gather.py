"""Gathered calls on a U-Net behind a PyTorch callable: the census (``ms.attractors`` with a
denoiser) of a 14×14 U-Net, its concurrent calls gathered into one batch per iteration
(``gather=256``) against one call per start and iteration (``gather=0``): wall time, calls, rows
per call, and the census counts of both.

The network is memscape's U-Net (base --base, multipliers 1,2), trained --steps steps on --k
MNIST images downscaled to 14×14, saved as a checkpoint and loaded into the reference PyTorch
module (``memscape.torch.load_checkpoint``), which computes in float32 on --device with
--threads threads. On a CPU the rows cost the same either way, so the gain is the per-call
overhead; on a GPU a 2-row call is a few kernel launches, so the gain is the batch.

Usage: python3 census_gather.py [--k 16] [--steps 300] [--base 8] [--samples 256] [--device cpu]
       [--threads 2] [--mnist ../../shared/data/mnist] [--out FILE]
Prints a table and one JSON line (appended to FILE with --out).
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np
import torch

import memscape as ms
from memscape.torch import TorchDenoiser, load_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--k", type=int, default=16)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--base", type=int, default=8)
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--mnist", default=os.path.join(HERE, "..", "..", "shared", "data", "mnist"))
    p.add_argument("--out")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    train, _ = ms.training_set(f"mnist:{a.mnist},downscale=2", a.k, holdout=0)
    t0 = time.perf_counter()
    net = ms.train_network(train, model="unet", steps=a.steps, image_shape=(14, 14), unet_base=a.base, unet_mults=[1, 2])
    train_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        net.save(os.path.join(tmp, "u.safetensors"))
        module, meta = load_checkpoint(os.path.join(tmp, "u.safetensors"), device=a.device)
    pre = meta["preconditioning"]
    den = TorchDenoiser(module, pre["parametrization"], sigma_data=pre["sigma_data"], image_shape=(1, 14, 14), device=a.device)
    sizes = []

    def counted(x, sigma):
        sizes.append(len(x))
        return den(x, sigma)

    sigma = 0.05 * float(np.sqrt((train**2).sum(1).mean()))
    rows = {}
    for gather in (256, 0):
        sizes.clear()
        t0 = time.perf_counter()
        census = ms.attractors(train, sigma=sigma, denoiser=counted, samples=a.samples, eigenvalues=4, recovery=0, gather=gather, seed=1)
        wall = time.perf_counter() - t0
        rows[gather] = dict(gather=gather, wall_s=round(wall, 2), calls=len(sizes), rows=sum(sizes),
                            rows_per_call=round(sum(sizes) / len(sizes), 1), max_rows=max(sizes),
                            counts=census.document["counts"])
    print(f"{'gather':>6} {'wall s':>8} {'calls':>7} {'rows':>8} {'rows/call':>10} {'max':>5}  counts")
    for r in rows.values():
        print(f"{r['gather']:>6} {r['wall_s']:>8} {r['calls']:>7} {r['rows']:>8} {r['rows_per_call']:>10} {r['max_rows']:>5}  {r['counts']}")
    line = json.dumps(dict(bench="census_gather", device=a.device, threads=a.threads, k=a.k, base=a.base, steps=a.steps,
                           train_s=round(train_s, 1), samples=a.samples, gathered=rows[256], alone=rows[0],
                           call_ratio=round(rows[0]["calls"] / rows[256]["calls"], 1),
                           speedup=round(rows[0]["wall_s"] / rows[256]["wall_s"], 2)))
    print(line)
    if a.out:
        with open(a.out, "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
