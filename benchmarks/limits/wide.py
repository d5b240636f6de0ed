"""Whether wider vectors would pay in the first layer's loops: ``wide.c`` (next to this
file; needs gcc) compiled with 32-byte vectors (AVX2, the kernels' width) and with
64-byte vectors (AVX-512, when this CPU has it), for hidden layers of 32 and 112
stored columns ([784, 30, 10] and [784, 100, ...]), run over the MNIST training inputs
in a shuffled order.

    CNET_DATA_DIR=~/mnist python benchmarks/limits/wide.py [rounds]

Prints CPU seconds per epoch of the forward loop and the update (the best over
``rounds`` interleaved runs of the best of 5), one example at a time and in
mini-batches of 10 (three ways: see MODES), and checks that both widths leave the
same weights, bit for bit (a wider vector changes no column's order of additions).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

from cnet import _kernels, mnist_loader

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = ["-O3", "-ffp-contract=off"]
WIDTHS = {"AVX2, 32-byte vectors": BASE + ["-mavx2", "-mfma", "-DVW=32"],
          "AVX-512, 64-byte vectors": BASE + ["-mavx512f", "-mavx512vl", "-mavx512dq", "-DVW=64"]}


# how the examples go through the rows: one at a time; in mini-batches of 10 (as the
# kernels train), blocks of 48 KB of rows; the same with 16 KB blocks; and with the
# update row by row (each touched row loaded and stored once per mini-batch)
MODES = {"one at a time": [], "mini-batches of 10": ["-DGROUP=10"],
         "the same, 16 KB blocks": ["-DGROUP=10", "-DBLOCK_BYTES=16384"],
         "the same, row by row": ["-DGROUP=10", "-DROWWISE"]}
GROUPED = "mini-batches of 10, all {} ways".format(sum("-DGROUP=10" in flags for flags in MODES.values()))


def has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f " in f.read().replace("\n", " ")
    except OSError:
        return False


def main(argv):
    rounds = int(argv[0]) if argv else 4
    if _kernels.common is None or not _kernels.common.cpu_has_avx2():
        print("this CPU has no AVX2: nothing to compare")
        return 0
    (images, _), _, _ = mnist_loader.load_data()
    X = np.ascontiguousarray(images, dtype=np.float64)
    rows, cols = np.nonzero(X)
    start = np.concatenate([[0], np.cumsum(np.count_nonzero(X, axis=1))]).astype(np.int64)
    widths = {k: v for k, v in WIDTHS.items() if "512" not in k or has_avx512()}
    with tempfile.TemporaryDirectory() as tmp:
        start.tofile(os.path.join(tmp, "start"))
        cols.astype(np.int32).tofile(os.path.join(tmp, "index"))
        X[rows, cols].tofile(os.path.join(tmp, "value"))
        np.random.default_rng(1).permutation(len(X)).astype(np.int64).tofile(os.path.join(tmp, "order"))
        exes = {}
        for h in (32, 104):
            for how, group in MODES.items():
                for what, flags in widths.items():
                    exe = os.path.join(tmp, "wide_{}_{}".format(h, len(exes)))
                    subprocess.run(["gcc", *flags, *group, "-DH={}".format(h), "-I", HERE,
                                    os.path.join(HERE, "wide.c"), "-o", exe], check=True)
                    exes[h, how, what] = exe
        best, sums = {}, {}
        for _ in range(rounds):
            for key, exe in exes.items():
                seconds, check = subprocess.run([exe], cwd=tmp, check=True, capture_output=True,
                                                text=True).stdout.split()
                best[key] = min(best.get(key, float(seconds)), float(seconds))
                # the grouped modes change the order of the loops, not of any weight's terms
                kind = GROUPED if "-DGROUP=10" in MODES[key[1]] else key[1]
                sums.setdefault((key[0], kind), set()).add(check)
    print("the first layer's forward loop and update, shuffled "
          "(CPU seconds per epoch, best of {} rounds)".format(rounds))
    for (h, how, what), seconds in best.items():
        print("  {:>3} columns, {:<22} {:<26} {:.4f} s".format(h, how, what, seconds))
    for (h, how), checks in sums.items():
        print("  {:>3} columns, {}: the same weights at every width: {}".format(h, how, len(checks) == 1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
