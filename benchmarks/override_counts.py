"""Issue 16's table: how often cnet calls each overridden method, next to the book.

    python benchmarks/override_counts.py

For each public method of both Network classes, a subclass counts its calls and
defers to its parent; the same SGD call ([784, 30, 10], 60 training examples,
mini-batch 10, 2 epochs, 30 evaluation examples; network2 with all four
monitors) runs on the book's code (tests/book.py) and on cnet from the same
seeds.  Prints the counts and the largest difference in the final weights.
"""
import contextlib
import io
import os
import random
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import book  # noqa: E402

from cnet import network, network2  # noqa: E402

SIZES = [784, 30, 10]


def counting(base, name):
    """A subclass of ``base`` whose ``name`` counts its calls and defers to ``base``."""
    def method(self, *args, **kwargs):
        self.calls += 1
        return getattr(super(sub, self), name)(*args, **kwargs)
    sub = type("Counting_" + name, (base,), {name: method, "calls": 0})
    return sub


def data():
    rng = np.random.default_rng(0)
    train, evaluation = [], []
    for k in range(90):
        x = rng.random((784, 1))
        x[rng.random((784, 1)) < 0.8] = 0.0
        j = int(rng.integers(10))
        if k < 60:
            y = np.zeros((10, 1))
            y[j] = 1.0
            train.append((x, y))
        else:
            evaluation.append((x, j))
    return train, evaluation


def run(cls, chapter, train, evaluation):
    np.random.seed(1)
    random.seed(2)
    net = cls(SIZES)
    net.calls = 0
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if chapter == 1:
            net.SGD(list(train), 2, 10, 3.0, test_data=evaluation)
        else:
            net.SGD(list(train), 2, 10, 0.5, lmbda=1.0, evaluation_data=evaluation,
                    monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                    monitor_training_cost=True, monitor_training_accuracy=True)
    return net


def main():
    train, evaluation = data()
    print("{:<42} {:>16} {:>14} {:>14}".format("overridden", "the book calls it", "cnet calls it",
                                               "max |w - w_book|"))
    rows = [(1, book.Network, network.Network, m) for m in
            ["feedforward", "update_mini_batch", "backprop", "evaluate", "cost_derivative"]]
    rows += [(2, book.Network2, network2.Network, m) for m in
             ["feedforward", "update_mini_batch", "backprop", "accuracy", "total_cost"]]
    for chapter, theirs, ours, name in rows:
        b = run(counting(theirs, name), chapter, train, evaluation)
        c = run(counting(ours, name), chapter, train, evaluation)
        diff = max(float(np.max(np.abs(p - q)))
                   for p, q in zip(b.weights + b.biases, c.weights + c.biases))
        label = "{}.Network.{}".format("network" if chapter == 1 else "network2", name)
        print("{:<42} {:>16} {:>14} {:>14.1e}".format(label, b.calls, c.calls, diff))


if __name__ == "__main__":
    main()
