"""The arithmetic limit of a chapter-6 training epoch on this CPU: the epoch's
multiply-adds, and this core's measured peak rate of them (peak_fma.c, a C loop
of independent fused multiply-adds on the widest vectors the compiler targets).

    python benchmarks/chapter6/limit.py [--threads 2] [--images 50000]

prints, for the book's conv.py networks, the multiply-adds per example (forward,
backward) and per epoch, the peak GFLOP/s in float32 and float64 on 1..threads
threads, and the epoch's seconds at that peak: no real epoch can be faster.
"""
import argparse
import os
import re
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

# the book's conv.py networks as (kind, shape) lists: ("conv", filters, maps, h, w, in_h, in_w, pool),
# ("fc", n_in, n_out)
NETWORKS = {
    "shallow": [("fc", 784, 100), ("fc", 100, 10)],
    "basic_conv": [("conv", 20, 1, 5, 5, 28, 28, 2), ("fc", 20 * 12 * 12, 100), ("fc", 100, 10)],
    "dbl_conv_relu": [("conv", 20, 1, 5, 5, 28, 28, 2), ("conv", 40, 20, 5, 5, 12, 12, 2),
                      ("fc", 40 * 4 * 4, 100), ("fc", 100, 10)],
    "double_fc_dropout": [("conv", 20, 1, 5, 5, 28, 28, 2), ("conv", 40, 20, 5, 5, 12, 12, 2),
                          ("fc", 40 * 4 * 4, 1000), ("fc", 1000, 1000), ("fc", 1000, 10)],
}


def multiply_adds(layers):
    """(forward, backward) multiply-adds per example: each layer's weighted sums
    forward; backward, each layer's weight gradient (as many as forward) and, for
    every layer but the first, its input's gradient (as many again)."""
    forward, backward = 0, 0
    for l, layer in enumerate(layers):
        if layer[0] == "conv":
            _, f, c, h, w, in_h, in_w, _pool = layer
            n = f * (in_h - h + 1) * (in_w - w + 1) * c * h * w
        else:
            n = layer[1] * layer[2]
        forward += n
        backward += n if l == 0 else 2 * n
    return forward, backward


def peak(threads):
    """{("float"|"double", t): GFLOP/s} from peak_fma.c, compiled here with -march=native."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "peak_fma")
        subprocess.run(["cc", "-O2", "-march=native", "-ffp-contract=fast", "-pthread",
                        os.path.join(HERE, "peak_fma.c"), "-o", exe], check=True)
        for kind in ("float", "double"):
            text = subprocess.run([exe, kind, str(threads)], check=True, capture_output=True, text=True).stdout
            for t, g in re.findall(r"threads=(\d+) gflops=([\d.]+)", text):
                out[(kind, int(t))] = float(g)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=50000)
    args = parser.parse_args()
    rates = peak(args.threads)
    for (kind, t), g in sorted(rates.items()):
        print("peak {:6s} {} thread{}: {:7.1f} GFLOP/s".format(kind, t, "s" if t > 1 else " ", g))
    for name, layers in NETWORKS.items():
        fwd, bwd = multiply_adds(layers)
        gflop = 2.0 * (fwd + bwd) * args.images / 1e9
        limits = ", ".join("{} {}t {:.2f} s".format(kind, t, gflop / g) for (kind, t), g in sorted(rates.items()))
        print("{:18s} {:.2f} M + {:.2f} M multiply-adds/example, {:.0f} GFLOP/epoch; limit: {}".format(
            name, fwd / 1e6, bwd / 1e6, gflop, limits))


if __name__ == "__main__":
    main()
