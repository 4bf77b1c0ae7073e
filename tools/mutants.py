#!/usr/bin/env python3
"""Mutation check for the test suite (issue 16): run by hand, not in CI.

Each mutant flips one chosen comparison or constant in the library. For each, the script
applies the change, runs the tests, prints which tests failed (the ones that caught it), and
restores the file, even when interrupted. A mutant that no test catches is a gap in the suite;
the script exits 1 when there is one.

    python3 tools/mutants.py            # each mutant against the tests of the crates it touches
    python3 tools/mutants.py --full     # each mutant against the whole workspace (slow)
    python3 tools/mutants.py --only softmax-max,score-sign

The default scope of a mutant is the tests nearest to it (the library's own for most, the map
tests for the image grid); `--full` runs the whole workspace, about 10 minutes a mutant on 2
cores. The tests run in the dev profile, as `cargo test` does.
"""

import argparse
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

# name, file, original text (must occur exactly once), mutated text, cargo test scope
MUTANTS = [
    ("memorized-threshold",
     "crates/memscape/src/analysis/samples/classify.rs",
     "if d_train[i] <= thresholds.delta_m {",
     "if d_train[i] <= 0.5 * thresholds.delta_m {",
     ["-p", "memscape"]),
    ("spurious-inequality",
     "crates/memscape/src/analysis/samples/classify.rs",
     "} else if d_sample[i] <= thresholds.delta_s {",
     "} else if d_sample[i] >= thresholds.delta_s {",
     ["-p", "memscape"]),
    ("softmax-max",
     "crates/memscape/src/denoiser/empirical.rs",
     "c[j] = T::exp_nonpositive((c[j] - max).max(floor));",
     "c[j] = T::exp_nonpositive((c[j] - max * T::from_f64(0.0)).max(floor));",
     ["-p", "memscape"]),
    ("score-sign",
     "crates/memscape/src/sampler.rs",
     "let mut next = &y + &((&denoised - &y) * frac);",
     "let mut next = &y + &((&y - &denoised) * frac);",
     ["-p", "memscape"]),
    ("capacity-level",
     "crates/memscape/src/analysis/samples/capacity.rs",
     ".rposition(|&m| m >= 0.5)",
     ".rposition(|&m| m >= 0.6)",
     ["-p", "memscape"]),
    ("capacity-bootstrap-without-resampling",
     "crates/memscape/src/analysis/samples/capacity.rs",
     'let idx = draw.next().expect("one draw per resample");',
     'let idx: Vec<usize> = { draw.next(); (0..c.len()).collect() };',
     ["-p", "memscape"]),
    ("tau-bootstrap-without-seed-resampling",
     "crates/memscape-train/src/dynamics.rs",
     ".map(|_| r.random_range(0..per_seed.len()))",
     ".map(|i| i + 0 * r.random_range(0..per_seed.len()))",
     ["-p", "memscape-train", "--lib"]),
    ("hebbian-self-coupling",
     "crates/memscape/src/hopfield.rs",
     "weights.diag_mut().fill(0.0);",
     "let _ = weights.diag_mut(); // the Hebbian self-coupling K/N is kept",
     ["-p", "memscape"]),
    ("dbscan-min-points",
     "crates/memscape/src/analysis/samples/cluster.rs",
     "pub const MIN_POINTS: usize = 5;",
     "pub const MIN_POINTS: usize = 4;",
     ["-p", "memscape-cli", "--test", "classify_map"]),
    ("grid-neighbour",
     "crates/memscape-report/src/images.rs",
     "pixels(self.train, r.5))",
     "pixels(self.train, (r.5 + 1) % self.train.shape()[0]))",
     ["-p", "memscape-cli", "--test", "classify_map"]),
]


def failed_tests(output: str) -> list[str]:
    """The names cargo lists under 'failures:' (one per failing test)."""
    names = []
    for block in re.findall(r"^failures:\n((?:    \S.*\n)+)", output, flags=re.M):
        names += [line.strip() for line in block.splitlines()]
    return sorted(set(names))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help="run the whole workspace for each mutant")
    ap.add_argument("--only", help="comma-separated mutant names")
    args = ap.parse_args()
    chosen = MUTANTS
    if args.only:
        wanted = set(args.only.split(","))
        unknown = wanted - {m[0] for m in MUTANTS}
        if unknown:
            print(f"mutants: unknown --only names {sorted(unknown)}", file=sys.stderr)
            return 2
        chosen = [m for m in MUTANTS if m[0] in wanted]
    survivors = []
    # proptest records each failing case in a *.proptest-regressions file beside its test;
    # failures a mutant causes are not regressions of the real code, so those files go
    before = set(ROOT.glob("crates/*/tests/*.proptest-regressions"))
    for name, rel, original, mutated, scope in chosen:
        path = ROOT / rel
        text = path.read_text()
        if text.count(original) != 1:
            print(f"mutants: {name}: the original text occurs {text.count(original)} times in {rel}; "
                  "update the mutant", file=sys.stderr)
            return 2
        cmd = ["cargo", "test", "--no-fail-fast"] + ([] if args.full else scope)
        if args.full:
            cmd += ["--workspace"]
        start = time.time()
        try:
            path.write_text(text.replace(original, mutated))
            run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        finally:
            path.write_text(text)
            for f in set(ROOT.glob("crates/*/tests/*.proptest-regressions")) - before:
                f.unlink()
        output = run.stdout + run.stderr
        caught = failed_tests(output)
        if run.returncode != 0 and not caught:
            caught = ["(does not compile)"] if "error[E" in output else ["(cargo failed)"]
        status = "caught" if caught else "SURVIVED"
        print(f"{name:42s} {status:8s} {time.time() - start:6.0f} s  {rel}")
        for t in caught:
            print(f"    {t}")
        if not caught:
            survivors.append(name)
        sys.stdout.flush()
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} mutants caught"
          + (f"; survived: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
