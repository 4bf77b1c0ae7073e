"""Your own PyTorch score network through memscape, end to end (about a minute on 2 CPU cores).

A small EDM-preconditioned MLP (Karras et al. 2022) is trained on K points of the unit circle
for each K below; each network is wrapped as a memscape denoiser in three lines and sampled; the
samples are classified against the training set (with held-out circle points, in no training
set, for the support gate), then settled at sigma_min, and the fixed points of the denoiser found from them and
classified by their stability.
The exact model of the same K points is run beside it. Put your own module and data in place
of `ScoreMLP` and the circle; move the module to your GPU and the wrapper's tensors with it.

Run: python3 examples/python_torch.py   (needs the memscape package, numpy, torch; pandas)
"""

import numpy as np
import torch

import memscape as ms

SIGMA_MAX, SIGMA_MIN = 10.0, 0.02


class ScoreMLP(torch.nn.Module):
    """D(x, sigma) = c_skip x + c_out F(c_in x, ln(sigma)/4), data std sigma_d (EDM)."""

    def __init__(self, dim, width=128, sigma_d=1.0):
        super().__init__()
        self.sigma_d = sigma_d
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim + 1, width), torch.nn.SiLU(),
            torch.nn.Linear(width, width), torch.nn.SiLU(),
            torch.nn.Linear(width, dim),
        )

    def forward(self, x, sigma):
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1).expand(x.shape[0], 1)
        s2, d2 = sigma**2, self.sigma_d**2
        c_skip, c_out, c_in = d2 / (s2 + d2), sigma * self.sigma_d / (s2 + d2).sqrt(), 1 / (s2 + d2).sqrt()
        return c_skip * x + c_out * self.net(torch.cat([c_in * x, sigma.log() / 4], dim=1))


def train(points, steps=3000, seed=0):
    torch.manual_seed(seed)
    net = ScoreMLP(points.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    x0 = torch.tensor(points, dtype=torch.float32)
    for _ in range(steps):
        batch = x0[torch.randint(0, len(x0), (256,))]
        sigma = torch.exp(torch.empty(256).uniform_(np.log(0.01), np.log(SIGMA_MAX)))
        noisy = batch + sigma[:, None] * torch.randn_like(batch)
        loss = (((sigma**2 + 1) / sigma**2)[:, None] * (net(noisy, sigma) - batch) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


#: The training-set sizes.
KS = [4, 16, 64, 256]


def data(k):
    """The training set of K circle points and the held-out points, the tail of the same
    permutation: in no training set (1000 points, as memscape map keeps)."""
    return ms.training_set("circle", k)


def main():
    rows = []
    for k in KS:
        train_set, heldout = data(k)
        net = train(train_set)

        def denoise(x, sigma):  # the three lines that wrap any torch module
            with torch.no_grad():
                return net(torch.from_numpy(x).float(), sigma).double().numpy()

        for name, model in [("exact", ms.ExactDenoiser(train_set)), ("torch mlp", denoise)]:
            samples = ms.sample(model, 1000, dim=2, seed=0, steps=100, sigma_max=SIGMA_MAX, sigma_min=SIGMA_MIN)
            # classify the samples themselves (as memscape map does); settle them to find the
            # attractors they sit in, and polish those into fixed points
            c = ms.classify(train_set, samples, heldout=heldout)
            settled = ms.settle(model, samples, SIGMA_MIN)
            fp = ms.fixed_points(model, settled.points[settled.converged][:200], SIGMA_MIN)
            table = fp.to_pandas()
            rows.append({
                "K": k, "model": name,
                **{cls: round(c.fractions[cls].value, 3) for cls in ["memorized", "spurious", "generalized", "off_support"]},
                "fixed points": len(fp.points), "stable": int((table["index"] == 0).sum()) if len(table) else 0,
            })
            print(rows[-1], flush=True)
    try:
        import pandas as pd

        print(pd.DataFrame(rows).to_string(index=False))
    except ImportError:
        pass


if __name__ == "__main__":
    main()
