"""Ctrl-C interrupts long calls: SIGINT sent 2 s into ``ms.map`` and ``ms.sample``, with and
without progress bars, raises a plain ``KeyboardInterrupt`` within 2 s, leaves no file in its
working folder, and the next call runs whole; a progress callback may replace the callback
without deadlocking."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import memscape as ms

# Each call would run for minutes: a map that trains 40,000 steps per K, and 800 million
# sampler rows.
SCRIPT = textwrap.dedent("""
    import sys, time
    import memscape as ms
    what, mode = sys.argv[1:]
    if mode == "progress":
        ms.show_progress()
    print("started", flush=True)
    t0 = time.time()
    try:
        if what == "map":
            ms.map("circle", [2, 9, 90, 500], train_steps=40000)
        else:
            x = ms.dataset("circle:n=2000").points[:500]
            ms.sample(ms.ExactDenoiser(x), 2_000_000, steps=400, seed=1)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("KeyboardInterrupt after %.2f s" % (time.time() - t0), flush=True)
    # the next call runs whole
    small = ms.sample(ms.ExactDenoiser(ms.dataset("circle:n=200").points[:20]), 50, steps=10)
    print(repr(float(small.sum())), flush=True)
""")


@pytest.mark.parametrize("what", ["map", "sample"])
@pytest.mark.parametrize("mode", ["plain", "progress"])
def test_sigint_raises_keyboard_interrupt_within_2_s(what, mode, tmp_path):
    # run in an empty folder, with the temporary folder inside it: neither call writes a file,
    # so none may be left in either
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    p = subprocess.Popen([sys.executable, "-c", SCRIPT, what, mode], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    assert p.stdout.readline().strip() == "started"
    time.sleep(2)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    took = time.monotonic() - sent
    assert p.returncode == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("KeyboardInterrupt"), (out, err[-2000:])
    small = ms.sample(ms.ExactDenoiser(ms.dataset("circle:n=200").points[:20]), 50, steps=10)
    assert lines[1] == repr(float(small.sum())), "a call after the interrupt is whole"
    assert took < 2.0, f"{what} ({mode}) ran {took:.2f} s after SIGINT"
    assert "PanicException" not in err and "panicked" not in err, err[-2000:]
    assert list(tmp_path.iterdir()) == [tmp] and list(tmp.iterdir()) == [], "no file is left behind"


def test_a_progress_callback_may_replace_the_callback():
    events = []

    def once(event, task, name, value):
        events.append(event)
        ms.set_progress(None)  # deadlocked: the hook was called under its own lock

    ms.set_progress(once)
    try:
        x = ms.dataset("circle:n=200").points[:20]
        ms.sample(ms.ExactDenoiser(x), 50, steps=10, seed=0)
    finally:
        ms.set_progress(None)
    assert events == ["start"]


SWEEP = textwrap.dedent("""
    [axes]
    data = ["circle"]
    k = [4, 8, 16, 32]
    seed = [0]
    model = ["mlp"]
    train_steps = [40000]

    [map]
    n_samples = 50
    steps = 10
    resamples = 10
""")


def test_sigint_stops_a_sweep_within_2_s_and_leaves_its_cells_to_the_next_run(tmp_path):
    """Ctrl-C during ms.sweep: KeyboardInterrupt within 2 s, no cell recorded failed or left
    running, and the interrupted cells wait for the next run (status: pending)."""
    spec = tmp_path / "s.toml"
    spec.write_text(SWEEP)
    script = textwrap.dedent("""
        import sys, time, json
        import memscape as ms
        spec, out = sys.argv[1:]
        print("started", flush=True)
        t0 = time.time()
        try:
            ms.sweep(spec, out=out, jobs=2)
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("KeyboardInterrupt after %.2f s" % (time.time() - t0), flush=True)
    """)
    out = tmp_path / "sweep"
    p = subprocess.Popen([sys.executable, "-c", script, str(spec), str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert p.stdout.readline().strip() == "started"
    time.sleep(3)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    first = p.stdout.readline()
    took = time.monotonic() - sent
    rest, err = p.communicate(timeout=60)
    assert first.startswith("KeyboardInterrupt"), (first, rest, err[-2000:])
    assert took < 2.0, f"the sweep ran {took:.2f} s after SIGINT"
    status = ms.sweep_status(spec, out=out)
    # the exact model's cells are quick and may be done; the networks' 40,000 steps are not
    assert status["failed"] == 0 and status["running"] == 0, status
    assert status["done"] <= 4 and status["done"] + status["pending"] == status["total"] == 8, status
