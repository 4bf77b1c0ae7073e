"""The Python API against the command line (bit for bit), against the built-in paths, on bad
arguments, and with the GIL released."""

import dataclasses
import inspect
import json
import re
import threading
import time

import numpy as np
import pandas as pd
import pytest

import memscape as ms

DATA = "gmm:d=4,n=300"


def test_same_seed_gives_the_cli_samples_and_classification_bit_for_bit(cli, tmp_path):
    cli("sample", "--data", DATA, "--k", 20, "--holdout", 100, "--n-samples", 300, "--seed", 7,
        "--steps", 60, "--out", tmp_path / "s")
    train, heldout = ms.training_set(DATA, 20, holdout=100)
    assert np.array_equal(train, np.load(tmp_path / "s" / "train.npy"))
    samples = ms.sample(ms.ExactDenoiser(train), 300, seed=7, steps=60)
    assert np.array_equal(samples, np.load(tmp_path / "s" / "samples.npy"))

    np.save(tmp_path / "heldout.npy", heldout)
    out = cli("classify", "--train", tmp_path / "s" / "train.npy", "--samples", tmp_path / "s" / "samples.npy",
              "--holdout", tmp_path / "heldout.npy", "--seed", 3, "--out", tmp_path / "c", "--json")
    c = ms.classify(train, samples, heldout=heldout, seed=3)
    assert c.summary == json.loads(out.stdout)
    labels = pd.read_csv(tmp_path / "c" / "labels.csv")
    assert list(labels["class"]) == list(c.classes)
    for column in ["d_train", "d_train2", "nearest_train", "d_sample", "d_support"]:
        assert np.array_equal(labels[column].to_numpy(), getattr(c, column)), column
    assert c.fractions["memorized"].value == c.summary["memorized"]
    assert sum(c.fractions[k].value for k in ["memorized", "spurious", "generalized", "off_support"]) == pytest.approx(1)
    # the chance levels of the 100 held-out draws, and thresholds calibrated on them, as the CLI
    assert c.chance == c.summary["chance"] and c.chance["draws"] == 100
    assert c.fidelity == c.summary["fidelity"] and 0 <= c.fidelity["precision"] <= 1
    calibrated = ["--delta-m", "calibrated:0.05", "--delta-s", "calibrated"]
    out = cli("classify", "--train", tmp_path / "s" / "train.npy", "--samples", tmp_path / "s" / "samples.npy",
              "--holdout", tmp_path / "heldout.npy", "--seed", 3, "--json", *calibrated)
    c = ms.classify(train, samples, heldout=heldout, seed=3, delta_m="calibrated:0.05", delta_s="calibrated")
    assert c.summary == json.loads(out.stdout)
    assert c.thresholds["delta_m"] < json.loads(out.stdout)["thresholds"]["train_spacing"]


def test_map_gives_the_cli_phase_table_and_read_run_reads_it(cli, tmp_path):
    args = dict(model="exact", n_samples=200, steps=30, seed=2, resamples=50)
    cli("map", "--data", "circle", "--k", "2,9,40", "--model", "exact", "--n-samples", 200, "--steps", 30,
        "--seed", 2, "--resamples", 50, "--out", tmp_path / "m")
    run = ms.read_run(tmp_path / "m")
    result = ms.map("circle", [2, 9, 40], **args)
    # the table is phase.csv: every column, every value
    pd.testing.assert_frame_equal(result.to_pandas(), pd.read_csv(tmp_path / "m" / "phase.csv"))
    pd.testing.assert_frame_equal(result.to_pandas(), run.tables["phase"])
    assert np.array_equal(run.arrays["samples_k9"], result.samples[("exact", 9)])
    assert np.array_equal(run.arrays["attractors_k40"], result.attractors[("exact", 40)])
    assert run.manifest["command"][1] == "map"
    # the landscape folders beside the map are read too
    landscapes = [name for name in run.runs if name.startswith("landscape")]
    assert landscapes, sorted(run.runs)
    assert all(run.runs[name].documents or run.runs[name].arrays for name in landscapes)
    # results and runs print in a few lines
    for shown in [result, run, ms.classify(result.train[:9], result.samples[("exact", 9)])]:
        text = repr(shown)
        assert len(text) < 600 and text.count("\n") == 0, text
    # the same typed document as results.json, but for the timings and the 2-D landscapes the
    # command draws beside the map
    written = dict(run.results)
    written.pop("landscapes")
    for row in written["rows"] + result.results["rows"]:
        row.pop("seconds")
    assert result.results == written


@pytest.mark.parametrize("sampler", ["em", "ddim", "heun"])
def test_a_callable_wrapping_the_exact_denoiser_gives_the_built_in_samples(sampler):
    train, _ = ms.training_set("circle", 12)
    exact = ms.ExactDenoiser(train)
    calls = []

    def denoise(x, sigma):
        calls.append(len(x))
        return exact.denoise(x, sigma)

    kw = dict(seed=5, steps=40, sampler=sampler, eta=0.5, sigma_max=10 * exact.scale, sigma_min=1e-3 * exact.scale)
    built_in = ms.sample(exact, 150, **kw)
    through_python = ms.sample(denoise, 150, dim=2, batch_size=64, **kw)
    assert np.array_equal(built_in, through_python)
    assert max(calls) == 64  # the batch size reached the callable
    settled = ms.settle(exact, built_in, 0.05)
    # the exact model's default is the unit step (CCCP); a callable's is the flow
    through = ms.settle(denoise, built_in, 0.05, tolerance=1e-9, method="unit")
    assert np.array_equal(settled.points, through.points)
    assert settled.status == through.status and set(settled.status) == {"converged"}


