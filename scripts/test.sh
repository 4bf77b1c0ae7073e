#!/usr/bin/env bash
# The tests: the Rust workspace, then the Python package's pytest suite (the bridge to NumPy and
# PyTorch). The Python half makes a virtual environment in target/python-venv (reused across
# runs), installs maturin, numpy, pandas, pytest, tqdm and PyTorch from PyPI into it (about 5 GB
# with torch's CUDA wheels; no GPU is needed), builds the abi3 wheel users install
# (`maturin build --release`, into target/wheels/, timed), installs that wheel into the venv and
# runs pytest on it, against the debug `memscape` binary that `cargo test` built.
# MEMSCAPE_PYTHON names the interpreter (python3).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace

echo "== $(date +%T) Python package: the abi3 wheel (maturin build --release), installed, then pytest (python/tests)"
venv=target/python-venv
echo "disk free: $(df -h --output=avail . 2>/dev/null | tail -1 | tr -d ' '), target/ holds $(du -sh target 2>/dev/null | cut -f1)"
if [ ! -x "$venv/bin/python" ]; then
  "${MEMSCAPE_PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.9,<2" numpy pandas pytest tqdm torch
rm -rf target/wheels
start=$(date +%s%N)
(cd python && "../$venv/bin/maturin" build --release -q --out ../target/wheels)
wheel=$(echo target/wheels/memscape-*-abi3-*.whl)
[ -f "$wheel" ] || { echo "no abi3 wheel in target/wheels/" >&2; exit 1; }
echo "wheel: $wheel, built in $(( ($(date +%s%N) - start) / 1000000 )) ms"
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
MEMSCAPE_REQUIRE_TORCH=1 MEMSCAPE_BIN="$PWD/target/debug/memscape" "$venv/bin/python" -m pytest -q python/tests
