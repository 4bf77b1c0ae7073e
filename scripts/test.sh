#!/usr/bin/env bash
# The tests: the Rust workspace, then the Python package's pytest suite (the bridge to NumPy and
# PyTorch). The Python half makes a virtual environment in target/python-venv (reused across
# runs), installs maturin, numpy, pandas, pytest, tqdm and PyTorch from PyPI into it (about 5 GB
# with torch's CUDA wheels; no GPU is needed), builds the package into it with
# `maturin develop` (the workspace's debug profile) and runs pytest against the debug `memscape`
# binary that `cargo test` built. MEMSCAPE_PYTHON names the interpreter (python3).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace

echo "== $(date +%T) Python package: maturin develop + pytest (python/tests)"
venv=target/python-venv
if [ ! -x "$venv/bin/python" ]; then
  "${MEMSCAPE_PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.9,<2" numpy pandas pytest tqdm torch
(cd python && VIRTUAL_ENV="$PWD/../$venv" PATH="$PWD/../$venv/bin:$PATH" maturin develop -q)
MEMSCAPE_REQUIRE_TORCH=1 MEMSCAPE_BIN="$PWD/target/debug/memscape" "$venv/bin/python" -m pytest -q python/tests