def test_exact_denoiser_score_energy_and_hessian_agree_with_each_other():
    train, _ = ms.training_set("gmm:d=3,n=50", 10)
    d = ms.ExactDenoiser(train)
    x = np.random.default_rng(0).normal(size=(5, 3))
    sigma = 0.7
    # Tweedie: score = (D − x)/sigma²; the energy's gradient is x − D (theory.md §1), checked by
    # central differences to 1e-6
    assert np.allclose(d.score(x, sigma), (d.denoise(x, sigma) - x) / sigma**2)
    h = 1e-5
    for i in range(3):
        e = np.zeros(3)
        e[i] = h
        grad = (d.energy(x + e, sigma) - d.energy(x - e, sigma)) / (2 * h)
        assert np.allclose(grad, (x - d.denoise(x, sigma))[:, i], atol=1e-6)
    # the Hessian is the Jacobian of x − D(x): compare with differences of D
    jac = np.stack([(d.denoise(x[:1] + h * np.eye(3)[i], sigma) - d.denoise(x[:1] - h * np.eye(3)[i], sigma))[0] / (2 * h)
                    for i in range(3)], axis=1)
    assert np.allclose(d.hessian(x[0], sigma), np.eye(3) - jac, atol=1e-6)


def test_fixed_points_of_the_exact_model_are_its_patterns_at_small_sigma():
    train, _ = ms.training_set("circle:n=64", 6)
    d = ms.ExactDenoiser(train)
    samples = ms.sample(d, 200, seed=1, steps=50)
    fp = ms.fixed_points(d, ms.settle(d, samples, 0.02).points, 0.02)
    # at sigma = 0.02 on 6 circle points each pattern is a stable memory (theory.md §5), pulled
    # towards a neighbour at distance r by about r exp(−r²/2sigma²) (its softmax weight)
    r = np.linalg.norm(train[:, None] - train[None], axis=2)[~np.eye(6, dtype=bool)]
    shift = np.max(r * np.exp(-(r**2) / (2 * 0.02**2)))
    assert len(fp.points) == 6
    for p in fp.points:
        assert np.min(np.linalg.norm(train - p.x, axis=1)) < 2 * shift + 1e-9
        assert p.residual < 1e-9 and p.stability.index == 0 and p.stability.certified
    assert all(a is not None for a in fp.assignment)
    # a saddle between two neighbours: the midpoint of a close pair at larger sigma
    s = ms.stability(d, train.mean(axis=0), 2.0)
    assert s.eigenvalues.shape == (2,)


BAD = [
    (lambda d: ms.sample(d, 0), ValueError, "n must be an integer ≥ 1, got 0"),
    (lambda d: ms.sample(d, 10, steps=-3), ValueError, "steps must be an integer ≥ 1, got -3"),
    (lambda d: ms.sample(d, 10, sigma_min=-0.1), ValueError, "sigma_min must be > 0 and finite, got -0.1"),
    (lambda d: ms.sample(d, 10, sampler="rk4"), ValueError, "sampler must be one of em, ddim, heun, got rk4"),
    (lambda d: ms.sample(d, 10, process="vq"), ValueError, 'process must be one of ve, vp, vp-cosine, got "vq"'),
    (lambda d: ms.sample(d, 10, batch_size=0), ValueError, "batch_size must be an integer ≥ 1, got 0"),
    (lambda d: ms.sample(lambda x, s: x, 10), ValueError, "dim must be given for a callable denoiser"),
    (lambda d: ms.sample(lambda x, s: x, 10, dim=2), ValueError, "sigma_max must be given for a network or a callable"),
    (lambda d: ms.sample(lambda x, s: x[:, :1], 4, dim=2, sigma_max=1.0, sigma_min=0.1), ValueError,
     "denoiser output must be an array of the input's shape [4, 2], got shape [4, 1]"),
    (lambda d: ms.sample(lambda x, s: "no", 4, dim=2, sigma_max=1.0, sigma_min=0.1), ValueError,
     "denoiser output must be an array of floats (a torch tensor on the CPU, a NumPy array, a list), got str object"),
    (lambda d: ms.sample(42, 10), TypeError, "denoiser must be an ExactDenoiser, a ScoreNetwork or a callable"),
    (lambda d: ms.sample(d, 10, dim=3), ValueError, "dim must be the denoiser's dimension 2 (or None), got 3"),
    (lambda d: ms.train_network(d.patterns, steps=0), ValueError, "steps must be an integer ≥ 1, got 0"),
    (lambda d: ms.train_network(d.patterns, dropout=1.5), ValueError, "dropout must be in [0, 1), got 1.5"),
    (lambda d: ms.train_network(d.patterns, model="unet"), ValueError, "model must be mlp on data without an image shape"),
    (lambda d: ms.ScoreNetwork.load("/no/such.safetensors"), FileNotFoundError, "/no/such.safetensors"),
    (lambda d: d.denoise(np.ones((3, 5)), 0.1), ValueError, "x must be an (n, 2) array (the data's dimension is 2), got an array of shape [3, 5]"),
    (lambda d: d.denoise(np.ones((3, 2)), -1.0), ValueError, "sigma must be > 0 and finite, got -1"),
    (lambda d: d.denoise(np.array([[np.nan, 0.0]]), 1.0), ValueError, "x: value at row 0, column 0 is NaN"),
    (lambda d: ms.ExactDenoiser(np.ones((3, 2)), precision="f16"), ValueError, 'precision must be "f64" or "f32", got "f16"'),
    (lambda d: ms.ExactDenoiser(np.ones((3, 2)), pruning=3.0), ValueError, "pruning must be a tolerance in (0, 1), got 3"),
    (lambda d: ms.classify(np.ones((1, 2)), np.ones((3, 2))), ValueError, "training set must be at least 2 points"),
    (lambda d: ms.classify(d.patterns, np.ones((3, 4))), ValueError, "samples must be an (n, 2) array"),
    (lambda d: ms.classify(d.patterns, np.ones((3, 2)), delta_m=-1.0), ValueError, 'delta_m must be a number > 0, "auto" or "calibrated[:q]", got -1'),
    (lambda d: ms.classify(d.patterns, np.ones((3, 2)), delta_s="big"), ValueError, 'delta_s must be a number > 0, "auto" or "calibrated[:q]", got big'),
    (lambda d: ms.classify(d.patterns, np.ones((3, 2)), delta_m="calibrated"), ValueError, "delta_m must be a distance or auto without held-out data to calibrate on, got calibrated:0.01"),
    (lambda d: ms.classify(d.patterns, np.ones((3, 2)), delta_m="calibrated:0"), ValueError, "delta_m must be calibrated:q with q in (0, 1), got calibrated:0"),
    (lambda d: ms.classify(d.patterns, np.ones((3, 2)), f_mem_ratio=2.0), ValueError, "f_mem_ratio must be in (0, 1], got 2"),
    (lambda d: ms.training_set("circle", 10**6), ValueError, "k must be between 1 and the number of points available"),
    (lambda d: ms.dataset("nope"), ValueError, 'data: unknown dataset "nope"'),
    (lambda d: ms.dataset("/no/such/file.npy"), FileNotFoundError, "/no/such/file.npy"),
    (lambda d: ms.capacities([2, 9], [1.0], [0.0, 0.0], [0.0, 1.0]), ValueError, "memorized must be one fraction per K (2 values), got 1 values"),
    (lambda d: ms.map(ks=[9, 2]), ValueError, "ks must be a non-empty, strictly increasing list of integers ≥ 1, got [9, 2]"),
    (lambda d: ms.map(model="gan"), ValueError, 'model must be one of exact, mlp, unet, got "gan"'),
    (lambda d: ms.map(train={"widht": 8}), ValueError, 'got key "widht"'),
    (lambda d: ms.map(train={"lr": -1.0}, ks=[2]), ValueError, "lr must be > 0 and finite, got -1"),
    (lambda d: ms.map("circle", [2, 9], model="unet"), ValueError, "model must be mlp on data without an image shape"),
    (lambda d: ms.dynamics(model="exact"), ValueError, "model must be mlp or unet"),
    (lambda d: ms.fixed_points(d, np.zeros((0, 2)), 0.1), ValueError, "starts must be at least one row"),
    (lambda d: ms.fixed_points(d, np.zeros((1, 2)), 0.1, eigenvalues=5), ValueError, "eigenvalues must be at most the dimension 2, got 5"),
    (lambda d: ms.read_run("/no/such/run"), FileNotFoundError, "/no/such/run: must be a run directory"),
]


