"""How close the compiled epoch is to what memory allows: the first layer's loops alone.

    CNET_DATA_DIR=~/mnist python benchmarks/limits/first_layer.py [rounds] [--momentum]

Compiles ``first_layer.c`` (next to this file; needs gcc) a few ways and runs
each on the MNIST training inputs, compressed as the kernels keep them, in a
shuffled order: the first layer's forward loop of [784, 30, 10] over an
epoch, then with its weight update (and that again with rows that all stay
in L1: the most that reading each touched row once per mini-batch rather than
once per example could save), then the forward loop with the weight rows it
reads replaced by rows that all stay in L1, or by one single row (what is
left is streaming the inputs), and in the data set's own order.  Then the
grouped variants (cnet_rows_forward_group): the forward loop over a mini-batch's
10 examples together, a block of 192 rows at a time (or one block: the grouping
and its prefetching alone; or the blocks' pixel ranges from a table made once,
as packing could store them), with the update loop as today or grouped too (and
with momentum's least traffic: the update into the velocities, then each touched row
moved by its velocity once a step), and the scan (evaluate) in groups of 32 in data order.  Prints CPU seconds per epoch
(best of 7, and the best over ``rounds`` runs of every loop in turn: 1) next to one whole
compiled epoch of cnet, one thread, without and with momentum (the best of 5 a round).
``--momentum`` runs only the loops that momentum's line compares (on a noisy machine,
with several rounds: the loops' difference is small next to one run's noise).
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from cnet import _kernels, mnist_loader
from cnet._kernels.spec import dense_chain
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
    # grouped: a block of rows at a time for the examples of a group (see first_layer.c)
    ("forward, 10 ahead", ["-DAHEAD=10"], "shuffled"),
    ("grouped forward", ["-DGROUP=10"], "shuffled"),
    ("grouped forward, 1 block", ["-DGROUP=10", "-DRB=784"], "shuffled"),
    ("grouped forward, table", ["-DGROUP=10", "-DPRE=1"], "shuffled"),
    ("grouped fwd + update", ["-DUPDATE=1", "-DGROUP=10"], "shuffled"),
    ("grouped fwd + grouped upd", ["-DUPDATE=2", "-DGROUP=10"], "shuffled"),
    ("the same with momentum", ["-DUPDATE=3", "-DGROUP=10"], "shuffled"),
    ("grouped scan, 32", ["-DGROUP=32"], "sequential"),
    ("grouped scan, 32, table", ["-DGROUP=32", "-DPRE=1"], "sequential"),
    ("grouped scan, 32, in L1", ["-DGROUP=32", "-DROW(i)=((i)%64)"], "sequential"),
    ("forward, in order, in L1", ["-DROW(i)=((i)%64)"], "sequential"),
]


# the loops that momentum's line compares
MOMENTUM_LINE = ("grouped fwd + update", "grouped fwd + grouped upd", "the same with momentum")


def main(argv):
    rounds = int(argv[0]) if argv and not argv[0].startswith("--") else 1
    only_momentum = "--momentum" in argv
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
              "(CPU seconds per epoch, best of 7 and of {} rounds)".format(n, len(rows) / n, rounds))
        variants = [v for v in VARIANTS if not only_momentum or v[0] in MOMENTUM_LINE]
        exes = []
        for _what, defines, _order in variants:
            exe = os.path.join(tmp, "first_layer{}".format(len(exes)))
            subprocess.run(["gcc", *FLAGS, *defines, os.path.join(HERE, "first_layer.c"), "-o", exe],
                           check=True)
            exes.append(exe)
        loops = {}
        for _ in range(rounds):     # every loop in turn, each round
            for (what, _defines, order), exe in zip(variants, exes):
                (shuffled if order == "shuffled" else np.arange(n, dtype=np.int64)).tofile(
                    os.path.join(tmp, "order"))
                seconds = float(subprocess.run([exe, tmp], check=True, capture_output=True,
                                               text=True).stdout.split()[0])
                loops[what] = min(seconds, loops.get(what, seconds))
        for what, seconds in loops.items():
            print("  {:<26} {:.4f} s".format(what, seconds))
    K = _kernels.compiled
    P = K.prepare(X)
    Y = np.eye(10)[labels]
    rng = np.random.default_rng(0)
    best = {0.0: None, 0.5: None}
    for _ in range(5 * rounds):
        for mu in best:             # alternated
            weights = [rng.standard_normal((30, 784)), rng.standard_normal((10, 30))]
            biases = [rng.standard_normal((30, 1)), rng.standard_normal((10, 1))]
            velocities = ([np.zeros_like(w) for w in weights], [np.zeros_like(b) for b in biases])
            t = time.process_time()
            K.train(weights, biases, P, Y, shuffled.astype(np.intp), 10, 3.0, 0.0, n, QuadraticCost,
                    mu=mu, velocities=velocities if mu else None, spec=dense_chain([784, 30, 10]))
            t = time.process_time() - t
            best[mu] = t if best[mu] is None else min(best[mu], t)
    print("  {:<26} {:.4f} s".format("cnet, a whole epoch", best[0.0]))
    print("  {:<26} {:.4f} s ({:.2f}x)".format("cnet, momentum 0.5", best[0.5], best[0.5] / best[0.0]))
    # what momentum's formula moves besides plain SGD's (the velocities, read and written
    # once per touched row and step), as the two C loops' difference
    extra = loops["the same with momentum"] - loops["grouped fwd + grouped upd"]
    print("  momentum's extra traffic in the C loops: {:.4f} s ({:.0%} of cnet's epoch)".format(
        extra, extra / best[0.0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
