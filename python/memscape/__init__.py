"""memscape from Python: how diffusion models pass from memorization to generalization, seen as
associative memories.

The numerical work runs in Rust (the ``memscape`` library, the same code as the command line)
with the GIL released; NumPy arrays go in and come out. A *denoiser* is either the built-in
:class:`ExactDenoiser` (the exact empirical model: one modern-Hopfield update) or **any Python
callable** ``denoise(x, sigma) -> array`` mapping an (n, d) float64 array and a noise level to
the posterior mean ``E[x0 | x]`` in VE coordinates (``x = x0 + sigma z``). Wrap a PyTorch model::

    net = MyScoreNet().eval()
    def denoise(x, sigma):
        with torch.no_grad():
            return net(torch.from_numpy(x).float(), sigma).double().numpy()
    samples = memscape.sample(denoise, 1000, dim=2, sigma_max=20.0, sigma_min=0.04)

Conventions (sigma, beta = 1/sigma², the four classes of a sample) are those of the command
line; see the repository's README and docs. Bad arguments raise ``ValueError`` (``TypeError``
for a wrong kind of object, ``FileNotFoundError`` for a missing file) whose message names the
parameter, the rule and the value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, Union

import numpy as np

from . import _memscape
from ._memscape import ExactDenoiser, ScoreNetwork, __version__

__all__ = [
    "ExactDenoiser",
    "ScoreNetwork",
    "train_network",
    "Dataset",
    "dataset",
    "training_set",
    "sample",
    "Settled",
    "settle",
    "Stability",
    "FixedPoint",
    "FixedPoints",
    "fixed_points",
    "stability",
    "Landscape",
    "landscape",
    "attractors",
    "bifurcate",
    "hopfield",
    "Estimate",
    "Classification",
    "classify",
    "Capacities",
    "capacities",
    "MapResult",
    "map",
    "DynamicsResult",
    "dynamics",
    "sweep",
    "sweep_status",
    "sweep_collect",
    "Run",
    "read_run",
    "set_progress",
    "show_progress",
    "__version__",
]

#: A denoiser: the built-in exact one, a memscape-trained network, or any callable
#: ``denoise(x: (n, d) float64 array, sigma) -> (n, d)``.
Denoiser = Union[ExactDenoiser, ScoreNetwork, Callable[[np.ndarray, float], Any]]

#: The options, as editors offer them (the command line's flag values).
Sampler = Literal["em", "ddim", "heun"]
Process = Literal["ve", "vp", "vp-cosine"]
Spacing = Literal["karras", "geometric", "linear-t"]
Model = Literal["exact", "mlp", "unet"]
Network = Literal["mlp", "unet"]
SettleMethod = Literal["auto", "unit", "flow"]

#: The studies' defaults, as the library states them once (``MAP_DEFAULTS``, ``SAMPLER_DEFAULTS``,
#: ``DYNAMICS_DEFAULTS``, the requests' ``Default``) and the command line's flags read them too.
_DEFAULTS = json.loads(_memscape.defaults())
_MAP, _SAMPLER, _LANDSCAPE = _DEFAULTS["map"], _DEFAULTS["sampler"], _DEFAULTS["landscape"]
_DYNAMICS, _CLASSIFY = _DEFAULTS["dynamics"], _DEFAULTS["classify"]
_EXACT, _BIFURCATE, _HOPFIELD = _DEFAULTS["exact_landscape"], _DEFAULTS["bifurcate"], _DEFAULTS["hopfield"]

#: Rows per denoiser call, in every call that evaluates a denoiser (``batch_size``): chunks of
#: a larger call go to the model one after another, which changes no result.
BATCH_SIZE: int = _SAMPLER["batch_size"]
#: Threads over which the census, settling, Newton–Krylov and Arnoldi gather a Python
#: callable's calls: every start runs on its own thread and their concurrent calls reach the
#: callable as one call per iteration (``memscape::denoiser::gather``), so a GPU model sees
#: hundreds of rows per call rather than 2. ``gather=0`` calls it once per start and
#: iteration. Results are the same either way for a model whose rows do not depend on each
#: other.
GATHER: int = 256

#: ``memscape map``'s default K list: log-spaced from 2 to 1000.
DEFAULT_KS: Tuple[int, ...] = tuple(_MAP["ks"])


def _array(x: Any, name: str) -> np.ndarray:
    """``x`` as a NumPy array of real numbers: a torch tensor (on any device) is copied to the
    CPU; lists and NumPy arrays of any real dtype are read as they are."""
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be an array of real numbers, got {type(x).__name__}: {e}") from None
    if a.dtype.kind not in "fiu":
        raise ValueError(
            f"{name} must be an array of real numbers, got an array of dtype {a.dtype} and shape {a.shape}"
        )
    return a


def _matrix(x: Any, name: str) -> np.ndarray:
    """``x`` as a C-contiguous float64 (n, d) array, the package's one rule for points: any
    array-like of real numbers (NumPy of any real dtype, nested lists, a torch tensor on any
    device); an image stack N×H×W or N×C×H×W is flattened to N rows. No copy when ``x`` is
    already such an array."""
    a = _array(x, name)
    if a.ndim in (3, 4):
        a = a.reshape(a.shape[0], -1)
    if a.ndim != 2:
        raise ValueError(
            f"{name} must be an (n, d) array of numbers (or an image stack N×H×W or N×C×H×W), "
            f"got an array of shape {a.shape} and dtype {a.dtype}"
        )
    return np.ascontiguousarray(a, dtype=np.float64)


def _spec(data: Any, name: str = "data") -> str:
    """A dataset spec: a string (``circle``, ``mnist:DIR``, a ``.npy`` path) or a path."""
    if isinstance(data, (str, os.PathLike)):
        return os.fspath(data)
    shape = f" of shape {data.shape}" if hasattr(data, "shape") else ""
    raise TypeError(
        f'{name} must be a dataset spec such as "circle", "gmm:d=4,n=300", "mnist:DIR" or a '
        f".npy/.npz/.csv path (save your own points with numpy.save), got {type(data).__name__}{shape}"
    )


def _command(study: str, **arguments: Any) -> List[str]:
    """How a run directory written from Python records the call that made it (its manifest's
    ``command``): the study and the arguments that name what was run."""
    shown = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in arguments.items()}
    return [f"memscape.{study}"] + [f"{k}={v!r}" for k, v in shown.items() if v is not None]


def _warn(message: str) -> None:
    """A RuntimeWarning pointing at the caller of the public function."""
    import warnings

    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _vector(x: Any, name: str) -> np.ndarray:
    """One point, (d,), by the rule of :func:`_matrix`."""
    a = _array(x, name)
    if a.ndim != 1:
        raise ValueError(
            f"{name} must be a point, a 1-D array, got an array of shape {a.shape} and dtype {a.dtype}"
        )
    return np.ascontiguousarray(a, dtype=np.float64)


def _denoiser(value: Any) -> Any:
    """A denoiser argument: a checkpoint path is loaded as a :class:`ScoreNetwork`."""
    if isinstance(value, (str, os.PathLike)):
        return ScoreNetwork.load(os.fspath(value))
    return value


def _sets(
    training_sets: Any, heldout: Any
) -> Tuple[Dict[int, np.ndarray], Optional[np.ndarray], Optional[Tuple[int, int]]]:
    """Training sets ``{K: array}`` and held-out points as float64 rows; image stacks
    ((n, H, W) or (n, C, H, W)) are flattened, and their (H, W) returned."""
    if not hasattr(training_sets, "items"):
        raise TypeError(f"training_sets must be a dict {{K: array}}, got {type(training_sets).__name__}")
    shapes = set()

    def rows(x: Any, name: str) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64)
        if a.ndim in (3, 4):
            shapes.add(a.shape[-2:])
            a = a.reshape(a.shape[0], -1)
        if a.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array (rows are points) or an image stack, got shape {a.shape}")
        return np.ascontiguousarray(a)

    sets = {int(k): rows(v, f"training_sets[{k}]") for k, v in training_sets.items()}
    held = None if heldout is None else rows(heldout, "heldout")
    if len(shapes) > 1:
        raise ValueError(f"training_sets must hold images of one shape, got {sorted(shapes)}")
    return sets, held, (tuple(int(v) for v in shapes.pop()) if shapes else None)


def _threshold(value: Union[str, float], name: str) -> str:
    """A threshold as the library parses it: "auto", "calibrated[:q]" or a distance (checked
    there, the error naming ``name``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f'{name} must be a number > 0, "auto" or "calibrated[:q]", got {value!r}')
    return repr(float(value))


