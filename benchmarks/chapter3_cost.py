"""What each of chapter 3's options costs: CPU time (time.process_time, one thread)
of one epoch over the 50,000 MNIST training images (mini-batch 10), each option
against the default compiled epoch, the options interleaved; and with
--fallback one epoch of each through the NumPy fallback.

    CNET_DATA_DIR=~/mnist python benchmarks/chapter3_cost.py [784,30,10] [repeats] [--fallback]

CPU time rather than wall time, so that other work on a shared machine
disturbs the ratios less.
"""
import sys
import time

import numpy as np

from cnet import _kernels, mnist_loader
from cnet._kernels import numpy_kernels
from cnet._kernels.spec import dense_chain
from cnet.functions import LogLikelihoodCost, QuadraticCost

CONFIGS = {"default": dict(cost=QuadraticCost, eta=3.0),
           "log-likelihood": dict(cost=LogLikelihoodCost, output="softmax", eta=3.0),
           "relu": dict(cost=QuadraticCost, activation="relu", eta=0.1),
           "momentum 0.5": dict(cost=QuadraticCost, mu=0.5, eta=3.0)}


def epoch(kernels, name, weights, biases, X, Y, order):
    """CPU seconds of one epoch with option ``name``, from the given parameters."""
    options = dict(CONFIGS[name])
    cost, eta = options.pop("cost"), options.pop("eta")
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    options["spec"] = dense_chain(sizes, options.pop("activation", "sigmoid"), options.pop("output", "sigmoid"))
    w = [a.copy() for a in weights]
    b = [a.copy() for a in biases]
    if options.get("mu"):
        options["velocities"] = ([np.zeros_like(a) for a in w], [np.zeros_like(a) for a in b])
    start = time.process_time()
    kernels.train(w, b, X, Y, order, 10, eta, 0.0, len(Y), cost, **options)
    return time.process_time() - start


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    sizes = [int(s) for s in (args[0] if args else "784,30,10").split(",")]
    repeats = int(args[1]) if len(args) > 1 else 7
    (x, y), _, _ = mnist_loader.load_data()
    Y = np.eye(10)[y]
    compiled = _kernels.compiled
    prepared = compiled.prepare(x)
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal((b, a)) for a, b in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal((b, 1)) for b in sizes[1:]]
    times = {name: [] for name in CONFIGS}
    for _ in range(repeats):
        order = rng.permutation(len(Y)).astype(np.intp)
        for name in CONFIGS:
            times[name].append(epoch(compiled, name, weights, biases, prepared, Y, order))
    base = min(times["default"])
    print("{} compiled, CPU seconds per epoch (min of {}, interleaved)".format(sizes, repeats))
    for name, ts in times.items():
        print("  {:<15} {:.4f} s  {:.2f}x the default   (median {:.4f})".format(
            name, min(ts), min(ts) / base, np.median(ts)))
    if "--fallback" in argv:
        order = rng.permutation(len(Y)).astype(np.intp)
        for name in CONFIGS:
            slow = epoch(numpy_kernels, name, weights, biases, x, Y, order)
            print("  fallback {:<15} {:.3f} s  compiled is {:.1f}x faster".format(
                name, slow, slow / min(times[name])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
