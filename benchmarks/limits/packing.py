"""How close checking and packing a list of examples is to what memory allows.

    CNET_DATA_DIR=~/mnist python benchmarks/limits/packing.py

Compiles ``packing.c`` (next to this file; needs gcc) into a shared library and
runs its loops over the arrays of ``load_data_wrapper()``'s training list, in
the list's order, as loaded and after ``random.shuffle`` (the order a list has
after one SGD call): reading every pixel (157 MB in 50,000 separate arrays);
writing the packed copy's bytes to fresh memory, with 4 KB and with 2 MB
pages; and both, packing one value at a time with no checks.  The sum of
the first and the third is the limit: a pass that reads the pixels and
writes the packed copy cannot take less.  Next to them, what cnet pays for
the same list: ``pack`` (the compiled kernels' one pass that checks and
packs), the same in the order of the arrays' addresses (what SGD calls: a
shuffled list is then read in memory order), the same in the order an earlier
pack found (what SGD's next call on the same list is told, without looking for
it again), that again into the memory of the last pack (``refill``: what SGD's
next call does, the network keeping its inputs: no fresh memory), and, before it,
the Python check loop (``_checks.examples``) followed by ``prepare``.  Seconds,
the best of ``--repeat`` runs, interleaved.
"""
import argparse
import ctypes
import os
import random
import subprocess
import sys
import tempfile
import time

import numpy as np

from cnet import _checks, _kernels, mnist_loader

HERE = os.path.dirname(os.path.abspath(__file__))


def build(tmp):
    lib = os.path.join(tmp, "packing.so")
    subprocess.run(["gcc", "-O3", "-mavx2", "-shared", "-fPIC", os.path.join(HERE, "packing.c"),
                    "-o", lib], check=True)
    so = ctypes.CDLL(lib)
    for name in ("cnet_limit_read", "cnet_limit_touch", "cnet_limit_pack"):
        getattr(so, name).restype = ctypes.c_double
    return so


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args(argv)
    training_data = list(mnist_loader.load_data_wrapper()[0])
    K = _kernels.compiled
    n, n_in = len(training_data), 784
    with tempfile.TemporaryDirectory() as tmp:
        so = build(tmp)
        print("checking and packing {} examples of {} float32 pixels (seconds, best of {})".format(
            n, n_in, args.repeat))
        for order in ("as loaded", "shuffled"):
            if order == "shuffled":
                random.Random(1).shuffle(training_data)
            xs = np.array([x.ctypes.data for x, _ in training_data], dtype=np.uintp)
            assert all(x.dtype == np.float32 and x.flags.c_contiguous for x, _ in training_data)
            address = ctypes.c_void_p(xs.ctypes.data)
            entries = int(sum(np.count_nonzero(x) for x, _ in training_data))
            total = ctypes.c_double()
            best = {}

            def record(what, seconds, best=best):
                best[what] = min(best.get(what, seconds), seconds)

            for _ in range(args.repeat):
                record("C: read the pixels", so.cnet_limit_read(address, n, n_in, ctypes.byref(total)))
                record("C: fresh memory, 4 KB pages", so.cnet_limit_touch(ctypes.c_size_t(entries * 12), 0))
                record("C: fresh memory, 2 MB pages", so.cnet_limit_touch(ctypes.c_size_t(entries * 12), 1))
                record("C: scalar pack, no checks", so.cnet_limit_pack(address, n, n_in, entries))
                if K is not None:
                    record("cnet: pack (checks + packing)",
                           timed(lambda: K.pack("training_data", training_data, n_in, 10, False)))
                    record("cnet: pack by address (SGD's)",
                           timed(lambda: K.pack("training_data", training_data, n_in, 10, False, True)))
                    rows = K.pack("training_data", training_data, n_in, 10, False, True)[2]
                    visit = np.empty(n, dtype=np.intp)
                    visit[rows] = np.arange(n)      # the order SGD's next call on the list is told
                    record("cnet: pack, order kept (next call)",
                           timed(lambda visit=visit: K.pack("training_data", training_data, n_in, 10, False, True,
                                                            visit)))
                    last = K.pack("training_data", training_data, n_in, 10, False, True, visit)[0]
                    record("cnet: the same, into the last's",
                           timed(lambda visit=visit, last=last: K.pack("training_data", training_data, n_in, 10,
                                                                      False, True, visit, refill=last)))
                    del last
                record("before: Python checks + prepare", timed(
                    lambda: (K or _kernels.numpy_kernels).prepare(
                        _checks.examples("training_data", training_data, n_in, 10, False)[0])))
            print("  list {}; {} non-zero pixels, {:.0f} MB packed in float64".format(
                order, entries, entries * 12 / 2 ** 20))
            for what, seconds in best.items():
                print("    {:<34} {:.4f} s".format(what, seconds))
            print("    {:<34} {:.4f} s".format("limit: read + fresh 2 MB pages",
                                               best["C: read the pixels"] + best["C: fresh memory, 2 MB pages"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
