"""The chapter-6 speed comparison in one run: one epoch of the book's
dbl_conv_relu for each dtype, mini-batch and thread count, by cnet
(cnet_epoch.py), cnet's NumPy fallback and PyTorch on the CPU (torch_epoch.py,
run by a Python that has PyTorch), each in a fresh process, interleaved; beside
them the arithmetic limit (limit.py).

    CNET_DATA_DIR=~/mnist python benchmarks/chapter6/compare.py \\
        --torch-python bench/bin/python [--images 50000] [--fallback-images 5000]

prints the CPU's name, each implementation's seconds per 50,000 images, and the
ratios: cnet against PyTorch, the fallback and the limit, two threads against one.
"""
import argparse
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(command):
    """The command's standard output (it must succeed)."""
    return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout


def seconds_per_50000(output, images):
    """The per-50,000 seconds of the single configuration that output reports."""
    cnet = re.search(r"-> ([\d.]+) s per 50,000", output)
    if cnet:
        return float(cnet.group(1))
    return float(re.search(r"threads=\d+ ([\d.]+) s", output).group(1)) * 50000 / images


def cpu_name():
    """lscpu's model name, else platform's processor."""
    try:
        for line in run(["lscpu"]).splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def limits():
    """{(dtype, threads): the epoch's limit in seconds} from limit.py for dbl_conv_relu."""
    out = run([sys.executable, os.path.join(HERE, "limit.py"), "--threads", "2"])
    line = next(line for line in out.splitlines() if line.startswith("dbl_conv_relu"))
    found = {}
    for dtype, kind in (("float32", "float"), ("float64", "double")):
        for t in (1, 2):
            m = re.search(r"\b{} {}t ([\d.]+) s".format(kind, t), line)
            if m:
                found[dtype, t] = float(m.group(1))
    return found, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch-python", help="a Python with PyTorch installed (omit: no PyTorch column)")
    parser.add_argument("--images", type=int, default=50000)
    parser.add_argument("--fallback-images", type=int, default=5000)
    parser.add_argument("--mini-batch", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    args = parser.parse_args()
    cnet = [sys.executable, os.path.join(HERE, "cnet_epoch.py")]
    torch = [args.torch_python, os.path.join(HERE, "torch_epoch.py")] if args.torch_python else None
    limit, limit_text = limits()
    print("CPU: {}\n{}".format(cpu_name(), limit_text.rstrip()), flush=True)
    print("{:8s} {:>4s} {:>7s} {:>8s} {:>9s} {:>10s} {:>9s} {:>9s} {:>11s} {:>8s} {:>8s}".format(
        "dtype", "mb", "threads", "cnet s", "torch s", "cnet/torch", "fallback", "limit s", "cnet/limit",
        "xfallbk", "x1thread"), flush=True)
    one_thread = {}
    for dtype in args.dtype:
        for mb in args.mini_batch:
            fallback = seconds_per_50000(run(cnet + ["--backend", "numpy", "--images", str(args.fallback_images),
                                                     "--mini-batch", str(mb), "--dtype", dtype]), args.fallback_images)
            for t in args.threads:
                common = ["--mini-batch", str(mb), "--threads", str(t), "--dtype", dtype]
                ours = seconds_per_50000(run(cnet + ["--images", str(args.images)] + common), args.images)
                theirs = seconds_per_50000(run(torch + ["--images", str(args.images)] + common),
                                           args.images) if torch else float("nan")
                one_thread.setdefault((dtype, mb), ours)
                lim = limit.get((dtype, t), float("nan"))
                print("{:8s} {:4d} {:7d} {:8.2f} {:9.2f} {:9.2f}x {:9.1f} {:9.2f} {:10.2f}x {:7.1f}x {:7.2f}x".format(
                    dtype, mb, t, ours, theirs, theirs / ours, fallback, lim, ours / lim, fallback / ours,
                    one_thread[dtype, mb] / ours), flush=True)
    print("cnet/torch > 1: cnet faster; cnet/limit: how many times the limit cnet takes; xfallbk: cnet's "
          "speed-up over the NumPy fallback (one thread); x1thread: over cnet on one thread")


if __name__ == "__main__":
    main()