@pytest.mark.parametrize("call,kind,message", BAD, ids=[m[:40] for _, _, m in BAD])
def test_bad_arguments_raise_with_the_rule_and_the_value(call, kind, message):
    d = ms.ExactDenoiser(ms.training_set("circle", 5)[0])
    with pytest.raises(kind) as e:
        call(d)
    assert message in str(e.value)


def test_an_exception_in_the_callable_is_raised_once_and_stops_calling_it():
    calls = []

    def denoise(x, sigma):
        calls.append(sigma)
        if len(calls) == 3:
            raise RuntimeError("the model broke")
        return x

    with pytest.raises(RuntimeError, match="the model broke"):
        ms.sample(denoise, 8, dim=2, steps=50, sigma_max=1.0, sigma_min=0.01)
    assert len(calls) == 3


def test_long_calls_release_the_gil():
    train, _ = ms.training_set("gmm:d=64,n=3000", 2000)
    d = ms.ExactDenoiser(train, pruning="off")
    ticks, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1

    thread = threading.Thread(target=count)
    thread.start()
    time.sleep(0.05)
    start = time.perf_counter()
    before = ticks[0]
    ms.sample(d, 2000, steps=40)
    during = ticks[0] - before
    elapsed = time.perf_counter() - start
    stop.set()
    thread.join()
    # a Python loop counts ~10⁶–10⁷ a second; holding the GIL for the call would leave it at the
    # few ticks of one switch interval (5 ms)
    assert elapsed > 0.2, elapsed
    assert during > 20_000 * elapsed, (during, elapsed)


def test_progress_reaches_the_callback_and_tqdm():
    events = []
    ms.set_progress(lambda *e: events.append(e))
    try:
        train, _ = ms.training_set("circle", 9)
        ms.sample(ms.ExactDenoiser(train), 300, steps=30, batch_size=100)
    finally:
        ms.set_progress(None)
    starts = [e for e in events if e[0] == "start"]
    # 30 noise levels and the final step to sigma = 0: 30 steps of 300 samples
    assert [(e[2], e[3]) for e in starts] == [("sampling (sample-steps)", 300 * 30)]
    task = starts[0][1]
    assert ("finish", task, None, 0) in events
    advances = [e[3] for e in events if e[0] == "advance"]
    assert advances[-1] == 300 * 30 and advances == sorted(advances)
    ms.show_progress()
    try:
        ms.sample(ms.ExactDenoiser(train), 50, steps=10)
    finally:
        ms.show_progress(False)