# ---------------------------------------------------------------------------------------------
# data


@dataclass
class Dataset:
    """A dataset loaded by spec: ``points`` (N × d), class ``labels`` where the source has
    them, and ``image_shape`` (height, width) for images."""

    points: np.ndarray
    labels: Optional[np.ndarray]
    image_shape: Optional[Tuple[int, int]]


def dataset(spec: str) -> Dataset:
    """Loads a dataset by spec, as ``--data`` takes it: ``circle``, ``circle:n=64``,
    ``gmm:d=4,n=300``, ``mnist:PATH,downscale=2``, ``digits:PATH``, a ``.npy``/``.npz``/``.csv``
    file, ..."""
    points, labels, shape = _memscape.load_dataset(_spec(spec, "spec"))
    return Dataset(points, labels, shape)


def training_set(
    spec: str, k: int, *, holdout: Optional[int] = None, subset_seed: int = 42
) -> Tuple[np.ndarray, np.ndarray]:
    """The training set of K patterns and the held-out points, as ``memscape sample`` and
    ``map`` take them: the first K of a permutation seeded by ``subset_seed`` (nested across K),
    the last ``holdout`` points kept aside, never in any training set of that permutation.
    ``holdout`` defaults to ``map``'s: min(1000, the points left after K), or none when fewer
    than 20 are left; 0 keeps none. Returns ``(train, heldout)``."""
    return _memscape.training_set(_spec(spec, "spec"), k, holdout, subset_seed)


def train_network(
    points: Any,
    *,
    model: Network = "mlp",
    steps: int = 4000,
    image_shape: Optional[Tuple[int, int]] = None,
    **config: Any,
) -> ScoreNetwork:
    """Trains memscape's own score network on ``points`` (K × d), as ``memscape train``:
    ``model`` "mlp" (any data) or "unet" (images of ``image_shape`` (height, width)), for
    ``steps`` Adam steps; any other ``TrainConfig`` field as a keyword (``width``, ``depth``,
    ``batch_size``, ``lr``, ``dropout``, ``weight_decay``, ``ema``, ``seed``, ...). The result is a
    built-in denoiser: pass it to :func:`sample`, :func:`settle`, :func:`fixed_points`;
    ``save``/``ScoreNetwork.load`` read and write the command line's checkpoints. An image stack
    N×H×W or N×C×H×W gives ``image_shape`` (H, W) itself."""
    a = _array(points, "points")
    if image_shape is None and a.ndim in (3, 4):
        image_shape = (int(a.shape[-2]), int(a.shape[-1]))
    return _memscape.train_network(
        _matrix(a, "points"), model=model, steps=steps, image_shape=image_shape, config=json.dumps(config)
    )


# ---------------------------------------------------------------------------------------------
# sampling and settling


def sample(
    denoiser: Denoiser,
    n: int,
    *,
    dim: Optional[int] = None,
    seed: int = _SAMPLER["seed"],
    steps: int = _SAMPLER["steps"],
    sigma_min: Optional[float] = None,
    sigma_max: Optional[float] = None,
    sampler: Sampler = _SAMPLER["sampler"],
    eta: float = _SAMPLER["eta"],
    process: Process = _SAMPLER["process"],
    spacing: Spacing = _SAMPLER["spacing"],
    batch_size: int = BATCH_SIZE,
    final_denoise: bool = True,
) -> np.ndarray:
    """Draws ``n`` samples (n × d) with the reverse-time sampler, as ``memscape sample``.

    ``sampler``: ``em`` (Euler–Maruyama on the reverse SDE), ``ddim`` (with ``eta`` in [0, 1])
    or ``heun`` (probability-flow ODE). ``process``: ``ve``, ``vp`` or ``vp-cosine``.
    ``spacing``: ``karras`` (rho = 7), ``geometric`` or ``linear-t``. Sample i uses ChaCha
    stream i of ``seed``, so results do not depend on ``batch_size`` (rows per denoiser call).

    For an :class:`ExactDenoiser` the noise range defaults to 10 × and 1e-3 × the patterns' RMS
    norm; a built-in denoiser knows ``dim``. A :class:`ScoreNetwork` needs ``sigma_max`` and
    ``sigma_min``; a callable needs ``dim``, ``sigma_max`` and ``sigma_min``.
    With ``final_denoise`` the samples are ``D(y, sigma_min)``.
    """
    return _memscape.sample(
        denoiser,
        n,
        dim=dim,
        seed=seed,
        steps=steps,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        sampler=sampler,
        eta=eta,
        process=process,
        spacing=spacing,
        batch_size=batch_size,
        final_denoise=final_denoise,
    )


@dataclass
class Settled:
    """Where points ended: ``points``; each one's ``status`` ("converged": |x − D(x)| below the
    tolerance; "neutral": on a near-neutral set, a continuum of near-fixed points along which
    it only drifts; "unconverged"; "non_finite"); ``converged``, True where the status is
    converged or neutral; the most ``iterations`` any point ran; and the denoiser rows each
    spent (``evaluations``)."""

    points: np.ndarray
    status: List[str]
    converged: np.ndarray
    iterations: int
    evaluations: np.ndarray
    #: Points neither converged nor neutral.
    unconverged: int = 0


