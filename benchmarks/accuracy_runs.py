"""Full training runs over several seeds, compiled kernels against the fallback.

    CNET_DATA_DIR=~/mnist python benchmarks/accuracy_runs.py --seeds 1 2 3 4 5

Each seed trains [784, 30, 10] (or --sizes) for --epochs epochs (mini-batch 10,
eta 3.0) once per backend, from the same initial parameters and shuffles.
Prints each run's final test accuracy and the median per backend.  SGD at
eta 3.0 amplifies rounding differences, so runs of the two backends agree
statistically, not digit for digit: compare the medians.
"""
import argparse
import io
import json
import random
import statistics
import sys
import time
from contextlib import redirect_stdout

import numpy as np

from cnet import mnist_loader, network


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--sizes", default="784,30,10")
    p.add_argument("--backends", nargs="+", default=["cython", "numpy"])
    p.add_argument("--json", metavar="FILE")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    training_data, _, test_data = mnist_loader.load_data_wrapper()
    final = {b: [] for b in args.backends}
    for seed in args.seeds:
        for backend in args.backends:
            np.random.seed(seed)
            random.seed(seed)
            net = network.Network(sizes, backend=backend)
            out = io.StringIO()
            start = time.perf_counter()
            with redirect_stdout(out):
                net.SGD(list(training_data), args.epochs, 10, 3.0, test_data=test_data)
            seconds = time.perf_counter() - start
            accuracies = [int(line.split()[2]) / len(test_data) for line in out.getvalue().splitlines()]
            final[backend].append(accuracies[-1])
            print("seed {} {:<7} final {:.2%}  best {:.2%}  {:.1f} s".format(
                seed, backend, accuracies[-1], max(accuracies), seconds), flush=True)
    for backend, values in final.items():
        print("{:<7} median final accuracy over {} seeds: {:.2%}".format(
            backend, len(values), statistics.median(values)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sizes": sizes, "epochs": args.epochs, "seeds": args.seeds, "final": final}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