def test_dynamics_is_the_cli_results_document(cli, tmp_path):
    """One shape of a dynamics row (issue 29): ``memscape.dynamics`` returns the document
    ``memscape dynamics`` writes as ``results.json``, flat rows and all (the command adds only its
    interventions table), from the same library call; the table has a row per (K, checkpoint)."""
    kw = dict(seeds=1, train_steps=150, checkpoints=3, n_samples=60, steps=20, holdout=200,
              resamples=20, attractor_groups=4, train={"width": 32, "depth": 2})
    r = ms.dynamics("circle", [4, 8], out=tmp_path / "py", **kw)
    cli("dynamics", "--data", "circle", "--k", "4,8", "--seeds", 1, "--steps", 150, "--checkpoints", 3,
        "--n-samples", 60, "--sample-steps", 20, "--holdout", 200, "--resamples", 20,
        "--attractor-groups", 4, "--width", 32, "--depth", 2, "--out", tmp_path / "d")
    theirs = json.loads((tmp_path / "d" / "results.json").read_text())
    ours = json.loads(json.dumps(dataclasses.asdict(r)))
    assert [i["name"] for i in theirs.pop("interventions")] == ["none"]
    assert len(ours.pop("attractors")) >= 1
    for doc in (theirs, ours):
        doc.pop("seconds")
    assert ours == theirs
    assert set(r.rows[0]) >= {"k", "seed", "step", "memorized", "f_mem", "f_mem_ci", "train_loss", "attractors"}
    table = r.to_pandas()
    assert len(table) == 2 * 3
    assert set(table["k"]) == {4, 8} and table["step"].max() == 150
    assert (table["f_mem_lo"] <= table["f_mem"]).all() and (table["f_mem"] <= table["f_mem_hi"]).all()
    assert "attractors.counts.memory" in table
    assert [t["k"] for t in r.tau_mem] == [4, 8]
    assert_same_run_directory(tmp_path / "py", tmp_path / "d")


def test_dynamics_traces_its_units(tmp_path):
    """``trace=True`` (issue 26): every unit's fixed points followed through training, tau_spur
    from births per K, ``trace.json`` in the run directory; refused for given checkpoints."""
    kw = dict(seeds=2, train_steps=400, checkpoints=4, n_samples=60, steps=20, holdout=200,
              resamples=20, attractor_groups=4, train={"width": 32, "depth": 2})
    r = ms.dynamics("circle", [4, 8], out=tmp_path / "t", trace=True, **kw)
    assert [t["k"] for t in r.tau_spur_birth] == [4, 8]
    units = json.loads((tmp_path / "t" / "trace.json").read_text())["units"]
    assert sorted((u["k"], u["seed"]) for u in units) == [(4, 0), (4, 1), (8, 0), (8, 1)]
    assert (tmp_path / "t" / "trace.svg").is_file()
    untraced = ms.dynamics("circle", [4], seeds=1, train_steps=100, checkpoints=2, n_samples=40, steps=10)
    assert untraced.tau_spur_birth == [] and untraced.fit_spur_birth is None
    with pytest.raises(ValueError, match="trace"):
        ms.dynamics(checkpoints=str(tmp_path / "nowhere"), trace=True)


def untimed(doc):
    """A JSON document without its timings (``seconds``, ``timings`` and ``*_s`` at any depth)."""
    if isinstance(doc, dict):
        return {k: untimed(v) for k, v in doc.items() if k not in ("seconds", "timings") and not k.endswith("_s")}
    if isinstance(doc, list):
        return [untimed(v) for v in doc]
    return doc


def assert_same_run_directory(ours, theirs):
    """Two run directories of one study hold the same files with the same bytes, apart from
    what records the call (``manifest.json``, ``report.html``) and the timings of their JSON
    documents."""
    files = sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
    assert sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file()) == files
    for f in files:
        if f.name in ("manifest.json", "report.html"):
            continue
        a, b = (ours / f).read_bytes(), (theirs / f).read_bytes()
        if f.suffix == ".json":
            a, b = (untimed(json.loads(x)) for x in (a, b))
        assert a == b, f
    manifest = json.loads((ours / "manifest.json").read_text())
    assert manifest["command"][0].startswith("memscape.")
    assert sorted(manifest["files"]) == sorted(json.loads((theirs / "manifest.json").read_text())["files"])


def test_map_writes_the_cli_run_directory(cli, tmp_path):
    """Studies write their run directory from Python (issue 30): ``ms.map(out=)`` writes what
    ``memscape map --out`` writes, the trained network's landscape on 2-D data included."""
    r = ms.map("circle", [4, 16], model="mlp", n_samples=200, steps=40, train_steps=300, out=tmp_path / "py")
    cli("map", "--k", "4,16", "--n-samples", 200, "--steps", 40, "--train-steps", 300, "--out", tmp_path / "m")
    assert_same_run_directory(tmp_path / "py", tmp_path / "m")
    assert [l["model"] for l in r.results["landscapes"]] == ["exact", "mlp"]
    assert (tmp_path / "py" / "report.html").read_text().count("<figure") >= 3