def settle(
    denoiser: Denoiser,
    x: Any,
    sigma: float,
    *,
    method: SettleMethod = "auto",
    tolerance: Optional[float] = None,
    max_iterations: Optional[int] = None,
    margin: Optional[float] = None,
    max_step: Optional[float] = None,
    batch_size: int = BATCH_SIZE,
    gather: int = GATHER,
) -> Settled:
    """Carries each row of ``x`` to the attractor it sits in.

    ``method="flow"`` follows the flow dx/ds = D(x) − x by pseudo-transient continuation
    (linearly implicit Euler steps solved by GMRES on finite-difference Jacobian products, the
    step growing as the residual falls), which converges for any denoiser; ``"unit"`` iterates
    ``x ← D(x, sigma)``, the flow's unit Euler step: for the exact model the CCCP step, which
    lowers the energy at every step, but unstable for a trained network whose Jacobian has
    eigenvalues below −1. ``"auto"`` (default) takes the unit step for the exact model and the
    flow for everything else.

    A point stops when |x − D(x)| is below ``tolerance`` (default: 1e-9 × the RMS norm of ``x``
    for a float64 exact model, 1e-5 × for a float32 one and for anything else, whose arithmetic
    is usually float32), or
    as neutral when what is left of its residual lies along directions with |1 − λ| ≤
    ``margin`` (default 0.01; 1e-6 for the exact model's flow; 0 for the unit step, which then
    never stops a point as neutral) and it drifts slower than 0.1 sigma. ``max_iterations``
    bounds the steps per point (default 200 for the flow, 500 for the unit step),
    ``max_step`` the length of a flow step (default 0.25 × the RMS norm of ``x``). The denoiser
    sees at most ``batch_size`` rows per call.

    Points that end unconverged or non-finite are counted in ``unconverged``, and a
    ``RuntimeWarning`` says how many (an under-trained network may leave most of them)."""
    points, status, iterations, evaluations = _memscape.settle(
        denoiser,
        _matrix(x, "x"),
        sigma,
        tolerance=tolerance,
        max_iterations=max_iterations,
        method=method,
        margin=margin,
        max_step=max_step,
        batch_size=batch_size,
        gather=gather,
    )
    converged = np.array([s in ("converged", "neutral") for s in status], dtype=bool)
    unconverged = int((~converged).sum())
    if unconverged:
        _warn(
            f"settle: {unconverged} of {len(status)} points did not converge in {iterations} steps "
            "(see Settled.status; raise max_iterations, or the network is not yet a denoiser there)"
        )
    return Settled(points, list(status), converged, iterations, np.array(evaluations, dtype=np.int64), unconverged)


# ---------------------------------------------------------------------------------------------
# fixed points and stability


@dataclass
class Stability:
    """The rightmost spectrum of the Jacobian J = ∂D/∂x at a point (Arnoldi on
    finite-difference products): ``eigenvalues`` (complex, largest real part first), their
    ``residuals``, ``index`` = #{Re λ > 1} (the Morse index for the exact model), ``gap`` =
    1 − Re λ_max (the rate at which the flow dx/ds = D(x) − x contracts onto a stable point;
    negative at a saddle), ``margin`` = min |1 − Re λ| (the distance from degeneracy), the
    ``neutral`` directions (|1 − Re λ| within the neutral band), and whether the index is
    ``certified``: the rightmost part of the spectrum (every value above 1 − band and the first
    below) converged and no value lies in the band; ``uncertain`` says why not ("near_one" or
    "unconverged")."""

    eigenvalues: np.ndarray
    residuals: np.ndarray
    index: int
    gap: float
    margin: float
    certified: bool
    krylov_dimension: int
    cost: Dict[str, Any]
    neutral: int = 0
    uncertain: Optional[str] = None

    @classmethod
    def _of(cls, s: Dict[str, Any]) -> "Stability":
        values = np.array([complex(re, im) for re, im in s["eigenvalues"]], dtype=np.complex128)
        return cls(
            values,
            np.array(s["residuals"], dtype=np.float64),
            s["index"],
            s["gap"],
            s["margin"],
            s["certified"],
            s["krylov_dimension"],
            s["cost"],
            s.get("neutral", 0),
            s.get("uncertain"),
        )

    @property
    def stable(self) -> bool:
        """An attractor of the flow dx/ds = D(x) − x: no eigenvalue with Re λ > 1."""
        return self.index == 0


@dataclass
class FixedPoint:
    """A distinct fixed point ``x = D(x, sigma)``: its ``residual`` |x − D(x)|, the number of
    ``starts`` that reached it, and its :class:`Stability` (None when not analysed)."""

    x: np.ndarray
    residual: float
    starts: int
    stability: Optional[Stability]
    asymmetry: Optional[float]


@dataclass
class FixedPoints:
    """The fixed points reached from a set of starts by Newton–Krylov. ``assignment[i]`` is the
    position in ``points`` that start i reached (None: it did not converge)."""

    sigma: float
    points: List[FixedPoint]
    assignment: List[Optional[int]]
    unconverged: List[Dict[str, Any]]
    newton_cost: Dict[str, Any]
    stability_cost: Dict[str, Any]

    @property
    def x(self) -> np.ndarray:
        """The points as an (m, d) array."""
        if not self.points:
            return np.zeros((0, 0))
        return np.stack([p.x for p in self.points])

    def to_pandas(self):
        """One row per fixed point: residual, starts, index, gap, certified."""
        import pandas as pd

        return pd.DataFrame(
            {
                "residual": [p.residual for p in self.points],
                "starts": [p.starts for p in self.points],
                "index": [p.stability.index if p.stability else None for p in self.points],
                "gap": [p.stability.gap if p.stability else None for p in self.points],
                "certified": [p.stability.certified if p.stability else None for p in self.points],
            }
        )


def fixed_points(
    denoiser: Denoiser,
    starts: Any,
    sigma: float,
    *,
    scale: Optional[float] = None,
    float32: Optional[bool] = None,
    eigenvalues: Optional[int] = None,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
    gather: int = GATHER,
) -> FixedPoints:
    """Fixed points of ``x ↦ D(x, sigma)`` by matrix-free Newton–Krylov (GMRES on
    finite-difference Jacobian products) from every row of ``starts``, merged, each analysed for
    stability (``eigenvalues`` rightmost values of J; 0 skips it).

    Tolerances scale with ``scale`` (default: the exact model's data RMS norm, or the RMS norm
    of ``starts`` for a callable) and with the arithmetic: ``float32`` (default: True for a
    callable, as most networks compute in float32; the exact model's own precision otherwise)
    loosens them to what float32 can resolve. Start from settled samples (:func:`settle`). The
    denoiser sees at most ``batch_size`` rows per call. Starts from which Newton did not
    converge are listed in ``unconverged``, and a ``RuntimeWarning`` says how many."""
    s = json.loads(
        _memscape.fixed_points(
            denoiser,
            _matrix(starts, "starts"),
            sigma,
            scale=scale,
            float32=float32,
            eigenvalues=eigenvalues,
            seed=seed,
            batch_size=batch_size,
            gather=gather,
        )
    )
    if s["unconverged"]:
        _warn(
            f"fixed_points: Newton did not converge from {len(s['unconverged'])} of {len(s['assignment'])} "
            "starts (see FixedPoints.unconverged)"
        )
    points = [
        FixedPoint(
            np.array(p["x"], dtype=np.float64),
            p["residual"],
            p["starts"],
            Stability._of(p["stability"]) if p.get("stability") else None,
            (p.get("asymmetry") or {}).get("ratio"),
        )
        for p in s["points"]
    ]
    return FixedPoints(s["sigma"], points, s["assignment"], s["unconverged"], s["newton_cost"], s["stability_cost"])


