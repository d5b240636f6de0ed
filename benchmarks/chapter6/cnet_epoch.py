"""cnet's network3 training the book's dbl_conv_relu network for the chapter-6 speed
comparison (torch_epoch.py is PyTorch's side): one epoch of network3.SGD over the
first N training images, wall time scaled to 50,000.

    CNET_DATA_DIR=~/mnist python benchmarks/chapter6/cnet_epoch.py \
        --images 5000 --mini-batch 10 100 --threads 1 2 --dtype float32 float64 [--backend numpy]

Prints one line per configuration:
"cnet <dtype> mb=<m> threads=<t> <µs> us/example -> <s> s per 50,000".
"""
import argparse
import contextlib
import io
import time

import numpy as np

from cnet import network3
from cnet.network3 import ConvPoolLayer, FullyConnectedLayer, Network, ReLU, SoftmaxLayer


def epoch_seconds(data, n, mbs, backend, threads):
    """Seconds of one epoch of SGD over the first n images, mini-batches of mbs."""
    training, validation, _ = data
    X, Y = training[0].get_value()[:n], training[1].get_value()[:n]
    few = (validation[0].get_value()[:100], validation[1].get_value()[:100])
    np.random.seed(0)
    net = Network([
        ConvPoolLayer(image_shape=(mbs, 1, 28, 28), filter_shape=(20, 1, 5, 5), poolsize=(2, 2),
                      activation_fn=ReLU),
        ConvPoolLayer(image_shape=(mbs, 20, 12, 12), filter_shape=(40, 20, 5, 5), poolsize=(2, 2),
                      activation_fn=ReLU),
        FullyConnectedLayer(n_in=40 * 4 * 4, n_out=100, activation_fn=ReLU),
        SoftmaxLayer(n_in=100, n_out=10)], mbs, backend=backend, num_threads=threads)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD((X, Y), 1, mbs, 0.03, few, None, lmbda=0.1)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--mini-batch", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--dtype", nargs="+", default=["float32"], choices=["float32", "float64"])
    parser.add_argument("--backend", default=None, choices=["cython", "numpy"])
    args = parser.parse_args()
    for dtype in args.dtype:
        network3.floatX = dtype
        data = network3.load_data_shared()
        for mbs in args.mini_batch:
            for threads in args.threads:
                seconds = epoch_seconds(data, args.images, mbs, args.backend, threads)
                print("cnet {} mb={} threads={} {:.1f} us/example -> {:.1f} s per 50,000".format(
                    dtype, mbs, threads, seconds / args.images * 1e6, seconds / args.images * 50000), flush=True)


if __name__ == "__main__":
    main()