def test_a_network_trained_from_python_is_the_cli_network_and_samples_alike(cli, tmp_path):
    cli("train", "--data", "circle", "--k", 4, "--steps", 300, "--checkpoints", 1, "--width", 32, "--depth", 2,
        "--out", tmp_path / "t")
    (checkpoint,) = sorted((tmp_path / "t").glob("**/*.safetensors"))
    theirs = ms.ScoreNetwork.load(checkpoint)
    train, _ = ms.training_set("circle", 4)
    ours = ms.train_network(train, steps=300, width=32, depth=2)
    assert (ours.architecture, ours.dim, ours.step) == ("mlp", 2, 300) and len(ours.losses) == 300
    x = np.random.default_rng(0).normal(size=(50, 2))
    # same seed, same configuration: the same weights, so the same denoiser to the last bit
    assert np.array_equal(ours.denoise(x, 0.3), theirs.denoise(x, 0.3))
    cli("sample", "--data", "circle", "--k", 4, "--checkpoint", checkpoint, "--n-samples", 100, "--steps", 30,
        "--sigma-min", 0.02, "--sigma-max", 10, "--seed", 4, "--out", tmp_path / "s")
    kw = dict(seed=4, steps=30, sigma_min=0.02, sigma_max=10.0)
    samples = ms.sample(ours, 100, **kw)
    assert np.array_equal(samples, np.load(tmp_path / "s" / "samples.npy"))
    assert np.array_equal(samples, ms.sample(lambda x, s: ours.denoise(x, s), 100, dim=2, **kw))
    ours.save(tmp_path / "ours.safetensors")
    again = ms.ScoreNetwork.load(tmp_path / "ours.safetensors")
    assert np.array_equal(again.denoise(x, 0.3), ours.denoise(x, 0.3))
    fp = ms.fixed_points(ours, ms.settle(ours, samples, 0.02).points[:20], 0.02)
    assert len(fp.points) >= 1 and all(p.stability is not None for p in fp.points)


def test_dir_lists_the_api_only():
    assert dir(ms) == sorted(ms.__all__)
    assert "np" not in dir(ms) and "Any" not in dir(ms)


def test_options_are_typed_as_their_allowed_values():
    import typing

    for function, parameter, value in [
        (ms.sample, "sampler", "heun"),
        (ms.sample, "process", "vp-cosine"),
        (ms.sample, "spacing", "linear-t"),
        (ms.settle, "method", "flow"),
        (ms.map, "model", "exact"),
        (ms.dynamics, "model", "unet"),
        (ms.train_network, "model", "mlp"),
    ]:
        hint = typing.get_type_hints(function)[parameter]
        assert typing.get_origin(hint) is typing.Literal, (function.__name__, parameter, hint)
        assert value in typing.get_args(hint), (function.__name__, parameter, hint)


def test_training_sets_keep_held_out_points_out_and_classify_refuses_shared_ones():
    # K = 9 is the README's call, ms.training_set("circle", 9)
    sets = {k: ms.training_set("circle", k) for k in [4, 9, 16, 64, 256]}
    for k, (train, heldout) in sets.items():
        assert len(train) == k and len(heldout) == 1000, (k, heldout.shape)
        held = {tuple(r) for r in heldout}
        assert all(not held & {tuple(r) for r in t} for t, _ in sets.values()), k
    assert len(ms.training_set("circle", 4, holdout=0)[1]) == 0
    train, heldout = sets[16]
    samples = ms.sample(ms.ExactDenoiser(train), 50, steps=10, seed=0)
    with pytest.raises(ValueError, match="heldout must be points outside the training set.*got 3 of its 1003 points"):
        ms.classify(train, samples, heldout=np.vstack([train[:3], heldout]))


def test_every_denoiser_call_is_batched_and_unconverged_points_are_said():
    """settle, fixed_points and stability call a denoiser on at most batch_size rows, with the
    same results as one call; points left unconverged are counted and warned about."""
    import warnings

    train, _ = ms.training_set("circle", 9)
    exact = ms.ExactDenoiser(train)
    largest = [0]

    def counting(x, sigma):
        largest[0] = max(largest[0], len(x))
        return exact.denoise(x, sigma)

    x = ms.sample(exact, 300, steps=20, seed=0, sigma_min=0.05)
    whole = ms.settle(counting, x, 0.05, method="unit")
    assert largest[0] == 300
    largest[0] = 0
    cut = ms.settle(counting, x, 0.05, method="unit", batch_size=64)
    assert largest[0] == 64
    assert np.array_equal(whole.points, cut.points) and whole.status == cut.status
    largest[0] = 0
    ms.fixed_points(counting, whole.points[:40], 0.05, batch_size=16)
    assert 0 < largest[0] <= 16
    largest[0] = 0
    ms.stability(counting, whole.points[0], 0.05, batch_size=4)
    assert 0 < largest[0] <= 4
    with pytest.raises(ValueError, match="batch_size must be"):
        ms.settle(counting, x, 0.05, batch_size=0)
    # two unit steps cannot settle noisy samples: said, and counted
    with pytest.warns(RuntimeWarning, match=r"settle: \d+ of 300 points did not converge"):
        few = ms.settle(exact, x + 0.3, 0.05, method="unit", max_iterations=2)
    assert few.unconverged == int((~few.converged).sum()) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ms.settle(exact, x, 0.05).unconverged == 0


@pytest.mark.parametrize("output, message", [
    (lambda x, s: x[:, 0], r"denoiser output must be an array of the input's shape \[\d+, 2\], got shape \[\d+\]"),
    (lambda x, s: np.where(np.arange(len(x))[:, None] == 3, np.nan, x),
     r"denoiser output must be finite \(no NaN or infinity\), got NaN in row 3 at sigma 0.1"),
])
def test_a_callables_output_is_checked_for_shape_and_finiteness(output, message):
    x = ms.dataset("circle:n=200").points[:20]
    with pytest.raises(ValueError, match=message):
        ms.settle(output, x, 0.1, method="unit")