def stability(
    denoiser: Denoiser,
    x: Any,
    sigma: float,
    *,
    scale: Optional[float] = None,
    float32: Optional[bool] = None,
    eigenvalues: Optional[int] = None,
    seed: int = 0,
    batch_size: int = BATCH_SIZE,
) -> Stability:
    """The rightmost ``eigenvalues`` (default min(10, d)) of the Jacobian of ``D(·, sigma)`` at
    the point ``x`` (d,), matrix-free (see :func:`fixed_points` for ``scale`` and ``float32``)."""
    s = _memscape.stability(
        denoiser,
        _vector(x, "x"),
        sigma,
        scale=scale,
        float32=float32,
        eigenvalues=eigenvalues,
        seed=seed,
        batch_size=batch_size,
    )
    return Stability._of(json.loads(s))


@dataclass
class Landscape:
    """A denoiser's landscape at one noise level (:func:`landscape`), as ``memscape attractors
    --checkpoint`` writes it. ``document`` is that run's ``attractors.json``: the critical points
    (``critical_points``: position, kind, Morse index, Jacobian spectrum, basin), their
    ``counts`` by kind, the census's bookkeeping (``census``: settled and unsettled samples,
    denoiser rows, the support gate), the recovery levels of the largest basins and the energy
    along segments between stable points. ``samples`` are the census's starts; on 2-D data the
    grids are those of ``energy_grid.npy``, ``score_grid.npy`` and ``basin_map.npy``."""

    document: Dict[str, Any]
    samples: np.ndarray
    energy_grid: Optional[np.ndarray] = None
    score_grid: Optional[np.ndarray] = None
    basin_map: Optional[np.ndarray] = None

    @property
    def counts(self) -> Dict[str, int]:
        """Attractors and saddles by kind: memory, spurious, off_support, manifold, saddle,
        uncertain."""
        return self.document["counts"]

    @property
    def critical_points(self) -> List[Dict[str, Any]]:
        return self.document["critical_points"]


def landscape(
    denoiser: Denoiser,
    train: Any,
    sigma: float,
    *,
    heldout: Any = None,
    samples: int = _LANDSCAPE["samples"],
    eigenvalues: Optional[int] = None,
    recovery: int = _LANDSCAPE["recovery"],
    trials: int = _LANDSCAPE["trials"],
    seed: int = _LANDSCAPE["seed"],
    margin: Optional[float] = None,
    batch_size: int = BATCH_SIZE,
    gather: int = GATHER,
) -> Landscape:
    """The landscape of ``denoiser`` (a trained network, or any callable) at noise level
    ``sigma``, as ``memscape attractors --checkpoint`` measures it, with the same defaults: its
    own ``samples`` stopped at sigma settle and start matrix-free Newton–Krylov runs; each fixed
    point gets its rightmost ``eigenvalues`` (default min(10, d); 0 skips the spectra) Jacobian
    eigenvalues, a kind and a basin; the ``recovery`` stable points with the largest basins get
    their critical recovery level (``trials`` noise directions each). ``heldout`` points (at
    least 20; fewer are not used) calibrate the support gate, so that stable points off the data
    are called off-support: without them (the default here, while the command line keeps 1000
    points of a ``--data`` spec aside) no point is off-support. ``margin`` is the census's
    neutral band (default 0.01). Settling, Newton and finite-difference tolerances follow the
    denoiser's arithmetic: float32 for a ScoreNetwork or a Python callable, the precision of an
    ExactDenoiser (float64 by default); the document's ``step`` is a ScoreNetwork's training step
    (None otherwise). The denoiser sees at most ``batch_size`` rows per call."""
    document, starts, grids = _memscape.landscape(
        denoiser,
        _matrix(train, "train"),
        None if heldout is None else _matrix(heldout, "heldout"),
        sigma,
        samples=samples,
        eigenvalues=eigenvalues,
        recovery=recovery,
        trials=trials,
        seed=seed,
        margin=margin,
        batch_size=batch_size,
        gather=gather,
    )
    energy, score, basins = grids if grids is not None else (None, None, None)
    return Landscape(json.loads(document), starts, energy, score, basins)


def attractors(
    patterns: Any,
    beta: Optional[float] = None,
    *,
    sigma: Optional[float] = None,
    denoiser: Optional[Denoiser] = None,
    heldout: Any = None,
    random_starts: int = _EXACT["random_starts"],
    basin_starts: int = _EXACT["basin_starts"],
    samples: int = _EXACT["samples"],
    seed: int = _EXACT["seed"],
    eigenvalues: Optional[int] = None,
    recovery: int = _LANDSCAPE["recovery"],
    trials: int = _LANDSCAPE["trials"],
    margin: Optional[float] = None,
    batch_size: int = BATCH_SIZE,
    gather: int = GATHER,
) -> Landscape:
    """The attractors at one noise level, as ``memscape attractors`` finds them, with the same
    defaults. At inverse temperature ``beta`` (or noise level ``sigma``, beta = 1/sigma²):

    - without ``denoiser``, the exact model's landscape
      E(x) = −(1/beta) log Σ_μ exp(−beta |x − ξ_μ|²/2) + |x|²/2 of ``patterns``: every critical
      point from a multi-start Newton search (patterns, midpoints, triples and
      ``random_starts`` random starts) with its Morse index, the saddles' connections, and the
      basin weights from ``basin_starts`` Monte Carlo starts (0 skips them); on 2-D data the
      grids and the exact model's ``samples`` stopped at sigma;
    - with ``denoiser`` (a trained network, or any callable), its census at sigma over its
      own ``samples``, ``patterns`` being its training set: :func:`landscape` with these
      arguments (``heldout``, ``eigenvalues``, ``recovery``, ``trials``, ``margin``,
      ``batch_size`` apply here).

    ``document`` is that run's ``attractors.json``."""
    if (beta is None) == (sigma is None):
        raise ValueError("attractors takes beta or sigma, exactly one of them")
    if beta is None:
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        beta = 1.0 / sigma**2
    elif not beta > 0:
        raise ValueError(f"beta must be positive, got {beta}")
    else:
        sigma = beta**-0.5
    if denoiser is not None:
        return landscape(
            denoiser, patterns, sigma, heldout=heldout, samples=samples,
            eigenvalues=eigenvalues, recovery=recovery, trials=trials, seed=seed, margin=margin,
            batch_size=batch_size, gather=gather,
        )
    points = _matrix(patterns, "patterns")
    document, grids = _memscape.exact_landscape(
        points, beta, random_starts=random_starts, basin_starts=basin_starts, samples=samples,
        seed=seed,
    )
    basins, energy, score, stopped = grids if grids is not None else (None, None, None, None)
    if stopped is None:
        stopped = np.zeros((0, points.shape[1]))
    return Landscape(json.loads(document), stopped, energy, score, basins)


