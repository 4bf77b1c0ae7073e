"""Studies on the user's own models (issue 30): ms.dynamics over checkpoints of a network trained
here in PyTorch, against ``memscape dynamics --checkpoints`` on the same files; ms.map over
callables that wrap the exact model, against ``memscape map --model exact``; the reference
U-Net's checkpoint round trip; and the bad inputs, each an exception naming the parameter or
file. CI installs torch and sets MEMSCAPE_REQUIRE_TORCH=1, so these run there."""

import os
import subprocess

import numpy as np
import pandas as pd
import pytest

import memscape as ms

if os.environ.get("MEMSCAPE_REQUIRE_TORCH"):
    import torch
else:
    torch = pytest.importorskip("torch")

from memscape.torch import MLP, TorchDenoiser, UNet, load_checkpoint, save_checkpoint  # noqa: E402

BIN = os.environ.get("MEMSCAPE_BIN", "memscape")
KS = (3, 12)
STEPS = (10, 60, 250, 1000)
# one sampler and census for both sides: a brief study
BRIEF = dict(n_samples=80, steps=24, resamples=30)
BRIEF_FLAGS = ["--n-samples", "80", "--sample-steps", "24", "--resamples", "30"]


def train_edm(x0, seed):
    """An EDM-preconditioned MLP (sigma_data = 1) trained here in PyTorch, kept at STEPS."""
    torch.manual_seed(seed)
    net = MLP(dim=2, width=64, depth=2, fourier_features=16)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    x0 = torch.tensor(x0, dtype=torch.float32)
    kept = []
    for step in range(1, STEPS[-1] + 1):
        x = x0[torch.randint(len(x0), (128,))]
        sigma = torch.exp(torch.empty(128, 1).uniform_(np.log(0.01), np.log(10.0)))
        y = x + sigma * torch.randn_like(x)
        c_skip, c_out, c_in = 1 / (sigma**2 + 1), sigma / (sigma**2 + 1).sqrt(), 1 / (sigma**2 + 1).sqrt()
        target = (x - c_skip * y) / c_out
        loss = ((net(c_in * y, sigma.log() / 4) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in STEPS:
            kept.append((step, {k: v.clone() for k, v in net.state_dict().items()}))
    return kept


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two K, one seed each, four checkpoints: saved in memscape's format in the folder layout
    and kept as torch modules."""
    folder = tmp_path_factory.mktemp("torch") / "ckpt"
    sets, heldout = {}, None
    modules = {}
    for k in KS:
        sets[k], heldout = ms.training_set("circle", k, holdout=40)
        for step, state in train_edm(sets[k], seed=k):
            net = MLP(dim=2, width=64, depth=2, fourier_features=16)
            net.load_state_dict(state)
            save_checkpoint(net, folder / f"K{k}" / "seed0" / f"step_{step}.safetensors", preconditioning="edm", step=step)
            modules[(k, step)] = net.eval()
        np.save(folder / f"K{k}" / "train.npy", sets[k])
    np.save(folder / "heldout.npy", heldout)
    return folder, sets, heldout, modules


def test_dynamics_over_torch_checkpoints_is_the_commands(trained, tmp_path):
    folder, sets, heldout, modules = trained
    cli = tmp_path / "cli"
    done = subprocess.run([BIN, "dynamics", "--checkpoints", str(folder), *BRIEF_FLAGS, "--out", str(cli)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = pd.read_csv(cli / "phase.csv")
    # the same files through Python: the same rows, to the byte
    paths = {(k, 0): [(s, folder / f"K{k}" / "seed0" / f"step_{s}.safetensors") for s in STEPS] for k in KS}
    by_path = ms.dynamics(checkpoints=paths, training_sets=sets, heldout=heldout, out=tmp_path / "paths", **BRIEF)
    assert (tmp_path / "paths" / "phase.csv").read_text() == (cli / "phase.csv").read_text()
    assert by_path.tau_mem == ms.dynamics(checkpoints=str(folder), **BRIEF).tau_mem
    # the torch modules themselves, in float32 on the CPU: the same rows, up to float32 rounding
    # in another order of summation (a sample may flip class; the losses agree to 1e-5)
    denoisers = {(k, 0): [(s, TorchDenoiser(modules[(k, s)], "edm")) for s in STEPS] for k in KS}
    ours = ms.dynamics(checkpoints=denoisers, training_sets=sets, heldout=heldout, out=tmp_path / "torch", **BRIEF)
    got = ours.to_pandas()
    assert list(zip(got.k, got.seed, got.step)) == list(zip(expected.k, expected.seed, expected.step))
    for cls in ["memorized", "spurious", "generalized", "off_support"]:
        assert np.abs(got[cls].to_numpy() - expected[cls].to_numpy()).max() <= 2 / 80, cls
    assert np.allclose(got.train_loss, expected.train_loss, rtol=1e-5)
    assert np.allclose(got.test_loss, expected.test_loss, rtol=1e-5)
    # the report has every section the command's has
    report = (tmp_path / "torch" / "report.html").read_text()
    for section in ["Headline", "Phase map over K and training step", "Attractors along training", "Manifest"]:
        assert f"<h2>{section}" in report, section
    assert (tmp_path / "torch" / "phase.csv").is_file() and (tmp_path / "torch" / "attractors.csv").is_file()


def test_map_over_callables_of_the_exact_model_is_memscape_map_exact(tmp_path):
    cli = tmp_path / "cli"
    flags = ["--k", "2,8,32", "--n-samples", "100", "--steps", "30", "--resamples", "20", "--holdout", "40"]
    done = subprocess.run([BIN, "map", "--model", "exact", *flags, "--out", str(cli)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    train = np.load(cli / "train.npy")
    _, heldout = ms.training_set("circle", 32, holdout=40)
    sets = {k: train[:k] for k in (2, 8, 32)}
    calls = []

    def wrap(k):
        exact = ms.ExactDenoiser(sets[k])

        def denoise(x, sigma):
            calls.append(len(x))
            return exact(x, sigma)

        denoise.precision = "float64"  # as the exact model computes
        return denoise

    r = ms.map(models={k: wrap(k) for k in sets}, training_sets=sets, heldout=heldout, n_samples=100, steps=30,
               resamples=20, settle="unit-step", out=tmp_path / "py")
    assert calls
    ours = pd.read_csv(tmp_path / "py" / "phase.csv")
    theirs = pd.read_csv(cli / "phase.csv")
    given = ours[ours.model == "given"].drop(columns="model").reset_index(drop=True)
    exact = theirs.drop(columns="model").reset_index(drop=True)
    pd.testing.assert_frame_equal(given, exact)
    # and its exact rows are the command's too
    pd.testing.assert_frame_equal(ours[ours.model == "exact"].reset_index(drop=True), theirs)
    assert [row["model"] for row in r.rows] == ["exact"] * 3 + ["given"] * 3
    assert (tmp_path / "py" / "report.html").is_file() and (tmp_path / "py" / "landscape_given_k32").is_dir()


def test_the_reference_unet_round_trips_through_a_memscape_checkpoint(tmp_path):
    torch.manual_seed(3)
    net = UNet(2, 7, 7, base=8, mults=(1, 2, 2)).eval()
    with torch.no_grad():  # GroupNorm away from (1, 0), so its parameters matter
        for name, p in net.named_parameters():
            if p.dim() == 1 and name.endswith(("n1.weight", "n2.weight", "n.weight", "outn.weight")):
                p.add_(0.2 * torch.randn_like(p))
    path = tmp_path / "unet.safetensors"
    saved = save_checkpoint(net, path, step=7)
    ours = ms.ScoreNetwork.load(path)
    assert (ours.architecture, ours.step, ours.dim) == ("unet", 7, 2 * 7 * 7)
    x = np.random.default_rng(0).normal(size=(5, 98))
    theirs = TorchDenoiser(net, "epsilon", image_shape=(2, 7, 7))
    for sigma in (0.05, 1.0, 20.0):
        assert np.allclose(ours(x, sigma), theirs(x, sigma), atol=2e-5 * max(1, sigma)), sigma
    assert np.array_equal(saved(x, 1.0), ours(x, 1.0))
    back, meta = load_checkpoint(path)
    assert meta["unet"]["base"] == 8 and meta["preconditioning"]["parametrization"] == "epsilon"
    for k, v in net.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k
    # memscape's own checkpoint of the fixture loads into the module and gives its output
    fixture = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "memscape-train", "tests", "fixtures", "unet_torch.safetensors")
    module, meta = load_checkpoint(fixture)
    stored = ms.ScoreNetwork.load(fixture)
    assert module.config["base"] == meta["unet"]["base"] == 8
    x = np.random.default_rng(1).normal(size=(3, stored.dim))
    assert np.allclose(TorchDenoiser(module, "epsilon", image_shape=(2, 7, 7))(x, 0.5), stored(x, 0.5), atol=1e-4)


def test_an_mlp_checkpoint_round_trips_and_torch_agrees_with_memscape(tmp_path):
    torch.manual_seed(0)
    net = MLP(dim=3, width=16, depth=2, fourier_features=4).eval()
    path = tmp_path / "m.safetensors"
    save_checkpoint(net, path, preconditioning="edm", sigma_data=0.5)
    ours = ms.ScoreNetwork.load(path)
    x = np.random.default_rng(0).normal(size=(6, 3))
    torch_side = TorchDenoiser(net, "edm", sigma_data=0.5)
    for sigma in (0.02, 0.7, 8.0):
        assert np.allclose(ours(x, sigma), torch_side(x, sigma), atol=1e-5), sigma
    f64 = TorchDenoiser(MLP(dim=3, width=16, depth=2, fourier_features=4), "raw", dtype=torch.float64)
    assert f64.precision == "float64" and f64(x, 1.0).dtype == np.float64


def test_bad_inputs_name_the_parameter_or_file(trained, tmp_path):
    folder, sets, heldout, modules = trained
    exact = {k: ms.ExactDenoiser(v) for k, v in sets.items()}
    # a K whose training set is missing
    with pytest.raises(ValueError, match=r"training_sets must be one set per K of \[3, 12\], got none for K = 12"):
        ms.map(models=exact, training_sets={3: sets[3]}, **BRIEF)
    with pytest.raises(ValueError, match="training_sets must be given with checkpoints"):
        ms.dynamics(checkpoints={(3, 0): [(1, exact[3])]})
    # a denoiser of the wrong shape, and of the wrong kind of output
    with pytest.raises(ValueError, match=r"denoiser output must be an array of the input's shape \[\d+, 2\], got shape \[\d+, 3\]"):
        ms.map(models={3: lambda x, s: np.zeros((len(x), 3)), 12: exact[12]}, training_sets=sets, **BRIEF)
    with pytest.raises(ValueError, match="denoiser output must be an array of floats"):
        ms.map(models={3: lambda x, s: "noise", 12: exact[12]}, training_sets=sets, **BRIEF)
    with pytest.raises(ValueError, match=r"models\[3\] must be a denoiser of the training sets' dimension 2"):
        ms.map(models={3: ms.ExactDenoiser(np.zeros((3, 5))), 12: exact[12]}, training_sets=sets, **BRIEF)
    # checkpoints of mixed architectures under one K
    unet = tmp_path / "unet.safetensors"
    save_checkpoint(UNet(1, 2, 1, base=8, mults=(1,)), unet)
    mlp = folder / "K3" / "seed0" / "step_10.safetensors"
    with pytest.raises(ValueError, match=r"checkpoints\[K=3\] must be networks of one architecture, got a mlp at step 1 and a unet at step 2"):
        ms.dynamics(checkpoints={(3, 0): [(1, mlp), (2, unet)]}, training_sets={3: sets[3]})
    # a checkpoint folder with a missing step
    broken = tmp_path / "broken"
    subprocess.run(["cp", "-r", str(folder), str(broken)], check=True)
    os.remove(broken / "K12" / "seed0" / "step_60.safetensors")
    with pytest.raises(ValueError, match=r"broken/K12/seed0: has no checkpoint at step 60"):
        ms.dynamics(checkpoints=broken, **BRIEF)
    # a checkpoint at step 0 (the taus are read in log step), refused before any is measured
    with pytest.raises(ValueError, match=r"steps must be a non-empty, strictly increasing list of steps ≥ 1"):
        ms.dynamics(checkpoints={(3, 0): [(0, exact[3]), (5, exact[3])]}, training_sets={3: sets[3]}, **BRIEF)
    # given models: the training arguments are not read, so model="exact" is no error there
    with pytest.raises(ValueError, match=r"steps must be"):
        ms.dynamics(checkpoints={(3, 0): [(0, exact[3])]}, training_sets={3: sets[3]}, model="exact", **BRIEF)
    # checkpoints with unequal steps given in Python
    with pytest.raises(ValueError, match=r"checkpoints\[K=12, seed=0\] must be one per step of \[1, 2\], in order \(the first unit's\), got steps \[1\]"):
        ms.dynamics(checkpoints={(3, 0): [(1, exact[3]), (2, exact[3])], (12, 0): [(1, exact[12])]}, training_sets=sets, **BRIEF)