# Every function that takes points reads them by one rule: the same input is accepted, or
# refused with the same kind of message, by each of them.
_TRAIN = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0], [0.7, 0.7], [-0.7, 0.7]])
_INPUTS = {
    "float32": (lambda: _TRAIN.astype(np.float32), None),
    "list": (lambda: _TRAIN.tolist(), None),
    "int": (lambda: np.rint(_TRAIN).astype(np.int64), None),
    "image stack (6, 1, 2)": (lambda: _TRAIN.reshape(6, 1, 2), None),
    "wrong width": (lambda: np.ones((6, 3)), r"must be an \(n, 2\) array|dimension"),
    "one point": (lambda: np.ones(2), r"must be an \(n, d\) array of numbers .* got an array of shape \(2,\) and dtype float64"),
    "NaN": (lambda: np.where(_TRAIN == 1.0, np.nan, _TRAIN), r"is NaN"),
    "complex": (lambda: _TRAIN.astype(complex), r"must be an array of real numbers, got an array of dtype complex128"),
}
try:
    import torch

    _INPUTS["torch float32 tensor"] = (lambda: torch.tensor(_TRAIN, dtype=torch.float32), None)
    _INPUTS["torch tensor with NaN"] = (lambda: torch.tensor(_INPUTS["NaN"][0]()), r"is NaN")
except ImportError:  # CI requires torch (MEMSCAPE_REQUIRE_TORCH=1, test_torch.py)
    pass
_EXACT = ms.ExactDenoiser(_TRAIN)
_TAKERS = {
    "ExactDenoiser": lambda x: ms.ExactDenoiser(x),
    "ExactDenoiser.denoise": lambda x: _EXACT.denoise(x, 0.1),
    "ExactDenoiser.energy": lambda x: _EXACT.energy(x, 0.1),
    "classify(samples)": lambda x: ms.classify(_TRAIN, x),
    "settle": lambda x: ms.settle(_EXACT, x, 0.1),
    "fixed_points": lambda x: ms.fixed_points(_EXACT, x, 0.1, eigenvalues=0),
}


@pytest.mark.parametrize("taker", list(_TAKERS))
@pytest.mark.parametrize("kind", list(_INPUTS))
def test_every_function_reads_points_by_one_rule(taker, kind):
    make, refusal = _INPUTS[kind]
    x = make()
    if kind == "wrong width" and taker == "ExactDenoiser":
        refusal = None  # a denoiser of 3-D patterns is fine
    if refusal is None:
        _TAKERS[taker](x)
    else:
        with pytest.raises(ValueError, match=refusal):
            _TAKERS[taker](x)


def test_a_torch_tensor_is_read_as_its_values():
    torch = pytest.importorskip("torch")
    t = torch.tensor(_TRAIN, dtype=torch.float32)
    assert np.array_equal(ms.ExactDenoiser(t).patterns, _TRAIN.astype(np.float32).astype(np.float64))
    assert np.array_equal(_EXACT.denoise(t, 0.1), _EXACT.denoise(_TRAIN.astype(np.float32), 0.1))


def test_studies_name_their_data_argument():
    with pytest.raises(TypeError, match=r'data must be a dataset spec such as "circle".*got ndarray of shape \(6, 2\)'):
        ms.map(_TRAIN)
    with pytest.raises(TypeError, match="spec must be a dataset spec"):
        ms.training_set(_TRAIN, 2)


def test_an_image_stack_keeps_its_image_shape():
    """train_network reads (H, W) from an N×H×W or N×C×H×W stack: a U-Net trains on it without
    image_shape, and denoises the same stack (flattened rows come back)."""
    images = np.random.default_rng(0).uniform(-1, 1, (6, 8, 8))
    tiny = dict(model="unet", steps=2, unet_base=8, unet_mults=[1, 2], unet_groups=4, batch_size=4)
    for stack in [images, images[:, None]]:
        net = ms.train_network(stack, **tiny)
        assert net.architecture == "unet"
        assert net.denoise(stack[:2], 0.5).shape == (2, 64)


def assert_defaults_agree(params, flag_default, pairs):
    """Each Python parameter's default equals its flag's (``pairs``: parameter → flag)."""
    for name, flag in pairs.items():
        default = params[name].default
        shown = ",".join(map(str, default)) if name == "ks" else str(default)
        if isinstance(default, float):
            assert float(flag_default[flag]) == default, (name, flag_default[flag])
        else:
            assert flag_default[flag] == shown, (name, flag_default[flag], shown)


def help_defaults(help_text):
    """Each flag's ``[default: …]`` in a command's ``--help`` (clap: the flag's line starts with
    ``--name`` or ``-x, --name``; its default ends its description)."""
    defaults, flag = {}, None
    for line in help_text.splitlines():
        start = re.match(r"\s+(?:-\w, )?--([a-z-]+)", line)
        if start:
            flag = start.group(1)
        default = re.search(r"\[default: ([^\]]+)\]", line)
        if default and flag:
            assert flag not in defaults, flag
            defaults[flag] = default.group(1)
    return defaults


def test_map_states_the_defaults_of_memscape_map(cli):
    """Each default stated once (issue 29): ``memscape.map``'s signature takes its defaults from
    the library's MAP_DEFAULTS and SAMPLER_DEFAULTS, which ``memscape map``'s flags also read;
    the help text is an independent reader of the flags."""
    flag_default = help_defaults(cli("map", "--help").stdout)
    params = inspect.signature(ms.map).parameters
    pairs = {
        "data": "data", "ks": "k", "model": "model", "subset_seed": "subset-seed",
        "n_samples": "n-samples", "seed": "seed", "sampler": "sampler", "eta": "eta",
        "process": "process", "spacing": "spacing", "batch_size": "batch-size",
        "resamples": "resamples", "support_quantile": "support-quantile",
        "train_steps": "train-steps",
    }
    assert_defaults_agree(params, flag_default, pairs)
    # --steps has no flag default (sample and map differ); the map's is the library's
    assert params["steps"].default == 100