def bifurcate(
    patterns: Any,
    beta_from: float,
    beta_to: float,
    *,
    weight_of: Optional[int] = None,
    weight_to: float = _BIFURCATE["weight_to"],
    steps: int = _BIFURCATE["steps"],
    tolerance: float = _BIFURCATE["tolerance"],
    random_starts: int = _BIFURCATE["random_starts"],
    cusp_weights: Optional[Sequence[float]] = None,
) -> Dict[str, Any]:
    """Bifurcations of the exact landscape of ``patterns``, as ``memscape bifurcate`` with the
    same defaults: pseudo-arclength continuation of every critical point along beta over
    [``beta_from``, ``beta_to``] (or, with ``weight_of``, along that pattern's weight over
    [0, ``weight_to``] at beta = ``beta_to``) from a multi-start grid of ``steps`` values, with
    the events located to ``tolerance`` and classified (fold, pitchfork, transcritical,
    symmetric) and the counts carried across them and checked. Returns ``bifurcations.json``'s
    document (``events``, ``branches``, ``grid``, ``unexplained``, ``incomplete``); with
    ``cusp_weights`` (and ``weight_of``), ``cusps.json``'s: the curves of folds in (beta, w)
    traced from the folds at those weights, and their cusps."""
    return json.loads(
        _memscape.bifurcate(
            _matrix(patterns, "patterns"),
            beta_from,
            beta_to,
            weight_of=weight_of,
            weight_to=weight_to,
            steps=steps,
            tolerance=tolerance,
            random_starts=random_starts,
            cusp_weights=None if cusp_weights is None else [float(w) for w in cusp_weights],
        )
    )


def hopfield(
    model: Literal["classical", "dense", "modern"],
    alpha: float,
    *,
    n: int = _HOPFIELD["n"],
    degree: int = _HOPFIELD["degree"],
    nets: int = _HOPFIELD["nets"],
    per_net: int = _HOPFIELD["per_net"],
    flip: float = _HOPFIELD["flip"],
    seed: int = _HOPFIELD["seed"],
) -> Dict[str, Any]:
    """A Hopfield baseline beside its theory, as ``memscape hopfield --json`` with the same
    defaults: ``nets`` networks of ``n`` ±1 neurons at load ``alpha`` (K = alpha N classical,
    alpha N^(degree−1) dense, e^(alpha N) modern), ``per_net`` stored patterns each retrieved
    from starts with a fraction ``flip`` of their bits flipped. Returns the measured unstable
    bit fraction and retrieval overlap beside the theory's one-step error and capacity."""
    return json.loads(
        _memscape.hopfield(
            model, alpha, n=n, degree=degree, nets=nets, per_net=per_net, flip=flip, seed=seed
        )
    )


# ---------------------------------------------------------------------------------------------
# classification and capacities


@dataclass
class Estimate:
    """A fraction with its bootstrap 95% percentile interval."""

    value: float
    ci: Tuple[float, float]


@dataclass
class Classification:
    """Per-sample labels and distances, and the class fractions with bootstrap intervals.

    A sample is *memorized* when its nearest training point is within ``delta_m``, else
    *spurious* when another sample is within ``delta_s`` (it sits in a shared attractor that is
    no memory), else *off-support* when it is farther from the data than held-out data is
    (given ``heldout``), else *generalized*: a new sample on the data's support, never noise.
    """

    classes: np.ndarray
    d_train: np.ndarray
    d_train2: np.ndarray
    nearest_train: np.ndarray
    d_sample: np.ndarray
    ratio_memorized: np.ndarray
    d_support: Optional[np.ndarray]
    fractions: Dict[str, Estimate]
    summary: Dict[str, Any]

    @property
    def thresholds(self) -> Dict[str, float]:
        """delta_m, delta_s, f_mem_ratio and the training set's median spacing."""
        return self.summary["thresholds"]

    @property
    def chance(self) -> Optional[Dict[str, Any]]:
        """With ``heldout``: the chance levels of held-out draws classified as these samples
        are ("memorized", "spurious", "f_mem", each {"value", "ci"}), how many "draws", and
        the samples' "excess" over each level with its interval; None without."""
        return self.summary["chance"]

    @property
    def fidelity(self) -> Optional[Dict[str, Any]]:
        """With ``heldout``: the Fréchet distance of the samples to half the held-out points
        ("frechet", in the data's own space) with the other half's as the floor
        ("frechet_heldout"), "precision" and "recall" by 3-nearest-neighbour manifolds
        (Kynkäänniemi et al. 2019); None without."""
        return self.summary["fidelity"]

    def to_pandas(self):
        """One row per sample (the columns of ``labels.csv``)."""
        import pandas as pd

        columns = {
            "class": self.classes,
            "d_train": self.d_train,
            "d_train2": self.d_train2,
            "nearest_train": self.nearest_train,
            "d_sample": self.d_sample,
            "ratio_memorized": self.ratio_memorized,
        }
        if self.d_support is not None:
            columns["d_support"] = self.d_support
        return pd.DataFrame(columns)

    def fractions_frame(self):
        """One row per class (and f_mem): value, ci_low, ci_high."""
        import pandas as pd

        return pd.DataFrame(
            [(k, e.value, e.ci[0], e.ci[1]) for k, e in self.fractions.items()],
            columns=["measure", "value", "ci_low", "ci_high"],
        ).set_index("measure")


def classify(
    train: Any,
    samples: Any,
    *,
    samples_b: Any = None,
    heldout: Any = None,
    delta_m: Union[str, float] = "auto",
    delta_s: Union[str, float] = "auto",
    f_mem_ratio: float = _CLASSIFY["thresholds"]["f_mem_ratio"],
    support_quantile: float = _CLASSIFY["support_quantile"],
    resamples: int = _CLASSIFY["resamples"],
    seed: int = _CLASSIFY["seed"],
) -> Classification:
    """Classifies ``samples`` against ``train``, as ``memscape classify``.

    ``delta_m`` / ``delta_s``: distances, "auto" (1/4 and 1/16 of the training set's median
    nearest-neighbour spacing), or "calibrated[:q]" (the q-quantile, default 0.01, of the
    held-out points' nearest-neighbour distances to the training set, and to each other; needs
    ``heldout``). ``samples_b``: an independent batch that "spurious" is judged against.
    ``heldout``: real points that calibrate the support gate at ``support_quantile`` of their
    distances to the training set (without it no sample is off-support), and give the chance
    levels: as many held-out draws classified as if they were samples (``chance``).
    f_mem is the share with d1/d2 < ``f_mem_ratio`` (Bonnaire et al.). Intervals: ``resamples``
    bootstrap resamples of the samples, seeded by ``seed``."""
    r = _memscape.classify(
        _matrix(train, "train"),
        _matrix(samples, "samples"),
        samples_b=None if samples_b is None else _matrix(samples_b, "samples_b"),
        heldout=None if heldout is None else _matrix(heldout, "heldout"),
        delta_m=_threshold(delta_m, "delta_m"),
        delta_s=_threshold(delta_s, "delta_s"),
        f_mem_ratio=f_mem_ratio,
        support_quantile=support_quantile,
        resamples=resamples,
        seed=seed,
    )
    fractions = {k: Estimate(v["value"], tuple(v["ci"])) for k, v in json.loads(r["fractions"]).items()}
    return Classification(
        np.array(r["classes"]),
        r["d_train"],
        r["d_train2"],
        r["nearest_train"],
        r["d_sample"],
        r["ratio_memorized"],
        r["d_support"],
        fractions,
        json.loads(r["summary"]),
    )


