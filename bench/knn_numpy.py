"""NumPy brute-force kNN (top-2) on the data of `cargo bench -p memscape --bench knn`.

10,000 MNIST test images against the 60,000 training images (d = 784, pixels in [0, 1],
float32), in query blocks of 1,000 as in ../shared/research/reference-speeds.md #2:
Qb @ P.T, -2 and +|p|^2 in place, argpartition(kth=1), order the two, add |q|^2, sqrt.
Usage: python3 bench/knn_numpy.py [MNIST_DIR] [--out FILE]   (needs `pip install numpy`);
with --out, appends one JSON record in the anchors' format (time_s.median, shape). The Rust
bench runs this script itself, once with the environment's OpenBLAS kernel and once with
OPENBLAS_CORETYPE unset.
"""
import gzip, json, os, sys, time
import numpy as np

out_file = None
if "--out" in sys.argv:
    i = sys.argv.index("--out")
    out_file = sys.argv[i + 1]
    del sys.argv[i:i + 2]

def idx(path):
    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    n, r, c = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, np.uint8, offset=16).reshape(n, r * c).astype(np.float32) / 255.0

d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../shared/data/mnist")
P = idx(os.path.join(d, "train-images-idx3-ubyte.gz"))
Q = idx(os.path.join(d, "t10k-images-idx3-ubyte.gz"))
p2 = (P * P).sum(1)

def knn():
    out = np.empty((len(Q), 2), np.float32)
    for s in range(0, len(Q), 1000):
        Qb = Q[s:s + 1000]
        D = Qb @ P.T
        D *= -2.0
        D += p2
        part = np.argpartition(D, 1, axis=1)[:, :2]
        two = np.take_along_axis(D, part, 1)
        two.sort(1)
        out[s:s + 1000] = np.sqrt(np.maximum(two + (Qb * Qb).sum(1)[:, None], 0))
    return out

knn()  # warm-up
times = []
for _ in range(3):
    t = time.perf_counter(); r = knn(); times.append(time.perf_counter() - t)
s = sorted(times)[1]
flops = 2.0 * len(Q) * len(P) * P.shape[1]
print(f"| NumPy {np.__version__} brute force top-2, {len(Q)} x {len(P)}, d = {P.shape[1]} | {s:.2f} s | {flops / s / 1e9:.0f} GFLOP/s |")
print(f"check: mean nearest distance {r[:, 0].mean():.4f}, mean second {r[:, 1].mean():.4f}")
if out_file:
    with open(out_file, "a") as f:
        f.write(json.dumps({"bench": "knn", "lib": "numpy", "shape": f"{len(Q)}x{len(P)} d={P.shape[1]}",
                            "time_s": {"median": s, "all": times}, "gflops": flops / s / 1e9,
                            "blas_coretype": os.environ.get("OPENBLAS_CORETYPE", "unset")}) + "\n")