def test_dynamics_states_the_defaults_of_memscape_dynamics(cli):
    """Each default stated once (issue 29): ``memscape.dynamics``' signature takes its defaults
    from the library's DYNAMICS_DEFAULTS, which ``memscape dynamics``' flags (and the sweep
    spec's ``[dynamics]`` table) also read; the help text is an independent reader of the
    flags."""
    flag_default = help_defaults(cli("dynamics", "--help").stdout)
    params = inspect.signature(ms.dynamics).parameters
    pairs = {
        "data": "data", "ks": "k", "model": "model", "seeds": "seeds",
        "subset_seed": "subset-seed", "holdout": "holdout", "train_steps": "steps",
        "checkpoints": "checkpoints", "n_samples": "n-samples", "fmem_level": "fmem-level",
        "gen_level": "gen-level", "resamples": "resamples", "spur_level": "spur-level",
        "attractor_groups": "attractor-groups", "steps": "sample-steps", "seed": "seed",
        "sampler": "sampler", "eta": "eta", "process": "process", "spacing": "spacing",
        "support_quantile": "support-quantile",
    }
    assert_defaults_agree(params, flag_default, pairs)


def test_sample_states_the_defaults_of_memscape_sample(cli):
    """Each default stated once (issue 29): ``memscape.sample``'s sampler defaults are the
    library's SAMPLER_DEFAULTS, which ``memscape sample``'s flags read too."""
    flag_default = help_defaults(cli("sample", "--help").stdout)
    params = inspect.signature(ms.sample).parameters
    pairs = {"seed": "seed", "sampler": "sampler", "eta": "eta", "process": "process",
             "spacing": "spacing", "batch_size": "batch-size"}
    assert_defaults_agree(params, flag_default, pairs)
    assert params["steps"].default == json.loads(ms._memscape.defaults())["sampler"]["steps"]


def test_classify_states_the_defaults_of_memscape_classify(cli):
    """Each default stated once (issue 29): ``memscape.classify``'s defaults are the library's
    ``ClassifyRequest::default()``, which ``memscape classify``'s flags read too."""
    flag_default = help_defaults(cli("classify", "--help").stdout)
    params = inspect.signature(ms.classify).parameters
    pairs = {"delta_m": "delta-m", "delta_s": "delta-s", "f_mem_ratio": "f-mem-ratio",
             "support_quantile": "support-quantile", "resamples": "resamples", "seed": "seed"}
    assert_defaults_agree(params, flag_default, pairs)


def test_attractors_is_the_cli_attractors(cli, tmp_path):
    """The exact landscape is one library study (issue 29): ``ms.attractors`` gives the
    ``attractors.json`` and grids that ``memscape attractors`` writes, apart from the timing,
    and takes its defaults from the same request (checked against ``--help``); with a
    denoiser it is ``ms.landscape``."""
    cli("attractors", "--data", "circle", "--k", 5, "--sigma", 0.4, "--basin-starts", 300,
        "--samples", 50, "--out", tmp_path / "a")
    theirs = json.loads((tmp_path / "a" / "attractors.json").read_text())
    train, _ = ms.training_set("circle", 5, holdout=0)
    ours = ms.attractors(train, sigma=0.4, basin_starts=300, samples=50)
    for doc in (theirs, ours.document):
        doc.pop("seconds")
    assert ours.document == theirs
    assert ours.counts["minima"] >= 1
    assert np.array_equal(ours.basin_map, np.load(tmp_path / "a" / "basin_map.npy"))
    assert np.array_equal(ours.energy_grid, np.load(tmp_path / "a" / "energy_grid.npy"))
    assert np.array_equal(ours.samples, np.load(tmp_path / "a" / "samples.npy"))
    flag_default = help_defaults(cli("attractors", "--help").stdout)
    params = inspect.signature(ms.attractors).parameters
    pairs = {"random_starts": "random-starts", "basin_starts": "basin-starts", "samples": "samples",
             "seed": "seed", "recovery": "recovery", "trials": "trials"}
    assert_defaults_agree(params, flag_default, pairs)
    with pytest.raises(ValueError, match="exactly one"):
        ms.attractors(train)
    exact = ms.ExactDenoiser(train)
    via = ms.attractors(train, sigma=0.4, denoiser=exact, samples=50, recovery=0)
    direct = ms.landscape(exact, train, 0.4, samples=50, recovery=0)
    for doc in (via.document, direct.document):
        doc.pop("seconds")
    assert via.document == direct.document and via.document["model"] == "trained"


def test_bifurcate_is_the_cli_bifurcate(cli, tmp_path):
    """``ms.bifurcate`` gives ``bifurcations.json`` and ``cusps.json`` as ``memscape bifurcate``
    writes them, apart from the timing, with the command's defaults."""
    cli("bifurcate", "--data", "kgon:k=3", "--beta-from", 1, "--beta-to", 6, "--out", tmp_path / "b")
    theirs = json.loads((tmp_path / "b" / "bifurcations.json").read_text())
    triangle, _ = ms.training_set("kgon:k=3", 3, holdout=0)
    ours = ms.bifurcate(triangle, 1, 6)
    for doc in (theirs, ours):
        doc.pop("seconds")
    assert ours == theirs and len(ours["events"]) >= 1
    cli("bifurcate", "--data", "circle", "--k", 4, "--weight-of", 0, "--beta-from", 2, "--beta-to", 20,
        "--cusp-weights", "0.3,0.6", "--out", tmp_path / "c")
    theirs = json.loads((tmp_path / "c" / "cusps.json").read_text())
    circle, _ = ms.training_set("circle", 4, holdout=0)
    ours = ms.bifurcate(circle, 2, 20, weight_of=0, cusp_weights=[0.3, 0.6])
    for doc in (theirs, ours):
        doc.pop("seconds")
    assert ours == theirs and len(ours["fold_curves"]) >= 1
    flag_default = help_defaults(cli("bifurcate", "--help").stdout)
    params = inspect.signature(ms.bifurcate).parameters
    pairs = {"weight_to": "weight-to", "steps": "steps", "tolerance": "tolerance",
             "random_starts": "random-starts"}
    assert_defaults_agree(params, flag_default, pairs)
    with pytest.raises(ValueError, match="weight_of"):
        ms.bifurcate(circle, 2, 20, cusp_weights=[0.3])


