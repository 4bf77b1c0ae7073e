#!/usr/bin/env bash
# Runs the Rust and the NumPy kNN benchmarks back to back on one machine. NumPy runs twice:
# with this environment's OPENBLAS_CORETYPE (Haswell, AVX2 here) and with it unset (OpenBLAS
# picks its AVX-512 kernel on this CPU); see ../shared/research/reference-speeds.md.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/data/mnist}"
python3 -c "import numpy" 2>/dev/null || pip install -q numpy
cargo bench -q -p memscape --bench knn -- --data "$data"
echo "NumPy, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}:"
python3 bench/knn_numpy.py "$data"
echo "NumPy, OPENBLAS_CORETYPE unset:"
env -u OPENBLAS_CORETYPE python3 bench/knn_numpy.py "$data"
