"""Time one MNIST epoch and one evaluation, compiled kernels against the NumPy fallback.

    CNET_DATA_DIR=~/mnist python benchmarks/bench_epoch.py

For each network size (default [784, 30, 10]): both backends start from the
same parameters (np.random.seed) and shuffle alike (random.seed); each trains
one epoch over the 50,000 training images (mini-batch 10, eta 3.0, float64,
one thread) and evaluates the 10,000 test images.  Prints seconds per epoch
(the kernels' epoch, after the data has been checked and stacked once), the
one-off cost of checking and stacking the data, evaluate's time, the ratios,
and the test accuracy each reached.  ``--threads N`` adds the compiled
kernels on N threads (the same results, a second row).  ``--json FILE`` also
writes the numbers.
"""
import argparse
import json
import os
import platform
import random
import statistics
import sys
import time

import numpy as np

from cnet import _kernels, mnist_loader, network, network2


def timed_epoch(sizes, backend, training_data, test_data, seed, mini_batch_size, eta, threads=1):
    """(seconds of the epoch, seconds of checking + stacking, accuracy, evaluate seconds)."""
    np.random.seed(seed)
    random.seed(seed)
    net = network.Network(sizes, backend=backend, num_threads=threads)
    marks = {}

    def progress(done, total):
        if done == 0:
            marks["start"] = time.perf_counter()

    def after_epoch(j, X, Y):
        marks["end"] = time.perf_counter()

    begin = time.perf_counter()
    net._sgd(list(training_data), 1, mini_batch_size, eta, 0.0, after_epoch, progress, 1)
    t0 = time.perf_counter()
    correct = net.evaluate(test_data)
    evaluate_seconds = time.perf_counter() - t0
    return (marks["end"] - marks["start"], marks["start"] - begin, correct, evaluate_seconds)


def monitored_epoch(backend, training_data, validation_data, seed, threads=1):
    """Seconds of one network2 epoch (lmbda 5.0, eta 0.5, all four monitors on), as the
    difference between 3-epoch and 1-epoch SGD calls, so that the one-off checking
    and stacking of the data cancels; and the final evaluation accuracy."""
    seconds = {}
    for epochs in (1, 3):
        np.random.seed(seed)
        random.seed(seed)
        net = network2.Network([784, 30, 10], backend=backend, num_threads=threads)
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            try:
                lists = net.SGD(list(training_data), epochs, 10, 0.5, lmbda=5.0,
                                evaluation_data=validation_data, monitor_evaluation_cost=True,
                                monitor_evaluation_accuracy=True, monitor_training_cost=True,
                                monitor_training_accuracy=True)
            finally:
                sys.stdout = stdout
        seconds[epochs] = time.perf_counter() - start
    return (seconds[3] - seconds[1]) / 2, lists[1][-1] / len(validation_data)


def configurations(args):
    """(label, backend, threads, epochs timed) for each row: the compiled kernels on
    one thread, on --threads threads if more than one, and the fallback."""
    rows = [("cython", "cython", 1, args.repeat)]
    if args.threads > 1:
        rows.append(("cython-{}t".format(args.threads), "cython", args.threads, args.repeat))
    return rows + [("numpy", "numpy", 1, args.fallback_repeat)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", nargs="+", default=["784,30,10"],
                   help="network sizes, e.g. 784,30,10 784,100,30,10")
    p.add_argument("--repeat", type=int, default=5, help="epochs timed for the compiled kernels (median)")
    p.add_argument("--fallback-repeat", type=int, default=1, help="epochs timed for the fallback")
    p.add_argument("--mini-batch-size", type=int, default=10)
    p.add_argument("--eta", type=float, default=3.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--network2", action="store_true",
                   help="also time a network2 epoch with lmbda 5.0 and all four monitors on")
    p.add_argument("--threads", type=int, default=1,
                   help="also time the compiled kernels on this many threads (num_threads)")
    p.add_argument("--json", metavar="FILE", help="also write the results here")
    args = p.parse_args(argv)

    training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
    isa = getattr(_kernels.compiled, "ISA", "not built")
    print("cnet benchmark: {} training, {} test images; mini-batch {}, eta {}; compiled kernels: {}; "
          "{} {}".format(len(training_data), len(test_data), args.mini_batch_size, args.eta, isa,
                         platform.machine(), platform.python_version()))
    results = []
    header = "{:<16} {:<10} {:>10} {:>10} {:>10} {:>9} {:>8}".format(
        "sizes", "backend", "s/epoch", "stack s", "eval s", "accuracy", "ratio")
    print(header)
    print("-" * len(header))
    for text in args.sizes:
        sizes = [int(s) for s in text.split(",")]
        rows = {}
        for label, backend, threads, repeat in configurations(args):
            runs = [timed_epoch(sizes, backend, training_data, test_data, args.seed,
                                args.mini_batch_size, args.eta, threads) for _ in range(repeat)]
            rows[label] = {
                "sizes": sizes, "backend": label, "threads": threads,
                "epoch_seconds": statistics.median(r[0] for r in runs),
                "stack_seconds": statistics.median(r[1] for r in runs),
                "evaluate_seconds": statistics.median(r[3] for r in runs),
                "accuracy": runs[0][2] / len(test_data),
                "runs": len(runs),
            }
        slow = rows["numpy"]
        for row in rows.values():
            if row is not slow:
                row["epoch_speedup"] = slow["epoch_seconds"] / row["epoch_seconds"]
                row["evaluate_speedup"] = slow["evaluate_seconds"] / row["evaluate_seconds"]
        fast = rows["cython"]
        for row in rows.values():
            print("{:<16} {:<10} {:>10.4f} {:>10.3f} {:>10.4f} {:>8.2f}% {:>8}".format(
                text, row["backend"], row["epoch_seconds"], row["stack_seconds"],
                row["evaluate_seconds"], 100 * row["accuracy"],
                "{:.1f}x".format(row["epoch_speedup"]) if "epoch_speedup" in row else "1.0x"))
        print("{:<16} epoch {:.1f}x faster, evaluate {:.1f}x faster than the fallback".format(
            "", fast["epoch_speedup"], fast["evaluate_speedup"]))
        if args.threads > 1:
            many = rows["cython-{}t".format(args.threads)]
            print("{:<16} on {} threads: epoch {:.1f}x, evaluate {:.1f}x faster than the fallback".format(
                "", args.threads, many["epoch_speedup"], many["evaluate_speedup"]))
        results += list(rows.values())
    if args.network2:
        rows = {}
        for label, backend, threads, _ in configurations(args):
            epoch, accuracy = monitored_epoch(backend, training_data, validation_data, args.seed,
                                              threads)
            rows[label] = {"sizes": [784, 30, 10], "backend": label, "threads": threads,
                           "network2_monitored": True, "epoch_seconds": epoch, "accuracy": accuracy}
            print("network2 + 4 monitors {:<10} {:>10.4f} s/epoch {:>8.2f}% (validation)".format(
                label, epoch, 100 * accuracy))
        for label, row in rows.items():
            if label != "numpy":
                row["epoch_speedup"] = rows["numpy"]["epoch_seconds"] / row["epoch_seconds"]
                print("network2 + 4 monitors: {} epoch {:.1f}x faster than the fallback".format(
                    label, row["epoch_speedup"]))
        results += list(rows.values())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"isa": isa, "machine": platform.machine(), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