@dataclass
class Capacities:
    """Where the memorized fraction falls below 1/2 (``memorization``), where the generalized
    one rises above 1/2 (``generalization``), both interpolated in log K (None: not crossed
    inside the sweep), and the spurious peak."""

    memorization: Optional[float]
    generalization: Optional[float]
    spurious_peak_k: int
    spurious_peak: float


def capacities(ks: Sequence[int], memorized: Sequence[float], spurious: Sequence[float], generalized: Sequence[float]) -> Capacities:
    """Capacities from class fractions measured at increasing K."""
    c = json.loads(_memscape.capacities(list(ks), list(memorized), list(spurious), list(generalized)))
    return Capacities(c["memorization"], c["generalization"], c["spurious_peak_k"], c["spurious_peak"])


# ---------------------------------------------------------------------------------------------
# studies


@dataclass
class MapResult:
    """A phase map over K (``memscape map``). ``results`` is the document the command line
    writes as ``results.json`` (``MapResults``: one row per (model, K) with the fractions, their
    intervals under ``ci``, attractors, clusters, thresholds, support and quality; the exact
    model's ``capacities`` and each trained model's under ``trained``). The arrays:
    ``samples[(model, k)]`` (raw samples), ``attractors[(model, k)]`` (where they settled) and
    ``train`` (the largest K's set; the first K rows are the set of K)."""

    results: Dict[str, Any]
    sampler: Dict[str, Any]
    samples: Dict[Tuple[str, int], np.ndarray]
    attractors: Dict[Tuple[str, int], np.ndarray]
    train: np.ndarray
    #: ``phase.csv`` as the command line writes it.
    phase_csv: str = field(repr=False, default="")

    @property
    def rows(self) -> List[Dict[str, Any]]:
        return self.results["rows"]

    @property
    def capacities(self) -> Dict[str, Any]:
        """The exact model's capacities with intervals (``trained`` in ``results`` for others)."""
        return self.results["capacities"]

    def to_pandas(self):
        """The phase table: exactly ``phase.csv``'s columns and values (one row per model and
        K: the fractions with their intervals, attractors, clusters, settled share, thresholds,
        support, MMD² and the census counts)."""
        import io

        import pandas as pd

        return pd.read_csv(io.StringIO(self.phase_csv))


def map(  # noqa: A001 - the study is called map, as the command
    data: str = _MAP["data"],
    ks: Sequence[int] = DEFAULT_KS,
    *,
    model: Model = _MAP["model"],
    subset_seed: int = _MAP["subset_seed"],
    n_samples: int = _MAP["n_samples"],
    steps: int = _MAP["steps"],
    seed: int = _SAMPLER["seed"],
    sigma_min: Optional[float] = None,
    sigma_max: Optional[float] = None,
    sampler: Sampler = _SAMPLER["sampler"],
    eta: float = _SAMPLER["eta"],
    process: Process = _SAMPLER["process"],
    spacing: Spacing = _SAMPLER["spacing"],
    batch_size: int = BATCH_SIZE,
    gather: int = GATHER,
    delta_m: Union[str, float] = "auto",
    delta_s: Union[str, float] = "auto",
    resamples: int = _MAP["resamples"],
    holdout: Optional[int] = None,
    support_quantile: float = _MAP["support_quantile"],
    train_steps: int = _MAP["train_steps"],
    train: Optional[Dict[str, Any]] = None,
    out: Optional[Union[str, os.PathLike]] = None,
    models: Optional[Dict[int, Union[Denoiser, str, os.PathLike]]] = None,
    training_sets: Optional[Dict[int, Any]] = None,
    heldout: Any = None,
    settle: Literal["flow", "unit-step"] = "flow",
) -> MapResult:
    """The phase map over K, as ``memscape map`` with the same defaults: for each K, the exact
    model (and with ``model="mlp"`` or ``"unet"`` a network trained for ``train_steps`` steps;
    ``train`` overrides any ``TrainConfig`` field, e.g. ``{"width": 64, "dropout": 0.1}``) is
    sampled, the samples settled at ``sigma_min`` (default 0.02 × the data's RMS norm) and
    classified; capacities with bootstrap intervals. With ``out``, the run directory
    ``memscape map --out`` writes is written there (tables, arrays, the landscapes on 2-D data,
    figures, ``manifest.json`` and ``report.html``), and ``results`` is its ``results.json``;
    without it nothing is written to disk.

    **Your own models**: ``models={K: denoiser}`` maps them instead of training any: each is a
    callable ``denoise(x, sigma)`` (see :mod:`memscape.torch` for a PyTorch module), a
    :class:`ScoreNetwork` or a checkpoint path, on ``training_sets={K: array}`` (nested: each
    the first K rows of the largest K's, as the command's sets; image stacks are flattened)
    with ``heldout`` points (at least 20, or none: no support gate). The exact model of each set
    is mapped beside it, as for a trained model; the models' rows are named after their
    architecture when all are ScoreNetworks of one, else ``"given"``. Their census settles the
    samples along the probability-flow ODE (``settle="flow"``, any model) or, with
    ``settle="unit-step"``, by x ← D(x) as the exact model's census does (for models where that
    converges: it diverges where the Jacobian has an eigenvalue below −1). ``data``, ``ks``,
    ``model``, ``subset_seed``, ``holdout`` and the training arguments are then not read."""
    given: Dict[str, Any] = {}
    if models is not None:
        if training_sets is None:
            raise ValueError("training_sets must be given with models (one array per K), got None")
        sets, held, shape = _sets(training_sets, heldout)
        given = dict(
            models=[(int(k), _denoiser(d)) for k, d in models.items()],
            training_sets=sets,
            heldout=held,
            image_shape=shape,
            settle=settle,
        )
    r = _memscape.map(
        _spec(data),
        list(ks),
        model=model,
        subset_seed=subset_seed,
        num_samples=n_samples,
        steps=steps,
        seed=seed,
        sigma_min=sigma_min,
        sigma_max=sigma_max,
        sampler=sampler,
        eta=eta,
        process=process,
        spacing=spacing,
        batch_size=batch_size,
        gather=gather,
        delta_m=_threshold(delta_m, "delta_m"),
        delta_s=_threshold(delta_s, "delta_s"),
        resamples=resamples,
        holdout=holdout,
        support_quantile=support_quantile,
        train_steps=train_steps,
        train=json.dumps(train or {}),
        out=None if out is None else os.fspath(out),
        command=_command("map", data=data, ks=list(ks), model=model, out=out,
                         models=None if models is None else sorted(models)),
        **given,
    )
    keys = list(zip(r["models"], r["ks"]))
    return MapResult(
        json.loads(r["results"]),
        json.loads(r["sampler"]),
        dict(zip(keys, r["samples"])),
        dict(zip(keys, r["attractors"])),
        r["train"],
        r["phase_csv"],
    )


