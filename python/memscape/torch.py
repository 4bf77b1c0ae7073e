"""memscape's PyTorch side: any ``torch.nn.Module`` as a memscape denoiser, and memscape's own
networks as PyTorch modules whose state dicts are memscape checkpoints.

Importing it imports torch (``import memscape`` alone does not).

- :class:`TorchDenoiser` turns a module with a chosen preconditioning (``"edm"``,
  ``"epsilon"`` or ``"raw"``) into a denoiser ``denoise(x, sigma)`` on its device, in float32 or
  float64: every memscape call and study takes it (``ms.sample``, ``ms.map(models=…)``,
  ``ms.dynamics(checkpoints=…)``, ``ms.attractors(denoiser=…)``).
- :class:`MLP` is memscape's MLP score network and :class:`UNet` the reference U-Net whose
  layout memscape's U-Net shares (``../shared/research/anchors/bench_unet_train.py``);
  :func:`save_checkpoint` writes either as a memscape checkpoint and :func:`load_checkpoint`
  reads one back, so networks trained in PyTorch run through ``memscape dynamics
  --checkpoints DIR`` and memscape's own checkpoints load into PyTorch.

The preconditioning is EDM's (Karras et al. 2022, Table 1), as memscape's networks use it::

    D(x, sigma) = c_skip x + c_out F(c_in x, c_noise),  c_in = 1/sqrt(sigma² + sigma_data²),
    c_noise = ln(sigma)/4
    edm:      c_skip = sigma_data²/(sigma² + sigma_data²), c_out = sigma sigma_data/sqrt(sigma² + sigma_data²)
    epsilon:  c_skip = 1, c_out = -sigma   (F predicts the noise)
    raw:      D = F(x, sigma)              (the module is the denoiser)

The README's "Studies on your own models" gives the recipe: train in PyTorch on a GPU, save
checkpoints at log-spaced steps with :func:`save_checkpoint` in the folder layout
(``K{K}/train.npy``, ``K{K}/seed{S}/step_{N}.safetensors``, ``heldout.npy``), then
``ms.dynamics(checkpoints="DIR")`` or ``memscape dynamics --checkpoints DIR``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import ScoreNetwork

__all__ = ["TorchDenoiser", "MLP", "UNet", "save_checkpoint", "load_checkpoint"]

PRECONDITIONINGS = ("edm", "epsilon", "raw")


class TorchDenoiser:
    """A ``torch.nn.Module`` as a memscape denoiser: ``denoiser(x, sigma)`` takes an (n, d)
    float64 NumPy array and a noise level and returns D(x, sigma) as one, computing on
    ``device`` in ``dtype`` (float32 or float64) under ``torch.no_grad`` with the module in eval
    mode. The module is called as ``module(c_in x, c_noise)`` with c_noise = ln(sigma)/4 per row
    (``noise`` maps the (n,) sigma tensor to another conditioning, e.g. ``lambda s: 1000 *
    torch.log(s) / 4``), or as ``module(x, sigma)`` with ``preconditioning="raw"``. With
    ``image_shape`` (C, H, W) the rows are reshaped into images for the module and back.
    ``precision`` tells memscape's settling and Newton tolerances the arithmetic. As
    ``module.to(device, dtype).eval()`` does, the module itself is moved, cast and put in eval
    mode: wrap a copy to keep training the original."""

    def __init__(
        self,
        module: nn.Module,
        preconditioning: str = "epsilon",
        *,
        sigma_data: float = 1.0,
        device: Optional[Any] = None,
        dtype: torch.dtype = torch.float32,
        image_shape: Optional[Sequence[int]] = None,
        noise: Optional[Any] = None,
    ):
        if preconditioning not in PRECONDITIONINGS:
            raise ValueError(f"preconditioning must be one of {', '.join(PRECONDITIONINGS)}, got {preconditioning!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
        if not (sigma_data > 0 and math.isfinite(sigma_data)):
            raise ValueError(f"sigma_data must be > 0 and finite, got {sigma_data}")
        if device is None:
            device = next(iter(module.parameters()), torch.empty(0)).device
        self.device = torch.device(device)
        self.dtype = dtype
        self.module = module.to(device=self.device, dtype=dtype).eval()
        self.preconditioning = preconditioning
        self.sigma_data = float(sigma_data)
        self.image_shape = None if image_shape is None else tuple(int(v) for v in image_shape)
        self.noise = noise
        self.precision = "float64" if dtype == torch.float64 else "float32"

    def __call__(self, x: np.ndarray, sigma: float) -> np.ndarray:
        n = x.shape[0]
        with torch.no_grad():
            xt = torch.as_tensor(np.asarray(x), device=self.device).to(self.dtype)
            s = torch.full((n,), float(sigma), device=self.device, dtype=self.dtype)
            shaped = xt if self.image_shape is None else xt.reshape(n, *self.image_shape)
            if self.preconditioning == "raw":
                out = self.module(shaped, s)
            else:
                s2, d2 = float(sigma) ** 2, self.sigma_data**2
                c_in = 1.0 / math.sqrt(s2 + d2)
                if self.preconditioning == "edm":
                    c_skip, c_out = d2 / (s2 + d2), float(sigma) * self.sigma_data / math.sqrt(s2 + d2)
                else:
                    c_skip, c_out = 1.0, -float(sigma)
                cond = torch.log(s) / 4 if self.noise is None else self.noise(s)
                out = c_skip * shaped + c_out * self.module(c_in * shaped, cond)
            return out.reshape(n, -1).to(torch.float64).cpu().numpy()

    def __repr__(self) -> str:
        return f"TorchDenoiser({type(self.module).__name__}, {self.preconditioning}, {self.device}, {self.precision})"


class _Fourier(nn.Module):
    """The fixed random frequencies of the noise embedding (a buffer, so the state dict names it
    ``fourier.frequencies`` as memscape's checkpoints do)."""

    def __init__(self, count: int, scale: float):
        super().__init__()
        self.register_buffer("frequencies", torch.randn(count) * scale)


class MLP(nn.Module):
    """memscape's MLP score network ``F(u, c_noise)`` (``memscape_train::mlp``): the input
    joined to random Fourier features of the noise level, [u, cos(2π f c_noise), sin(2π f
    c_noise)], then ``depth`` hidden layers of ``width`` with SiLU, then a linear layer to ``dim``.
    Its state dict (``layers.{i}.weight``/``bias``, ``fourier.frequencies``) is a memscape MLP
    checkpoint's tensors. Defaults: Pham et al.'s toy size (``MlpConfig::toy``)."""

    def __init__(self, dim: int, width: int = 160, depth: int = 4, fourier_features: int = 64, fourier_scale: float = 1.0):
        super().__init__()
        self.config = dict(dim=dim, width=width, depth=depth, fourier_features=fourier_features, fourier_scale=fourier_scale)
        self.fourier = _Fourier(fourier_features, fourier_scale)
        sizes = [dim + 2 * fourier_features] + [width] * depth + [dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, u: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        c = torch.as_tensor(c_noise, dtype=u.dtype, device=u.device).reshape(-1, 1).expand(u.shape[0], 1)
        turn = 2 * math.pi * c * self.fourier.frequencies.to(u.dtype)[None, :]
        h = torch.cat([u, torch.cos(turn), torch.sin(turn)], dim=1)
        for layer in self.layers[:-1]:
            h = F.silu(layer(h))
        return self.layers[-1](h)


def _timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=t.dtype, device=t.device) / half)
    args = t[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, groups: int, dropout: float):
        super().__init__()
        self.n1 = nn.GroupNorm(groups, cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout)
        self.n2 = nn.GroupNorm(groups, cout)
        self.drop = nn.Dropout(dropout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.t(F.silu(temb))[:, :, None, None]
        h = self.c2(self.drop(F.silu(self.n2(h))))
        return self.skip(x) + h


class _Attn(nn.Module):
    def __init__(self, c: int, groups: int):
        super().__init__()
        self.n = nn.GroupNorm(groups, c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)
        self.out = nn.Conv2d(c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.n(x)).reshape(b, 3, c, h * w).unbind(1)
        a = torch.softmax(q.transpose(1, 2) @ k / math.sqrt(c), dim=-1)
        return x + self.out((v @ a.transpose(1, 2)).reshape(b, c, h, w))


class UNet(nn.Module):
    """The reference DDPM U-Net (Ho et al. 2020, scaled down as the anchor
    ``bench_unet_train.py``'s ``UNet``): one residual block per level with GroupNorm, SiLU and
    the noise embedding, strided-conv down- and nearest-plus-conv upsampling with skips, self
    attention in the middle. memscape's U-Net (``memscape-unet/1``) shares its layout and
    tensor names. ``forward(x, c_noise)`` takes images (n, C, H, W) and c_noise = ln(sigma)/4,
    embedded as the anchor embeds t = 1000 c_noise."""

    def __init__(self, channels: int, height: int, width: int, base: int = 32, mults: Sequence[int] = (1, 2, 2), groups: int = 8, dropout: float = 0.0):
        super().__init__()
        self.config = dict(channels=channels, height=height, width=width, base=base, mults=list(mults), blocks=1, groups=groups)
        temb = 4 * base
        self.ch = base
        self.temb = nn.Sequential(nn.Linear(base, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.inc = nn.Conv2d(channels, base, 3, padding=1)
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        chans, c = [base], base
        for i, m in enumerate(mults):
            self.down.append(_ResBlock(c, base * m, temb, groups, dropout))
            c = base * m
            chans.append(c)
            self.downsample.append(nn.Conv2d(c, c, 3, stride=2, padding=1) if i < len(mults) - 1 else nn.Identity())
        self.mid1, self.mid_attn, self.mid2 = _ResBlock(c, c, temb, groups, dropout), _Attn(c, groups), _ResBlock(c, c, temb, groups, dropout)
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for i, m in reversed(list(enumerate(mults))):
            self.up.append(_ResBlock(c + chans.pop(), base * m, temb, groups, dropout))
            c = base * m
            self.upsample.append(nn.Conv2d(c, c, 3, padding=1) if i > 0 else nn.Identity())
        self.outn = nn.GroupNorm(groups, c)
        self.outc = nn.Conv2d(c, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        t = 1000 * torch.as_tensor(c_noise, dtype=x.dtype, device=x.device).reshape(-1).expand(x.shape[0])
        temb = self.temb(_timestep_embedding(t, self.ch))
        h = self.inc(x)
        skips = [h]
        for blk, ds in zip(self.down, self.downsample):
            h = blk(h, temb)
            skips.append(h)
            if not isinstance(ds, nn.Identity):
                h = ds(h)
        h = self.mid2(self.mid_attn(self.mid1(h, temb)), temb)
        for blk, us in zip(self.up, self.upsample):
            s = skips.pop()
            if h.shape[-1] != s.shape[-1] or h.shape[-2] != s.shape[-2]:
                h = F.interpolate(h, size=s.shape[-2:], mode="nearest")
            h = blk(torch.cat([h, s], 1), temb)
            if not isinstance(us, nn.Identity):
                h = us(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.outc(F.silu(self.outn(h)))


def save_checkpoint(
    module: nn.Module,
    path: Any,
    *,
    preconditioning: str = "epsilon",
    sigma_data: float = 1.0,
    step: int = 0,
    ema: bool = False,
    training: Optional[Dict[str, Any]] = None,
) -> ScoreNetwork:
    """Writes an :class:`MLP` or :class:`UNet` as a memscape checkpoint (``memscape-mlp/1`` or
    ``memscape-unet/1`` safetensors, atomically; parent folders are made) with its
    preconditioning (``"edm"`` or ``"epsilon"``) and training step, and returns it as the
    :class:`memscape.ScoreNetwork` memscape reads back."""
    if preconditioning not in ("edm", "epsilon"):
        raise ValueError(f"preconditioning must be edm or epsilon (a checkpoint's network is preconditioned), got {preconditioning!r}")
    if isinstance(module, MLP):
        meta = {"format": "memscape-mlp/1", "mlp": module.config}
    elif isinstance(module, UNet):
        meta = {"format": "memscape-unet/1", "unet": module.config}
    else:
        raise TypeError(f"module must be a memscape.torch.MLP or UNet (the layouts memscape's checkpoints hold), got {type(module).__name__}")
    meta.update(
        preconditioning={"sigma_data": float(sigma_data), "parametrization": preconditioning},
        step=int(step),
        ema=bool(ema),
        training=training or {"source": "memscape.torch.save_checkpoint"},
    )
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous().numpy() for k, v in module.state_dict().items()}
    network = ScoreNetwork.from_tensors(tensors, json.dumps(meta))
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    network.save(os.fspath(path))
    return network


def load_checkpoint(path: Any, device: Optional[Any] = None) -> Tuple[nn.Module, Dict[str, Any]]:
    """Reads a memscape checkpoint (``memscape train``, ``map``, ``dynamics
    --save-checkpoints`` or :func:`save_checkpoint`) into an :class:`MLP` or :class:`UNet` (eval
    mode, float32, on ``device``), with its metadata (format, network shape, preconditioning,
    step). Wrap it with ``TorchDenoiser(module, meta["preconditioning"]["parametrization"],
    sigma_data=meta["preconditioning"]["sigma_data"])``."""
    network = ScoreNetwork.load(os.fspath(path))
    meta = json.loads(network.meta)
    if "mlp" in meta:
        module: nn.Module = MLP(**meta["mlp"])
    else:
        u = dict(meta["unet"])
        if u.pop("blocks") != 1:
            raise ValueError(f"{os.fspath(path)}: the reference U-Net has one block per level, this checkpoint's has {meta['unet']['blocks']}")
        module = UNet(**u)
    state = {k: torch.from_numpy(np.array(v)) for k, v in network.tensors().items()}
    module.load_state_dict(state, strict=True)
    return module.to(device or "cpu").eval(), meta
