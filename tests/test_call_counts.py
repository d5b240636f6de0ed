"""How often network2.SGD calls a subclass's accuracy and feedforward: as often as
the book's network2.py (tests/book.py) calls its own -- evaluation accuracy twice an
epoch, once for the list and once in its print line -- and never for a network
that overrides neither."""
import contextlib
import io
import random
import warnings

import numpy as np
import pytest

from cnet import network2

import book
from conftest import make_data

SIZES = [12, 8, 4]
EPOCHS = 3


def counting(base, name):
    """A subclass of ``base`` whose ``name`` counts its calls and defers to ``base``."""
    def method(self, *args, **kwargs):
        self.counts[name] = self.counts.get(name, 0) + 1
        return getattr(super(sub, self), name)(*args, **kwargs)
    sub = type("Counted_" + name, (base,), {name: method})
    return sub


def run(cls, monitors, **kwargs):
    rng = np.random.default_rng(8)
    train = make_data(SIZES, 20, rng)
    evaluation = make_data(SIZES, 9, rng, labels=True)
    np.random.seed(3)
    net = cls.__new__(cls)
    net.counts = {}
    net.__init__(SIZES, **kwargs)
    random.seed(4)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = net.SGD(list(train), EPOCHS, 5, 0.5, lmbda=1.0, evaluation_data=evaluation,
                         **monitors)
    return net.counts, result, out.getvalue()


MONITORS = {
    "evaluation accuracy": dict(monitor_evaluation_accuracy=True),
    "all four": dict(monitor_evaluation_accuracy=True, monitor_evaluation_cost=True,
                     monitor_training_accuracy=True, monitor_training_cost=True),
    "training accuracy": dict(monitor_training_accuracy=True),
    "early stopping": dict(monitor_evaluation_accuracy=True, early_stopping_n=2),
}


@pytest.mark.parametrize("monitors", list(MONITORS))
@pytest.mark.parametrize("method", ["accuracy", "feedforward"])
def test_overridden_accuracy_and_feedforward_are_called_as_often_as_the_books(backend, method,
                                                                               monitors):
    ours, result, printed = run(counting(network2.Network, method), MONITORS[monitors],
                                backend=backend)
    theirs, _, _ = run(counting(book.Network2, method), MONITORS[monitors])
    assert ours == theirs
    if method == "accuracy" and monitors == "evaluation accuracy":
        assert ours == {"accuracy": 2 * EPOCHS}       # the book's two calls an epoch
        assert printed.count("Accuracy on evaluation data: ") == EPOCHS


def test_a_network_overriding_neither_never_runs_the_books_accuracy(monkeypatch, backend):
    def refuse(*args, **kwargs):
        raise AssertionError("the book's Python accuracy ran for a network overriding nothing")

    _, want, printed = run(network2.Network, MONITORS["all four"], backend=backend)
    monkeypatch.setattr(network2.Network, "_book_correct", refuse)
    monkeypatch.setattr(network2.Network, "_book_feedforward", refuse)
    _, got, printed_again = run(network2.Network, MONITORS["all four"], backend=backend)
    assert got == want and printed_again == printed
