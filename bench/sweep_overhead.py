"""Scheduling overhead of `memscape sweep` per cell, against the cell's own work.

For two cell sizes (exact model on the circle: 200 and 2000 samples per cell) it runs a sweep
locally with one job at a time, and, where `sbatch` answers, the same sweep as a Slurm job
array with one cell per task (`slurm/1`) and with eight (`slurm/8`), all CPUs per task (so the
tasks run one after another). The
overhead per cell is (wall time − Σ cell seconds) / cells, where a cell's seconds are its own
compute time as the store records it (`cells.seconds`); the wall time of the local run covers
reading the spec, loading the data, the store's transactions (synchronous = FULL) and writing
the arrays, and the Slurm run's also covers sbatch, scheduling and one process start per task.

Usage: cargo build --release -p memscape-cli && python3 bench/sweep_overhead.py [--cells N]
"""
import argparse, json, os, shutil, sqlite3, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--cells", type=int, default=24, help="cells per sweep (K × seeds)")
ap.add_argument("--exe", default=os.path.join(os.path.dirname(__file__), "../target/release/memscape"))
a = ap.parse_args()
exe = os.path.abspath(a.exe)
if not os.path.exists(exe):
    sys.exit(f"{exe}: build it first (cargo build --release -p memscape-cli)")

ks = [2, 5, 9, 16, 30, 50]
seeds = max(1, a.cells // len(ks))
slurm = shutil.which("sbatch") is not None and subprocess.run(
    ["sinfo", "-h"], capture_output=True).returncode == 0


def spec(dir, n_samples):
    path = os.path.join(dir, f"n{n_samples}.toml")
    with open(path, "w") as f:
        f.write(f'[axes]\ndata = ["circle"]\nk = {ks}\nseed = {list(range(seeds))}\n'
                f'[map]\nn_samples = {n_samples}\nsteps = 50\nresamples = 50\n')
    return path


def cell_seconds(store):
    con = sqlite3.connect(store)
    n, s = con.execute("SELECT count(*), sum(seconds) FROM cells WHERE status = 'done'").fetchone()
    con.close()
    return n, s


def local(path, out):
    t = time.perf_counter()
    subprocess.run([exe, "sweep", path, "--out", out, "--jobs", "1"], check=True,
                   capture_output=True)
    return time.perf_counter() - t


def on_slurm(path, out, per_task):
    t = time.perf_counter()
    r = subprocess.run([exe, "sweep", path, "--out", out, "--slurm", "--cells-per-task", str(per_task),
                        "--cpus-per-task", str(os.cpu_count()), "--json"],
                       check=True, capture_output=True, text=True)
    job = json.loads(r.stdout)["job_id"]
    while subprocess.run(["squeue", "-h", "-j", job], capture_output=True,
                         text=True).stdout.strip():
        time.sleep(0.2)
    wall = time.perf_counter() - t
    subprocess.run([exe, "sweep", "status", path, "--out", out], check=True, capture_output=True)
    return wall


print(f"machine: {os.cpu_count()} CPUs; {len(ks) * seeds} cells per sweep; "
      f"Slurm {'found' if slurm else 'not found: local only'}")
print(f"{'backend':>8} {'samples':>8} {'cells':>6} {'wall s':>8} {'cells s':>8} "
      f"{'per cell: work ms':>18} {'overhead ms':>12} {'overhead/work':>14}")
with tempfile.TemporaryDirectory() as dir:
    for n_samples in [200, 2000]:
        path = spec(dir, n_samples)
        backends = [("local", local)] + ([
            ("slurm/1", lambda p, o: on_slurm(p, o, 1)),
            ("slurm/8", lambda p, o: on_slurm(p, o, 8)),
        ] if slurm else [])
        for name, run in backends:
            out = os.path.join(dir, f"{name.replace('/', '-')}-{n_samples}")
            wall = run(path, out)
            n, s = cell_seconds(os.path.join(out, "sweep.db"))
            work, over = s / n, (wall - s) / n
            print(f"{name:>8} {n_samples:>8} {n:>6} {wall:>8.2f} {s:>8.2f} {1e3 * work:>18.1f} "
                  f"{1e3 * over:>12.1f} {over / work:>14.2f}")
