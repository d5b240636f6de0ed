"""How close evaluate's scan is to its irreducible work: the forward pass of [784, 30, 10]
over the 10,000 test images, alone, in plain C, next to cnet's.

    CNET_DATA_DIR=~/mnist python benchmarks/limits/scan.py

Compiles ``scan.c`` (next to this file; needs gcc) a few ways and runs each on the test
inputs, compressed as the kernels keep them, in the data set's order: the first layer's
loop (as the kernels compute it: a multiply, then an add; with the kernels' prefetches
of inputs and rows, and without), with its weight rows all in L1, with one row (the
multiplies and adds alone); then the whole forward pass and label
(30 libm exponentials and divisions, the second layer, the argmax and one more
exponential), with rows in L1, and with the exponential replaced by fabs (what libm's
exp costs); and from the float32 columns as the test list holds them, packed by the
kernels' own loop (pack.h): all of them, then the whole scan (``evaluate`` before
``Columns``), or 256 at a time, each 256 scanned while in cache (one pass, no packed
copy: ``evaluate`` now).  Prints milliseconds of CPU per scan (best of 15) next to
cnet's scan (``cost_and_predict`` without targets, on the packed inputs, and on the
list's ``Columns``), cnet's ``evaluate`` and the book's ``evaluate``, one thread, in the
same run; and what a 15x ``evaluate`` leaves for the scan after checking the list.
"""
import os
import subprocess
import sys
import sysconfig
import tempfile
import time

import numpy as np

from cnet import _kernels, mnist_loader, network
from cnet._kernels.spec import dense_chain

SPEC = dense_chain([784, 30, 10])   # the network the scan times

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))
FLAGS = ["-O3", "-ffp-contract=off", "-mavx2", "-mfma", "-Wno-aggressive-loop-optimizations"]

VARIANTS = [  # (what, -D definitions)
    ("first layer", []),
    ("first layer, no prefetch", ["-DAHEAD=0", "-DROWS_AHEAD=0"]),
    ("first layer, rows in L1", ["-DROW(i)=((i)%64)"]),
    ("first layer, one row", ["-DROW(i)=0"]),
    ("whole scan", ["-DFULL=1"]),
    ("whole scan, rows in L1", ["-DFULL=1", "-DROW(i)=((i)%64)"]),
    ("whole scan, fabs for exp", ["-DFULL=1", "-DEXP=fabs"]),
    ("pack all, then whole scan", ["-DFULL=1", "-DPACK=1"]),
    ("pack 256, scan 256, ...", ["-DFULL=1", "-DFUSED=256"]),
]
INCLUDES = ["-I", os.path.join(HERE, "..", "..", "cnet", "_kernels"), "-I", sysconfig.get_paths()["include"]]


def best_ms(f, repeat=15):
    best = None
    for _ in range(repeat):
        t = time.process_time()
        f()
        t = time.process_time() - t
        best = t if best is None else min(best, t)
    return 1e3 * best


def main():
    _, _, (images, _) = mnist_loader.load_data()
    X = np.ascontiguousarray(images, dtype=np.float64)
    rows, cols = np.nonzero(X)
    start = np.concatenate([[0], np.cumsum(np.count_nonzero(X, axis=1))]).astype(np.int64)
    rng = np.random.default_rng(0)
    w0 = np.zeros((784, 32))
    w0[:, :30] = rng.standard_normal((784, 30)) * 0.1
    w1 = np.zeros((30, 16))
    w1[:, :10] = rng.standard_normal((30, 10))
    b0, b1 = np.zeros(32), np.zeros(16)
    b0[:30], b1[:10] = rng.standard_normal(30), rng.standard_normal(10)
    with tempfile.TemporaryDirectory() as tmp:
        for name, a in [("start", start), ("index", cols.astype(np.int32)), ("value", X[rows, cols]),
                        ("w0", w0), ("b0", b0), ("w1", w1), ("b1", b1),
                ("pixels", np.ascontiguousarray(images, dtype=np.float32))]:
            a.tofile(os.path.join(tmp, name))
        print("the scan of [784, 30, 10] over the {} test images in order, {:.1f} non-zero pixels "
              "each (ms of CPU, best of 15)".format(len(X), len(rows) / len(X)))
        for what, defines in VARIANTS:
            exe = os.path.join(tmp, "scan")
            subprocess.run(["gcc", *FLAGS, *INCLUDES, *defines, os.path.join(HERE, "scan.c"), "-o", exe, "-lm"],
                           check=True)
            seconds = float(subprocess.run([exe, tmp], check=True, capture_output=True,
                                           text=True).stdout.split()[0])
            print("  {:<28} {:6.2f} ms".format(what, 1e3 * seconds))
    import book     # the book's network.py (tests/book.py)
    _, _, test_data = mnist_loader.load_data_wrapper()
    test_data = list(test_data)
    net = network.Network([784, 30, 10])
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    K = _kernels.compiled
    P = K.prepare(X)
    scan = best_ms(lambda: K.cost_and_predict(weights, biases, P, None, None, spec=SPEC))
    C, _ = K.pack("test_data", test_data, 784, 10, True, columns=True)
    columns = best_ms(lambda: K.cost_and_predict(weights, biases, C, None, None, spec=SPEC))
    check = best_ms(lambda: K.pack("test_data", test_data, 784, 10, True, columns=True))
    evaluate = best_ms(lambda: net.evaluate(test_data))
    book_net = book.Network([784, 30, 10])
    book_net.weights, book_net.biases = weights, biases
    book_ms = best_ms(lambda: book_net.evaluate(test_data), 3)
    print("  {:<28} {:6.2f} ms".format("cnet's scan", scan))
    print("  {:<28} {:6.2f} ms".format("cnet's scan of the columns", columns))
    print("  {:<28} {:6.2f} ms".format("cnet's check of the list", check))
    print("  {:<28} {:6.2f} ms  ({:.1f}x the book's)".format("cnet's evaluate", evaluate, book_ms / evaluate))
    print("  {:<28} {:6.2f} ms".format("the book's evaluate", book_ms))
    print("  a 15x evaluate: {:.2f} ms, {:.2f} ms for the scan after cnet's check of the list".format(
        book_ms / 15, book_ms / 15 - check))
    return 0


if __name__ == "__main__":
    sys.exit(main())
