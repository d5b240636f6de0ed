"""The training checksums: one SHA-256 line per configuration of the grid
cost × activation × regularization × momentum × dtype × thread count × backend,
of the printed lines, weights, biases, velocities and monitored numbers a few epochs of
``network2`` (and ``network``) training leave on small random data.

    python tools/train_checksums.py > before.txt     # on one commit
    python tools/train_checksums.py > after.txt      # on another
    diff before.txt after.txt                        # nothing: the same bits

A change that must keep the bits (a refactor, a faster loop) shows no diff.
"""
import contextlib
import hashlib
import io
import itertools
import random
import sys

import numpy as np

from cnet import _kernels, network, network2
from cnet.functions import BUILTIN_COSTS

SHAPES = ([20, 12, 5], [20, 9, 7, 5], [70, 45, 10])
ACTIVATIONS = ("sigmoid", "tanh", "relu")
REGULARIZATIONS = (("L2", 0.0), ("L2", 0.5), ("L1", 0.5))
MOMENTA = (0.0, 0.6)
DTYPES = (np.float64, np.float32)
THREADS = (1, 2)


def data(sizes, n, seed):
    """n examples: sparse inputs in [0, 1), one-hot outputs; and n integer-labelled ones."""
    rng = np.random.default_rng(seed)
    xs = rng.random((n, sizes[0], 1))
    xs[rng.random(xs.shape) < 0.5] = 0.0
    labels = rng.integers(sizes[-1], size=n)
    one_hot = [np.eye(sizes[-1])[j].reshape(-1, 1) for j in labels]
    return list(zip(xs, one_hot)), [(x, int(j)) for x, j in zip(xs, labels)]


def digest(printed, *parts):
    """The first 16 hex digits of the SHA-256 of what training printed and of the arrays' bytes."""
    h = hashlib.sha256(printed.getvalue().encode())
    for part in parts:
        for a in part:
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def network2_line(backend, sizes, cost, activation, regularization, lmbda, mu, dtype, threads):
    train, evaluation = data(sizes, 57, seed=sum(sizes))
    net = network2.Network(sizes, cost=cost, seed=7, backend=backend, dtype=dtype, num_threads=threads,
                           activation=activation)
    random.seed(3)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        monitors = net.SGD(train, 3, 10, 0.5, lmbda=lmbda, evaluation_data=evaluation, mu=mu,
                           regularization=regularization, monitor_evaluation_cost=True,
                           monitor_evaluation_accuracy=True, monitor_training_cost=True,
                           monitor_training_accuracy=True)
    velocities = [v for pair in (net.velocities or ()) for v in pair]
    return digest(printed, net.weights, net.biases, velocities, [np.asarray(m, dtype=np.float64) for m in monitors])


def network_line(backend, sizes, dtype, threads):
    train, test = data(sizes, 57, seed=sum(sizes) + 1)
    net = network.Network(sizes, seed=5, backend=backend, dtype=dtype, num_threads=threads)
    random.seed(4)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        net.SGD(train, 3, 10, 3.0, test_data=test)
    return digest(printed, net.weights, net.biases)


def main():
    backends = [b for b in ("cython", "numpy") if b == "numpy" or _kernels.compiled is not None]
    for backend, sizes, dtype, threads in itertools.product(backends, SHAPES, DTYPES, THREADS):
        if backend == "numpy" and threads > 1:
            continue
        head = "{} {} {} t{}".format(backend, sizes, np.dtype(dtype).name, threads)
        print(head, "network", network_line(backend, sizes, dtype, threads))
        for cost, activation, (regularization, lmbda), mu in itertools.product(
                BUILTIN_COSTS, ACTIVATIONS, REGULARIZATIONS, MOMENTA):
            line = network2_line(backend, sizes, cost, activation, regularization, lmbda, mu, dtype, threads)
            print(head, cost.__name__, activation, regularization, lmbda, "mu", mu, line)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
