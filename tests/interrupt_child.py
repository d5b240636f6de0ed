"""The child process of test_interrupt.py: trains until a SIGINT arrives, then checks.

``python interrupt_child.py BACKEND THREADS`` prints, one line each:
``started {"epoch": s}`` once the epoch's training begins (s: how long the whole
epoch would take, measured on a part of it), ``caught`` as soon as the
KeyboardInterrupt arrives, then ``checks {...}``: what the test asserts.
"""
import json
import sys
import time

import numpy as np

from cnet import network2

BACKEND, THREADS = sys.argv[1], int(sys.argv[2])
# wide for the compiled kernels (an epoch of many seconds); the NumPy ones are slow enough
SIZES = [784, 1000, 1000, 10] if BACKEND == "cython" else [784, 100, 30, 10]
MBS, ETA, LMBDA = 10, 0.05, 5.0          # lmbda > 0: the kernels keep the L2 decay lazily
rng = np.random.default_rng(0)
xs = [rng.random((784, 1)) * (rng.random((784, 1)) < 0.2) for _ in range(100)]   # like MNIST
ys = [np.eye(10)[:, [i % 10]] for i in range(100)]


def make(n):
    # n distinct (x, y) pairs (sharing the arrays, to keep a long epoch small in memory)
    return [(xs[i % 100], ys[i % 100]) for i in range(n)]


def network():
    return network2.Network(SIZES, seed=1, backend=BACKEND, num_threads=THREADS)


# how long an example takes: one epoch over a few
part = make(100 if BACKEND == "cython" else 20)
begin = time.perf_counter()
network().train_epochs(part, 1, MBS, ETA, LMBDA)
per_example = (time.perf_counter() - begin) / len(part)
n = max(len(part), int(30.0 / per_example))     # an epoch of about 30 s
data = make(n)
original = list(data)
net = network()


def progress(done, total):
    if done == 0:
        print("started", json.dumps({"epoch": n * per_example}), flush=True)


begin = time.perf_counter()
try:
    net.train_epochs(data, 1, MBS, ETA, LMBDA, progress=progress, progress_steps=1)
    print("not interrupted", flush=True)
    sys.exit(1)
except KeyboardInterrupt:
    print("caught", flush=True)
trained = time.perf_counter() - begin

checks = {"n": n, "finite": all(bool(np.isfinite(a).all()) for a in net.weights + net.biases),
          # the same objects, each once, in some order
          "permutation": sorted(map(id, data)) == sorted(map(id, original)) and len(data) == n}
# the parameters are those after some whole number k of this epoch's mini-batches:
# replay them one at a time from the same start (up to 20 times as many as the time
# trained suggests: per_example was measured once, and the load of a shared machine
# can change between that and the training)
replay = network()
after = None
for k in range(min(n // MBS, int(20 * trained / (MBS * per_example)) + 10) + 1):
    if all(np.allclose(a, b, rtol=1e-9, atol=1e-12)
           for a, b in zip(net.weights + net.biases, replay.weights + replay.biases)):
        after = k
        break
    replay.update_mini_batch(data[k * MBS:(k + 1) * MBS], ETA, LMBDA, n)
checks["mini_batches"] = after
# training goes on from there
before = [w.copy() for w in net.weights]
net.train_epochs(data[:50], 1, MBS, ETA, LMBDA)
checks["continues"] = all(np.isfinite(w).all() for w in net.weights) and any(
    not np.array_equal(w, b) for w, b in zip(net.weights, before))
print("checks", json.dumps(checks), flush=True)
