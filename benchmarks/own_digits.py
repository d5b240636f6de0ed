"""How well MNIST's own test digits survive being saved as a user would save them.

Trains a [784, 100, 10] network2 (cross-entropy, eta 0.5, lmbda 5.0, seeded)
on the 50,000 training images, then redraws test images as image files --
their 8-bit pixels scaled up 3x (bicubic), pasted off-centre on a 200 x 160
canvas, black on white or white on black -- reads them back through
``cnet.images.to_mnist`` and compares the network's answers with its answers
on the original arrays:

- round trip: the first 1,000 test images, alternately black on white and
  white on black; the share predicted as the original array is;
- all 10,000 test images re-drawn at 3x, inverted (black on white) and
  shifted: the accuracy against the true labels, next to the accuracy on the
  originals.

    CNET_DATA_DIR=~/mnist python benchmarks/own_digits.py [--epochs N]

Needs Pillow (the [images] extra).
"""
import argparse
import contextlib
import io
import os
import tempfile
import time

import sys

import numpy as np

from cnet import images, mnist_loader, network2

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from drawing import centre_of_mass, redraw  # noqa: E402  (tests/drawing.py)


def through_files(test_data, directory, rng, dark_on_light):
    """Each test input redrawn, written to a PNG, read back by to_mnist: the (784, n)
    inputs, the worst distance of a centre of mass from (14, 14), seconds per image
    in to_mnist."""
    xs, worst, seconds = [], 0.0, 0.0
    for k, (x, _) in enumerate(test_data):
        path = os.path.join(directory, "digit{}.png".format(k))
        redraw(x, rng, dark_on_light(k)).save(path)
        start = time.perf_counter()
        y = images.to_mnist(path)
        seconds += time.perf_counter() - start
        worst = max(worst, float(np.max(np.abs(np.subtract(centre_of_mass(y), 14.0)))))
        xs.append(y)
    return np.hstack(xs), worst, seconds / len(test_data)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args()
    training_data, _, test_data = mnist_loader.load_data_wrapper(args.data_dir)
    net = network2.Network([784, 100, 10], seed=1)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):    # the per-epoch lines
        net.SGD(training_data, args.epochs, 10, 0.5, lmbda=5.0)
    print("trained [784, 100, 10] for {} epochs in {:.1f} s".format(args.epochs, time.perf_counter() - start))
    labels = np.array([y for _, y in test_data])
    X = np.hstack([x for x, _ in test_data])
    original = net.predict(X)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        Y, worst, per_image = through_files(test_data[:1000], d, rng, lambda k: k % 2 == 0)
        agree = np.mean(net.predict(Y) == original[:1000])
        print("round trip, 1,000 test images (half black on white, half white on black, 3x, off-centre):")
        print("  same label as the original array: {:.1%} ({} / 1000)".format(agree, int(agree * 1000)))
        print("  centre of mass: at most {:.3f} px from (14, 14); to_mnist {:.1f} ms an image".format(
            worst, 1000 * per_image))
        Z, worst, _ = through_files(test_data, d, rng, lambda k: True)
    redrawn = net.predict(Z)
    print("all 10,000 test images re-drawn at 3x, inverted (black on white) and shifted:")
    print("  accuracy {:.2%} (originals: {:.2%}); same label as the original: {:.2%}".format(
        np.mean(redrawn == labels), np.mean(original == labels), np.mean(redrawn == original)))
    print("  centre of mass: at most {:.3f} px from (14, 14)".format(worst))


if __name__ == "__main__":
    main()
