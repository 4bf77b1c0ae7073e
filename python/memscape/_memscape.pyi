"""Type stubs of the extension module; the documented API is ``memscape`` (``__init__.py``),
which calls these with its defaults filled in."""

import os
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Array = npt.NDArray[np.float64]
#: Points as the package reads them: NumPy arrays of any real dtype, nested lists, torch tensors
#: on any device, image stacks N×H×W or N×C×H×W.
ArrayLike = Any
Denoise = Callable[[Array, float], Any]

class ExactDenoiser:
    """The exact denoiser of the empirical distribution of K patterns: one modern-Hopfield
    update, D(x, sigma) = Σ_μ softmax_μ(−|x − ξ_μ|²/2sigma²) ξ_μ (theory.md §1).

    ``precision``: "f64" or "f32" arithmetic. ``pruning``: "auto" (skip patterns of negligible
    softmax weight for K ≥ 1024 and d ≥ 128, at about the unit round-off), "off", or a tolerance
    in (0, 1): the largest total weight skipped."""

    def __init__(
        self, patterns: ArrayLike, precision: Literal["f64", "f32"] = "f64", pruning: Union[Literal["auto"], float, None] = None
    ) -> None: ...
    def denoise(self, x: ArrayLike, sigma: float) -> Array:
        """D(x, sigma) for every row of x (n × d)."""
    def __call__(self, x: ArrayLike, sigma: float) -> Array: ...
    def score(self, x: ArrayLike, sigma: float) -> Array:
        """∇ log p_sigma(x) = (D(x, sigma) − x)/sigma² (Tweedie)."""
    def energy(self, x: ArrayLike, sigma: float) -> Array:
        """E(x; beta) = −(1/beta) log Σ_μ exp(−beta |x − ξ_μ|²/2) of each row at beta = 1/sigma²,
        whose gradient is x − D(x, sigma)."""
    def hessian(self, x: ArrayLike, sigma: float) -> Array:
        """The energy's Hessian I − beta Cov_w(ξ) at one point x (d,)."""
    @property
    def patterns(self) -> Array: ...
    @property
    def dim(self) -> int: ...
    @property
    def num_patterns(self) -> int: ...
    @property
    def scale(self) -> float:
        """The patterns' RMS norm √(mean |ξ|²)."""
    @property
    def precision(self) -> Literal["f64", "f32"]: ...

