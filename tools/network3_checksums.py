"""network3's training checksums: one SHA-256 line per configuration of the grid
network × activation × dropout × dtype × thread count × backend, of the printed
lines and parameters that two epochs of ``network3`` training leave on small
random data.

    python tools/network3_checksums.py > before.txt     # on one commit
    python tools/network3_checksums.py > after.txt      # on another
    diff before.txt after.txt                           # nothing: the same bits

A change that must keep the bits (a refactor, a faster loop) shows no diff.  It
uses only the public API, so it runs against any commit's cnet (PYTHONPATH).
"""
import contextlib
import hashlib
import io
import itertools

import numpy as np

from cnet import network3

ACTIVATIONS = {"relu": network3.ReLU, "sigmoid": network3.sigmoid, "tanh": network3.tanh}
DTYPES = ("float64", "float32")
THREADS = (1, 2, 3)
BACKENDS = ("cython", "numpy")


def layers(shape, activation, p, m):
    """The layers of a small net: one or two ConvPoolLayers, a FullyConnectedLayer, a
    SoftmaxLayer (dropout p on the last two)."""
    f = ACTIVATIONS[activation]
    if shape == "one conv":
        return [network3.ConvPoolLayer(image_shape=(m, 1, 12, 12), filter_shape=(4, 1, 3, 3), poolsize=(2, 2),
                                       activation_fn=f),
                network3.FullyConnectedLayer(n_in=4 * 5 * 5, n_out=9, activation_fn=f, p_dropout=p),
                network3.SoftmaxLayer(n_in=9, n_out=5, p_dropout=p)]
    return [network3.ConvPoolLayer(image_shape=(m, 1, 12, 12), filter_shape=(3, 1, 3, 3), poolsize=(2, 2),
                                   activation_fn=f),
            network3.ConvPoolLayer(image_shape=(m, 3, 5, 5), filter_shape=(6, 3, 2, 2), poolsize=(2, 2),
                                   activation_fn=f),
            network3.FullyConnectedLayer(n_in=6 * 2 * 2, n_out=7, activation_fn=f, p_dropout=p),
            network3.SoftmaxLayer(n_in=7, n_out=5, p_dropout=p)]


def checksum(shape, activation, p, dtype, threads, backend, m=5):
    """The SHA-256 (first 16 hex digits) of the printed lines and the parameters."""
    network3.floatX = dtype
    rng = np.random.default_rng(11)
    x, y = rng.random((47, 144)), rng.integers(0, 5, 47)
    x[rng.random(x.shape) < 0.5] = 0.0
    np.random.seed(5)
    net = network3.Network(layers(shape, activation, p, m), m, seed=3, backend=backend, num_threads=threads)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        net.SGD((x[:30], y[:30]), 2, m, 0.4, (x[30:40], y[30:40]), (x[40:], y[40:]), lmbda=0.2)
    h = hashlib.sha256(out.getvalue().encode())
    for param in net.params:
        h.update(np.ascontiguousarray(param.get_value()).tobytes())
    return h.hexdigest()[:16]


def main():
    for shape, activation, p, dtype, threads, backend in itertools.product(
            ("one conv", "two convs"), ACTIVATIONS, (0.0, 0.5), DTYPES, THREADS, BACKENDS):
        print(backend, shape, activation, "p", p, dtype, "t{}".format(threads),
              checksum(shape, activation, p, dtype, threads, backend), flush=True)


if __name__ == "__main__":
    main()