@dataclass
class DynamicsResult:
    """Training dynamics (``memscape dynamics``): the document the command writes as
    ``results.json`` (``DynamicsResults``: one flat row per (K, seed, checkpoint) with the class
    fractions, f_mem and its interval, the losses, the sample quality and the census summary;
    tau_mem(K), tau_gen(K), tau_gen_quality(K) and tau_spur(K) with bootstrap intervals; the fits
    tau = a K^p, the ratio tau_spur/tau_mem and the exponent gap; the levels that define them),
    and every checkpoint's attractors beside it."""

    rows: List[Dict[str, Any]]
    tau_mem: List[Dict[str, Any]]
    tau_gen: List[Dict[str, Any]]
    tau_gen_quality: List[Dict[str, Any]]
    tau_spur: List[Dict[str, Any]]
    fit: Optional[Dict[str, Any]]
    fit_spur: Optional[Dict[str, Any]]
    spur_ratio: List[Dict[str, Any]]
    exponent_gap: Optional[Dict[str, Any]]
    image_shape: Optional[Tuple[int, int]]
    grid_k: Optional[int]
    fmem_level: float
    gen_level: float
    spur_level: Optional[float]
    seeds: int
    num_samples: int
    seconds: float
    attractors: List[Dict[str, Any]]
    #: With ``trace=True``: tau_spur from births per K, with its interval over seeds, and its
    #: fit against K.
    tau_spur_birth: List[Dict[str, Any]] = field(default_factory=list)
    fit_spur_birth: Optional[Dict[str, Any]] = None

    def to_pandas(self):
        """The (K, seed, step) table, a column per field of a row: the fractions, f_mem,
        ``f_mem_lo``/``f_mem_hi``, the dominant class, the losses, and the sample quality and
        census summary flattened (``quality.mmd2``, ``attractors.counts.memory``, ...)."""
        import pandas as pd

        if not self.rows:
            return pd.DataFrame()
        table = pd.json_normalize(self.rows)
        lo, hi = zip(*table.pop("f_mem_ci"))
        at = table.columns.get_loc("f_mem") + 1
        table.insert(at, "f_mem_lo", list(lo))
        table.insert(at + 1, "f_mem_hi", list(hi))
        return table


def dynamics(
    data: str = _DYNAMICS["data"],
    ks: Sequence[int] = tuple(_DYNAMICS["ks"]),
    *,
    model: Network = _DYNAMICS["model"],
    seeds: int = _DYNAMICS["seeds"],
    subset_seed: int = _DYNAMICS["subset_seed"],
    holdout: int = _DYNAMICS["holdout"],
    train_steps: int = _DYNAMICS["train_steps"],
    checkpoints: Union[int, str, os.PathLike, Dict[Tuple[int, int], Sequence[Tuple[int, Any]]]] = _DYNAMICS["checkpoints"],
    n_samples: int = _DYNAMICS["n_samples"],
    steps: int = _DYNAMICS["sample_steps"],
    seed: int = _SAMPLER["seed"],
    sigma_min: Optional[float] = None,
    sigma_max: Optional[float] = None,
    sampler: Sampler = _SAMPLER["sampler"],
    eta: float = _SAMPLER["eta"],
    process: Process = _SAMPLER["process"],
    spacing: Spacing = _SAMPLER["spacing"],
    batch_size: int = BATCH_SIZE,
    gather: int = GATHER,
    fmem_level: float = _DYNAMICS["fmem_level"],
    gen_level: float = _DYNAMICS["gen_level"],
    resamples: int = _DYNAMICS["resamples"],
    support_quantile: float = _MAP["support_quantile"],
    attractors: bool = True,
    spur_level: float = _DYNAMICS["spur_level"],
    attractor_groups: int = _DYNAMICS["attractor_groups"],
    eigenvalues: Optional[int] = None,
    train: Optional[Dict[str, Any]] = None,
    out: Optional[Union[str, os.PathLike]] = None,
    training_sets: Optional[Dict[int, Any]] = None,
    heldout: Any = None,
    trace: bool = False,
) -> DynamicsResult:
    """Training dynamics, as ``memscape dynamics`` with the same defaults: for each K and seed a
    network is trained once and, at ``checkpoints`` log-spaced steps, sampled and classified
    (and its attractors counted); tau_mem is where f_mem first reaches ``fmem_level``, and
    tau_gen (sample quality) the first checkpoint whose MMD² above the held-out floor is within
    1 + ``gen_level`` of its minimum. With ``out``, the run directory ``memscape dynamics --out``
    writes is written there (phase, loss and attractor tables, figures, ``manifest.json`` and
    ``report.html``).

    **Your own models**: ``checkpoints`` may instead give the networks, trained elsewhere, and
    then none is trained: ``{(K, seed): [(step, denoiser), ...]}``, each denoiser a callable
    ``denoise(x, sigma)`` (see :mod:`memscape.torch`), a :class:`ScoreNetwork` or a checkpoint
    path, with ``training_sets={K: array}`` and ``heldout`` points; or a folder laid out as
    ``memscape dynamics --checkpoints DIR`` reads it (``K{K}/train.npy``,
    ``K{K}/seed{S}/step_{N}.safetensors``, ``heldout.npy``). Every (K, seed) needs the same
    steps and every K as many seeds; the losses are the ε-prediction loss on fixed draws; the
    checkpoints of one K must share an architecture. ``data``, ``ks``, ``model``, ``seeds``,
    ``subset_seed``, ``holdout`` and the training arguments are then not read.

    ``trace=True`` follows every (K, seed)'s fixed points from checkpoint to checkpoint, as
    ``memscape dynamics --trace`` does (``trace.json`` and its figure with ``out``): births and
    deaths along the chord of the weights, and ``tau_spur_birth``, the first step of the first
    spurious attractor holding ``spur_level`` of the samples, per K with its interval over seeds.
    Only for networks the study trains."""
    given: Dict[str, Any] = {}
    if isinstance(checkpoints, (str, os.PathLike)):
        given = dict(folder=os.fspath(checkpoints))
        checkpoints = _DYNAMICS["checkpoints"]
    elif hasattr(checkpoints, "items"):
        if training_sets is None:
            raise ValueError("training_sets must be given with checkpoints (one array per K), got None")
        sets, held, shape = _sets(training_sets, heldout)
        units = []
        for key, pairs in checkpoints.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValueError(f"checkpoints must be keyed by (K, seed), got {key!r}")
            units.append((int(key[0]), int(key[1]), [(int(step), _denoiser(d)) for step, d in pairs]))
        given = dict(units=units, training_sets=sets, heldout=held, image_shape=shape)
        checkpoints = _DYNAMICS["checkpoints"]
    r = json.loads(
        _memscape.dynamics(
            _spec(data),
            list(ks),
            model=model,
            seeds=seeds,
            subset_seed=subset_seed,
            holdout=holdout,
            train_steps=train_steps,
            checkpoints=checkpoints,
            num_samples=n_samples,
            steps=steps,
            seed=seed,
            sigma_min=sigma_min,
            sigma_max=sigma_max,
            sampler=sampler,
            eta=eta,
            process=process,
            spacing=spacing,
            batch_size=batch_size,
            gather=gather,
            fmem_level=fmem_level,
            gen_level=gen_level,
            resamples=resamples,
            support_quantile=support_quantile,
            attractors=attractors,
            spur_level=spur_level,
            attractor_groups=attractor_groups,
            eigenvalues=eigenvalues,
            train=json.dumps(train or {}),
            out=None if out is None else os.fspath(out),
            command=_command("dynamics", data=data, ks=list(ks), model=model, out=out,
                             checkpoints=given.get("folder", "given" if given else None)),
            trace=trace,
            **given,
        )
    )
    r.pop("interventions", None)
    if r["image_shape"] is not None:
        r["image_shape"] = tuple(r["image_shape"])
    return DynamicsResult(**r)


