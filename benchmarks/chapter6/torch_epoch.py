"""PyTorch on the CPU, training the book's dbl_conv_relu network exactly as
network3.py does, for the chapter-6 speed comparison.

ConvPool(20 5x5) -> ConvPool(40 5x5) -> FC(640, 100) -> softmax(100, 10), ReLU,
each ConvPool relu(maxpool(conv(x, w)) + b); the cost the mean over the
mini-batch of -ln a_y plus 0.5 lambda sum ||w||^2 / num_training_batches; plain
SGD p <- p - eta dC/dp; mini-batches in order.  One epoch, wall time.

Needs PyTorch, a benchmark-only install, never a dependency of cnet:
    python -m venv bench && bench/bin/pip install torch numpy
    CNET_DATA_DIR=~/mnist bench/bin/python benchmarks/chapter6/torch_epoch.py \
        --mini-batch 10 100 --threads 1 2 --dtype float32 float64

Prints one line per configuration: "torch <dtype> mb=<m> threads=<t> <seconds> s".
"""
import argparse
import gzip
import os
import pickle
import time

import numpy as np
import torch
import torch.nn.functional as F


def load(data_dir, n):
    """The first n training images (n, 1, 28, 28) and labels, from the book's mnist.pkl.gz."""
    with gzip.open(os.path.join(data_dir, "mnist.pkl.gz"), "rb") as f:
        (images, labels), _, _ = pickle.load(f, encoding="latin1")
    return images[:n].reshape(-1, 1, 28, 28), labels[:n]


def parameters(dtype, rng):
    """The book's initialisation: w ~ N(0, 1/n_out) (a ConvPool's n_out: filters x 25 / 4),
    b ~ N(0, 1); the softmax layer's w and b zero."""
    def normal(std, shape):
        return torch.tensor(rng.normal(0.0, std, shape), dtype=dtype, requires_grad=True)
    return [normal(np.sqrt(1.0 / (20 * 25 / 4)), (20, 1, 5, 5)), normal(1.0, (20,)),
            normal(np.sqrt(1.0 / (40 * 25 / 4)), (40, 20, 5, 5)), normal(1.0, (40,)),
            normal(np.sqrt(1.0 / 100), (640, 100)), normal(1.0, (100,)),
            torch.zeros((100, 10), dtype=dtype, requires_grad=True),
            torch.zeros((10,), dtype=dtype, requires_grad=True)]


def forward(p, x):
    w1, b1, w2, b2, w3, b3, w4, b4 = p
    a = F.relu(F.max_pool2d(F.conv2d(x, w1), 2) + b1.view(1, -1, 1, 1))
    a = F.relu(F.max_pool2d(F.conv2d(a, w2), 2) + b2.view(1, -1, 1, 1))
    a = F.relu(a.reshape(len(x), -1) @ w3 + b3)
    return F.log_softmax(a @ w4 + b4, dim=1)


def epoch(images, labels, mini_batch, dtype, eta=0.03, lmbda=0.1, seed=0):
    """Seconds for one epoch of SGD over (images, labels), mini-batches in order."""
    p = parameters(dtype, np.random.default_rng(seed))
    X = torch.tensor(images, dtype=dtype)
    Y = torch.tensor(labels, dtype=torch.long)
    batches = len(X) // mini_batch
    weights = p[0::2]
    start = time.perf_counter()
    for k in range(batches):
        x, y = X[k * mini_batch:(k + 1) * mini_batch], Y[k * mini_batch:(k + 1) * mini_batch]
        cost = F.nll_loss(forward(p, x), y) + 0.5 * lmbda * sum((w * w).sum() for w in weights) / batches
        for q in p:
            q.grad = None
        cost.backward()
        with torch.no_grad():
            for q in p:
                q -= eta * q.grad
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mini-batch", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dtype", nargs="+", default=["float32"], choices=["float32", "float64"])
    parser.add_argument("--images", type=int, default=50000)
    parser.add_argument("--data-dir", default=os.environ.get("CNET_DATA_DIR"))
    args = parser.parse_args()
    images, labels = load(args.data_dir, args.images)
    torch.set_num_interop_threads(1)
    for dtype in args.dtype:
        for m in args.mini_batch:
            for t in args.threads:
                torch.set_num_threads(t)
                seconds = epoch(images, labels, m, getattr(torch, dtype))
                print("torch {} {} mb={} threads={} {:.2f} s".format(torch.__version__, dtype, m, t, seconds),
                      flush=True)


if __name__ == "__main__":
    main()
