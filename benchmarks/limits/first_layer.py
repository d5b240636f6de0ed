"""How close the compiled epoch is to what memory allows: the first layer's loops alone.

    CNET_DATA_DIR=../shared/data python benchmarks/limits/first_layer.py

Compiles ``first_layer.c`` (next to this file; needs gcc) a few ways and runs
each on the MNIST training inputs, compressed as the kernels keep them, in a
shuffled order: the first layer's forward loop of [784, 30, 10] over an
epoch, then with its weight update (and that again with rows that all stay
in L1: the most that reading each touched row once per mini-batch rather than
once per example could save), then the forward loop with the weight rows it
reads replaced by rows that all stay in L1, or by one single row (what is
left is streaming the inputs), and in the data set's own order.  Prints seconds per
epoch (best of 7) next to one whole compiled epoch of cnet, one thread.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from cnet import _kernels, mnist_loader
from cnet.functions import QuadraticCost

HERE = os.path.dirname(os.path.abspath(__file__))
FLAGS = ["-O3", "-ffp-contract=off", "-mavx2", "-mfma"]

VARIANTS = [  # (what, -D definitions, order)
    ("forward, as trained", [], "shuffled"),
    ("forward + update", ["-DUPDATE=1"], "shuffled"),
    ("forward + update, in L1", ["-DUPDATE=1", "-DROW(i)=((i)%64)"], "shuffled"),
    ("forward, rows in L1", ["-DROW(i)=((i)%64)"], "shuffled"),
    ("forward, one row", ["-DROW(i)=0"], "shuffled"),
    ("forward, in order", [], "sequential"),
]


def main():
    (images, labels), _, _ = mnist_loader.load_data()
    X = np.ascontiguousarray(images, dtype=np.float64)
    rows, cols = np.nonzero(X)
    start = np.concatenate([[0], np.cumsum(np.count_nonzero(X, axis=1))]).astype(np.int64)
    n = len(X)
    shuffled = np.random.default_rng(1).permutation(n).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        start.tofile(os.path.join(tmp, "start"))
        cols.astype(np.int32).tofile(os.path.join(tmp, "index"))
        X[rows, cols].tofile(os.path.join(tmp, "value"))
        print("first layer of [784, 30, 10] over {} examples, {:.1f} non-zero pixels each "
              "(seconds per epoch, best of 7)".format(n, len(rows) / n))
        for what, defines, order in VARIANTS:
            (shuffled if order == "shuffled" else np.arange(n, dtype=np.int64)).tofile(
                os.path.join(tmp, "order"))
            exe = os.path.join(tmp, "first_layer")
            subprocess.run(["gcc", *FLAGS, *defines, os.path.join(HERE, "first_layer.c"), "-o", exe],
                           check=True)
            seconds = float(subprocess.run([exe, tmp], check=True, capture_output=True,
                                           text=True).stdout.split()[0])
            print("  {:<24} {:.4f} s".format(what, seconds))
    K = _kernels.compiled
    P = K.prepare(X)
    Y = np.eye(10)[labels]
    rng = np.random.default_rng(0)
    best = None
    for _ in range(5):
        weights = [rng.standard_normal((30, 784)), rng.standard_normal((10, 30))]
        biases = [rng.standard_normal((30, 1)), rng.standard_normal((10, 1))]
        t = time.perf_counter()
        K.train(weights, biases, P, Y, shuffled.astype(np.intp), 10, 3.0, 0.0, n, QuadraticCost)
        t = time.perf_counter() - t
        best = t if best is None else min(best, t)
    print("  {:<24} {:.4f} s".format("cnet, a whole epoch", best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