def test_hopfield_is_the_cli_hopfield(cli):
    """``ms.hopfield`` gives ``memscape hopfield --json``'s document, with its defaults."""
    for model, alpha in [("classical", 0.1), ("dense", 0.05), ("modern", 0.01)]:
        theirs = json.loads(cli("hopfield", model, "--alpha", alpha, "--n", 100, "--json").stdout)
        assert ms.hopfield(model, alpha, n=100) == theirs
    flag_default = help_defaults(cli("hopfield", "--help").stdout)
    params = inspect.signature(ms.hopfield).parameters
    pairs = {"n": "n", "degree": "degree", "nets": "nets", "per_net": "per-net", "flip": "flip",
             "seed": "seed"}
    assert_defaults_agree(params, flag_default, pairs)
    with pytest.raises(ValueError, match="model must be classical, dense or modern"):
        ms.hopfield("sparse", 0.1)


def test_sweeps_run_and_collect_from_python_into_the_cli_store(cli, tmp_path):
    """``ms.sweep``, ``ms.sweep_status`` and ``ms.sweep_collect`` (issue 30) work on the store
    the command line uses: the status and ``collect.json`` are ``memscape sweep status --json``'s
    and ``sweep collect --json``'s, and the collected map reads as a run directory."""
    spec = tmp_path / "small.toml"
    spec.write_text('[axes]\ndata = ["circle"]\nk = [2, 9]\n[map]\nn_samples = 100\nsteps = 20\nresamples = 20\n')
    out = tmp_path / "sweep"
    s = ms.sweep(spec, out=out, jobs=1)
    assert (s["total"], s["done"], s["failed"]) == (2, 2, 0)
    assert ms.sweep_status(spec, out=out) == json.loads(cli("sweep", "status", spec, "--out", out, "--json").stdout)
    ours = ms.sweep_collect(spec, out=out)
    theirs = json.loads(cli("sweep", "collect", spec, "--out", out, "--json").stdout)
    assert untimed(ours) == untimed(theirs) and [r["kind"] for r in ours["runs"]] == ["map"]
    run = ms.read_run(ours["runs"][0]["dir"])
    assert list(run.tables["phase"]["k"]) == [2, 9]
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        ms.sweep(tmp_path / "missing.toml", out=out)


def test_landscape_is_the_cli_attractors_of_a_checkpoint(cli, tmp_path):
    """The trained landscape is one library study (issue 29): ``ms.landscape`` on a loaded
    checkpoint gives the ``attractors.json`` that ``memscape attractors --checkpoint`` writes,
    apart from the timing and the checkpoint's path, and the same samples and grids."""
    cli("train", "--data", "circle", "--k", 5, "--steps", 400, "--checkpoints", 1, "--width", 32, "--depth", 2,
        "--out", tmp_path / "t")
    (checkpoint,) = sorted((tmp_path / "t").glob("**/*.safetensors"))
    cli("attractors", "--checkpoint", checkpoint, "--data", "circle", "--k", 5, "--sigma", 0.05,
        "--samples", 120, "--recovery", 1, "--trials", 8, "--holdout", 0, "--out", tmp_path / "a")
    theirs = json.loads((tmp_path / "a" / "attractors.json").read_text())
    train, _ = ms.training_set("circle", 5, holdout=0)
    ours = ms.landscape(ms.ScoreNetwork.load(checkpoint), train, 0.05, samples=120, recovery=1, trials=8)
    for doc in (theirs, ours.document):
        doc.pop("seconds")
        doc.pop("checkpoint")
    assert ours.document == theirs
    assert ours.counts == theirs["counts"] and len(ours.critical_points) >= 1
    assert np.array_equal(ours.samples, np.load(tmp_path / "a" / "samples.npy"))
    for grid, name in [(ours.energy_grid, "energy_grid"), (ours.score_grid, "score_grid"), (ours.basin_map, "basin_map")]:
        assert np.array_equal(grid, np.load(tmp_path / "a" / f"{name}.npy")), name
    # bad input is refused by name, before any denoiser call
    net = ms.ScoreNetwork.load(checkpoint)
    for kwargs, name in [
        (dict(samples=0), "samples"), (dict(eigenvalues=3), "eigenvalues"), (dict(seed=-1), "seed"),
        (dict(margin=1.5), "margin"), (dict(heldout=np.zeros((30, 3))), "heldout"),
    ]:
        with pytest.raises(ValueError, match=name):
            ms.landscape(net, train, 0.05, **kwargs)
    with pytest.raises(ValueError, match="train"):
        ms.landscape(net, np.zeros((5, 3)), 0.05)
    # the defaults are those of memscape attractors
    shown = help_defaults(cli("attractors", "--help").stdout)
    params = inspect.signature(ms.landscape).parameters
    for name in ("samples", "recovery", "trials", "seed"):
        assert int(shown[name]) == params[name].default, (name, shown[name])
