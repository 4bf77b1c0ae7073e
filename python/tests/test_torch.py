"""A PyTorch score network through memscape: wrapped as a denoiser, sampled, settled, classified
and its fixed points found. CI installs torch from PyPI and sets MEMSCAPE_REQUIRE_TORCH=1, so
these tests run there rather than skip."""

import os

import numpy as np
import pytest

import memscape as ms

if os.environ.get("MEMSCAPE_REQUIRE_TORCH"):
    import torch
else:
    torch = pytest.importorskip("torch")


def as_denoiser(module):
    """The three lines a user writes: NumPy float64 in, the module in float32, NumPy out."""

    def denoise(x, sigma):
        with torch.no_grad():
            return module(torch.from_numpy(x).float(), sigma).double().numpy()

    return denoise


class Hopfield(torch.nn.Module):
    """The exact denoiser of K patterns as a torch module: one modern-Hopfield (softmax
    attention) update, D(x) = softmax(−|x − ξ|²/2sigma²) ξ, in float32."""

    def __init__(self, patterns):
        super().__init__()
        self.register_buffer("xi", torch.tensor(patterns, dtype=torch.float32))

    def forward(self, x, sigma):
        logits = -torch.cdist(x, self.xi) ** 2 / (2 * sigma**2)
        return torch.softmax(logits, dim=1) @ self.xi


class ScoreMLP(torch.nn.Module):
    """A small EDM-preconditioned denoiser (Karras et al. 2022): D = c_skip x + c_out F(c_in x,
    ln(sigma)/4), with data std sigma_d."""

    def __init__(self, dim, width=64, sigma_d=1.0):
        super().__init__()
        self.sigma_d = sigma_d
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim + 1, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, width),
            torch.nn.SiLU(),
            torch.nn.Linear(width, dim),
        )

    def forward(self, x, sigma):
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1).expand(x.shape[0], 1)
        s2, d2 = sigma**2, self.sigma_d**2
        c_skip, c_out, c_in = d2 / (s2 + d2), sigma * self.sigma_d / (s2 + d2).sqrt(), 1 / (s2 + d2).sqrt()
        return c_skip * x + c_out * self.net(torch.cat([c_in * x, sigma.log() / 4], dim=1))


def test_a_torch_hopfield_module_memorizes_like_the_exact_model():
    train, _ = ms.training_set("circle:n=64", 8)
    denoise = as_denoiser(Hopfield(train).eval())
    samples = ms.sample(denoise, 400, dim=2, seed=0, steps=60, sigma_max=10.0, sigma_min=0.02)
    assert np.isfinite(samples).all()
    settled = ms.settle(denoise, samples, 0.02)
    assert settled.converged.mean() > 0.99
    c = ms.classify(train, settled.points)
    exact = ms.classify(train, ms.sample(ms.ExactDenoiser(train), 400, seed=0, steps=60, sigma_max=10.0, sigma_min=0.02))
    # K = 8 patterns at sigma = 0.02: every sample is a memory, in float32 as in float64
    assert c.fractions["memorized"].value >= 0.99
    assert exact.fractions["memorized"].value >= 0.99
    fp = ms.fixed_points(denoise, settled.points[:64], 0.02)
    assert 1 <= len(fp.points) <= 8
    for p in fp.points:
        assert np.min(np.linalg.norm(train - p.x, axis=1)) < 1e-3
        assert p.stability.index == 0
    # the torch module's Jacobian at a memory: contraction, as the exact model's
    ours = ms.stability(ms.ExactDenoiser(train), fp.points[0].x, 0.02)
    theirs = ms.stability(denoise, fp.points[0].x, 0.02)
    assert abs(theirs.gap - ours.gap) < 1e-2


def test_a_trained_torch_network_runs_end_to_end():
    torch.manual_seed(0)
    train, heldout = ms.training_set("circle:n=64", 4, holdout=40)
    net = ScoreMLP(2)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    x0 = torch.tensor(train, dtype=torch.float32)
    for _ in range(600):
        batch = x0[torch.randint(0, len(x0), (256,))]
        sigma = torch.exp(torch.empty(256).uniform_(np.log(0.01), np.log(10.0)))
        noisy = batch + sigma[:, None] * torch.randn_like(batch)
        weight = (sigma**2 + 1) / sigma**2  # EDM's loss weight for sigma_d = 1
        loss = (weight[:, None] * (net(noisy, sigma) - batch) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    denoise = as_denoiser(net)
    samples = ms.sample(denoise, 300, dim=2, seed=1, steps=60, sigma_max=10.0, sigma_min=0.02)
    c = ms.classify(train, samples, heldout=heldout)
    settled = ms.settle(denoise, samples, 0.02)
    total = sum(c.fractions[k].value for k in ["memorized", "spurious", "generalized", "off_support"])
    assert total == pytest.approx(1.0)
    # four well-separated points after 600 steps: the network has learnt them as attractors
    assert c.fractions["memorized"].value > 0.5, c.fractions
    fp = ms.fixed_points(denoise, settled.points[settled.converged][:32], 0.02)
    assert len(fp.points) >= 1
    assert all(p.residual < 1e-3 and p.stability is not None for p in fp.points)
    assert (fp.to_pandas()["index"] == 0).any()


def test_the_examples_held_out_points_are_in_no_training_set():
    """examples/python_torch.py classifies against held-out points that none of its training
    sets holds (asserted on the example's own sets)."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "python_torch.py"
    spec = importlib.util.spec_from_file_location("python_torch_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    sets = {k: example.data(k) for k in example.KS}
    for k, (_, heldout) in sets.items():
        assert len(heldout) >= 20, k
        held = {tuple(row) for row in heldout}
        for other, (train, _) in sets.items():
            assert not held & {tuple(row) for row in train}, (k, other)