class ScoreNetwork:
    """A score network trained by memscape (MLP, or U-Net on images), with its checkpoint
    metadata; a built-in denoiser computing in float32."""

    @staticmethod
    def load(path: Union[str, "os.PathLike[str]"]) -> "ScoreNetwork":
        """Reads a `.safetensors` checkpoint of `memscape train`, `map` or `dynamics`."""
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Writes the checkpoint atomically."""
    @staticmethod
    def from_tensors(tensors: Dict[str, npt.NDArray[np.float32]], meta: str) -> "ScoreNetwork":
        """A network from its checkpoint tensors (state-dict names) and metadata (JSON)."""
    def tensors(self) -> Dict[str, npt.NDArray[np.float32]]: ...
    @property
    def meta(self) -> str:
        """The checkpoint metadata, as JSON."""
    def denoise(self, x: ArrayLike, sigma: float) -> Array: ...
    def __call__(self, x: ArrayLike, sigma: float) -> Array: ...
    @property
    def architecture(self) -> Literal["mlp", "unet"]: ...
    @property
    def dim(self) -> int: ...
    @property
    def step(self) -> int: ...
    @property
    def num_parameters(self) -> int: ...
    @property
    def training(self) -> str:
        """The training configuration and data description, as JSON."""
    @property
    def losses(self) -> npt.NDArray[np.float32]: ...

Model = Union[ExactDenoiser, ScoreNetwork, Denoise]

def train_network(
    train: Array, *, model: Literal["mlp", "unet"], steps: int, image_shape: Optional[Tuple[int, int]], config: str
) -> ScoreNetwork: ...
def sample(
    denoiser: Model,
    n: int,
    *,
    dim: Optional[int],
    seed: int,
    steps: int,
    sigma_min: Optional[float],
    sigma_max: Optional[float],
    sampler: Literal["em", "ddim", "heun"],
    eta: float,
    process: Literal["ve", "vp", "vp-cosine"],
    spacing: Literal["karras", "geometric", "linear-t"],
    batch_size: int,
    final_denoise: bool,
) -> Array: ...
def settle(
    denoiser: Model,
    x: Array,
    sigma: float,
    *,
    tolerance: Optional[float],
    max_iterations: Optional[int],
    method: Literal["auto", "unit", "flow"],
    margin: Optional[float],
    max_step: Optional[float],
    batch_size: int,
    gather: int,
) -> Tuple[Array, List[str], int, List[int]]: ...
def fixed_points(
    denoiser: Model,
    starts: Array,
    sigma: float,
    *,
    scale: Optional[float],
    float32: Optional[bool],
    eigenvalues: Optional[int],
    seed: int,
    batch_size: int,
    gather: int,
) -> str:
    """The FixedPointSet as JSON."""
def landscape(
    denoiser: Model,
    train: Array,
    heldout: Optional[Array],
    sigma: float,
    *,
    samples: int,
    eigenvalues: Optional[int],
    recovery: int,
    trials: int,
    seed: int,
    margin: Optional[float],
    batch_size: int,
    gather: int,
) -> Tuple[str, Array, Optional[Tuple[Array, npt.NDArray[np.float64], Array]]]:
    """The attractors.json document as JSON, the census's starts, and on 2-D data the energy,
    score and basin grids."""
def exact_landscape(
    patterns: Array,
    beta: float,
    *,
    random_starts: int,
    basin_starts: int,
    samples: int,
    seed: int,
) -> Tuple[str, Optional[Tuple[Array, Array, npt.NDArray[np.float64], Optional[Array]]]]:
    """The exact landscape's attractors.json document as JSON, and on 2-D data the basin map,
    energy and score grids and the stopped samples (when asked for)."""
def bifurcate(
    patterns: Array,
    beta_from: float,
    beta_to: float,
    *,
    weight_of: Optional[int],
    weight_to: float,
    steps: int,
    tolerance: float,
    random_starts: int,
    cusp_weights: Optional[List[float]],
) -> str:
    """bifurcations.json's document as JSON, or with cusp_weights cusps.json's."""
def hopfield(
    model: str,
    alpha: float,
    *,
    n: int,
    degree: int,
    nets: int,
    per_net: int,
    flip: float,
    seed: int,
) -> str:
    """The HopfieldResult as JSON."""
def stability(
    denoiser: Model,
    x: Array,
    sigma: float,
    *,
    scale: Optional[float],
    float32: Optional[bool],
    eigenvalues: Optional[int],
    seed: int,
    batch_size: int,
) -> str:
    """The Stability as JSON."""
def classify(
    train: Array,
    samples: Array,
    *,
    samples_b: Optional[Array],
    heldout: Optional[Array],
    delta_m: str,
    delta_s: str,
    f_mem_ratio: float,
    support_quantile: float,
    resamples: int,
    seed: int,
) -> Dict[str, Any]:
    """Per-sample arrays, and "summary" and "fractions" as JSON."""
def capacities(ks: List[int], memorized: List[float], spurious: List[float], generalized: List[float]) -> str: ...
def load_dataset(spec: str) -> Tuple[Array, Optional[npt.NDArray[np.uint32]], Optional[Tuple[int, int]]]: ...
def training_set(spec: str, k: int, holdout: Optional[int], subset_seed: int) -> Tuple[Array, Array]: ...
def defaults() -> str:
    """The studies' defaults as JSON: {"map", "sampler", "landscape", "dynamics", "classify",
    "exact_landscape", "bifurcate", "hopfield"}."""
def map(
    data: str,
    ks: List[int],
    *,
    model: Literal["exact", "mlp", "unet"],
    subset_seed: int,
    num_samples: int,
    steps: int,
    seed: int,
    sigma_min: Optional[float],
    sigma_max: Optional[float],
    sampler: Literal["em", "ddim", "heun"],
    eta: float,
    process: Literal["ve", "vp", "vp-cosine"],
    spacing: Literal["karras", "geometric", "linear-t"],
    batch_size: int,
    delta_m: str,
    delta_s: str,
    resamples: int,
    holdout: Optional[int],
    support_quantile: float,
    train_steps: int,
    train: str,
    out: Optional[str],
    command: List[str],
    models: Optional[List[Tuple[int, Model]]] = None,
    training_sets: Optional[Dict[int, Array]] = None,
    heldout: Optional[Array] = None,
    image_shape: Optional[Tuple[int, int]] = None,
    settle: Literal["flow", "unit-step"] = "flow",
    gather: int = 0,
) -> Dict[str, Any]: ...
def dynamics(
    data: str,
    ks: List[int],
    *,
    model: Literal["mlp", "unet"],
    seeds: int,
    subset_seed: int,
    holdout: int,
    train_steps: int,
    checkpoints: int,
    num_samples: int,
    steps: int,
    seed: int,
    sigma_min: Optional[float],
    sigma_max: Optional[float],
    sampler: Literal["em", "ddim", "heun"],
    eta: float,
    process: Literal["ve", "vp", "vp-cosine"],
    spacing: Literal["karras", "geometric", "linear-t"],
    batch_size: int,
    fmem_level: float,
    gen_level: float,
    resamples: int,
    support_quantile: float,
    attractors: bool,
    spur_level: float,
    attractor_groups: int,
    eigenvalues: Optional[int],
    train: str,
    out: Optional[str],
    command: List[str],
    units: Optional[List[Tuple[int, int, List[Tuple[int, Model]]]]] = None,
    folder: Optional[str] = None,
    training_sets: Optional[Dict[int, Array]] = None,
    heldout: Optional[Array] = None,
    image_shape: Optional[Tuple[int, int]] = None,
    gather: int = 0,
    trace: bool = False,
) -> str: ...
def set_progress(callback: Optional[Callable[[str, int, Optional[str], int], None]]) -> None: ...
def sweep_run(spec: str, *, out: Optional[str], jobs: Optional[int]) -> str:
    """The sweep's status as JSON."""
def sweep_status(spec: str, *, out: Optional[str]) -> str:
    """The sweep's status as JSON."""
def sweep_collect(spec: str, *, out: Optional[str], command: List[str]) -> str:
    """collect.json's document as JSON."""