# ---------------------------------------------------------------------------------------------
# sweeps


def sweep(
    spec: Union[str, os.PathLike],
    *,
    out: Optional[Union[str, os.PathLike]] = None,
    jobs: Optional[int] = None,
) -> Dict[str, Any]:
    """Runs a sweep spec's cells here, as ``memscape sweep SPEC`` without ``--slurm``: every
    cell not yet done (nor queued in a Slurm array) is computed, ``jobs`` at once (default: the
    CPUs), into the crash-safe store of the sweep's folder (``out``, else
    ``runs/sweep-<spec stem>``), which the command line shares. Returns the sweep's status
    (``sweep status --json``): cells done, running, failed and pending, and the errors. Ctrl-C
    stops it within a second as ``KeyboardInterrupt``: no more cells are claimed, the cells in
    flight stop and are left, unrecorded, to the next run, and every finished cell is kept."""
    return json.loads(
        _memscape.sweep_run(
            os.fspath(spec), out=None if out is None else os.fspath(out), jobs=jobs
        )
    )


def sweep_status(
    spec: Union[str, os.PathLike], *, out: Optional[Union[str, os.PathLike]] = None
) -> Dict[str, Any]:
    """A sweep's status, as ``memscape sweep status --json``."""
    return json.loads(
        _memscape.sweep_status(os.fspath(spec), out=None if out is None else os.fspath(out))
    )


def sweep_collect(
    spec: Union[str, os.PathLike], *, out: Optional[Union[str, os.PathLike]] = None
) -> Dict[str, Any]:
    """Collects a sweep's finished cells, as ``memscape sweep collect``: under the sweep's
    folder, ``collect/`` gets ``cells.csv`` and one run directory (with its report) per map and
    dynamics study. Returns ``collect.json``'s document: ``runs`` (kind, name, folder and
    ``results.json`` of each) and ``incomplete`` (maps left out, with their missing cells);
    read a run with :func:`read_run`."""
    return json.loads(
        _memscape.sweep_collect(
            os.fspath(spec),
            out=None if out is None else os.fspath(out),
            command=_command("sweep_collect", spec=os.fspath(spec), out=out),
        )
    )


# ---------------------------------------------------------------------------------------------
# run directories


@dataclass
class Run:
    """A run directory of the command line, read back: its CSV ``tables`` as DataFrames (by
    file stem: ``phase``, ``labels``, ``embedding``, ``loss``, ``attractors``, ...), its JSON
    documents (``results``, ``manifest``, ...), its ``.npy`` ``arrays`` (memory-mapped), and its
    sub-folders as ``runs`` (a map's ``landscape_*`` folders, ...)."""

    path: str
    tables: Dict[str, Any] = field(default_factory=dict)
    documents: Dict[str, Any] = field(default_factory=dict)
    arrays: Dict[str, np.ndarray] = field(default_factory=dict)
    #: The run's sub-folders read the same way, by name (a map's ``landscape_*``, ...).
    runs: Dict[str, "Run"] = field(default_factory=dict)

    @property
    def results(self) -> Dict[str, Any]:
        return self.documents.get("results", {})

    @property
    def manifest(self) -> Dict[str, Any]:
        return self.documents.get("manifest", {})


def read_run(path: Union[str, os.PathLike]) -> Run:
    """Reads any run directory (``map``, ``dynamics``, ``sample``, ``classify``, ``attractors``,
    a sweep's ``collect``) into pandas DataFrames, dicts and arrays."""
    import pandas as pd

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: must be a run directory, and none is there")
    run = Run(path)
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        stem, ext = os.path.splitext(name)
        if os.path.isdir(full):
            run.runs[name] = read_run(full)
            continue
        if not os.path.isfile(full):
            continue
        try:
            if ext == ".csv":
                run.tables[stem] = pd.read_csv(full)
            elif ext == ".json":
                with open(full) as f:
                    run.documents[stem] = json.load(f)
            elif ext == ".npy":
                run.arrays[stem] = np.load(full, mmap_mode="r")
        except (ValueError, OSError, pd.errors.ParserError) as e:
            raise ValueError(f"{full}: cannot be read as {ext[1:]}: {e}") from None
    return run


# ---------------------------------------------------------------------------------------------
# progress


def set_progress(callback: Optional[Callable[[str, int, Optional[str], int], None]]) -> None:
    """Sends the progress of long work to ``callback(event, task_id, name, value)``: event
    "start" (value: total units, 0 when unknown), "advance" (value: units done, at most every
    0.1 s per task) or "finish". ``None`` stops it. Progress never changes a result."""
    _memscape.set_progress(callback)


def show_progress(enabled: bool = True) -> None:
    """Draws tqdm bars for long work (sampling, training, map points, Newton starts, ...)."""
    if not enabled:
        set_progress(None)
        return
    from tqdm.auto import tqdm

    bars: Dict[int, Any] = {}

    def hook(event: str, task: int, name: Optional[str], value: int) -> None:
        if event == "start":
            bars[task] = tqdm(total=value or None, desc=name, leave=False)
        elif event == "advance" and task in bars:
            bar = bars[task]
            bar.update(value - bar.n)
        elif event == "finish" and task in bars:
            bars.pop(task).close()

    set_progress(hook)


# ---------------------------------------------------------------------------------------------
# how results print


def _brief(value: Any) -> str:
    """One field in a few characters: an array's shape and type, a container's length."""
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    if hasattr(value, "shape") and hasattr(value, "columns"):  # a DataFrame
        return f"DataFrame({value.shape[0]} rows, {value.shape[1]} columns)"
    if isinstance(value, dict):
        keys = list(value)
        shown = ", ".join(repr(k) for k in keys[:4]) + (", ..." if len(keys) > 4 else "")
        return f"{{{len(keys)} {'entry' if len(keys) == 1 else 'entries'}: {shown}}}"
    if isinstance(value, (list, tuple)):
        return f"[{len(value)} {'item' if len(value) == 1 else 'items'}]"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _summary_repr(self: Any) -> str:
    from dataclasses import fields

    parts = ", ".join(f"{f.name}={_brief(getattr(self, f.name))}" for f in fields(self) if f.repr)
    return f"{type(self).__name__}({parts})"


for _cls in (Dataset, Settled, Stability, FixedPoints, Classification, Capacities, MapResult,
             DynamicsResult, Run):
    _cls.__repr__ = _summary_repr  # type: ignore[method-assign]
del _cls


def __dir__() -> List[str]:
    """The API only, not the modules and typing names this module uses."""
    return sorted(__all__)
