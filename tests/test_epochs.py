"""The epoch loop's options (cnet._epochs): mini-batches in the list's order or
shuffled, a last short mini-batch trained or dropped; and early stopping."""
import random
import warnings

import numpy as np
import pytest

from cnet import network, network2
from cnet._epochs import EarlyStopping
from cnet._kernels import numpy_kernels
from cnet.functions import QuadraticCost

from conftest import make_data, max_rel_diff

SIZES = [7, 5, 3]


def reference(net, data, used, mini_batch_size, eta):
    """The NumPy reference's training on data[:used], in the list's order."""
    weights = [w.copy() for w in net.weights]
    biases = [b.copy() for b in net.biases]
    X = np.vstack([x.T for x, _ in data])
    Y = np.vstack([y.T for _, y in data])
    numpy_kernels.train(weights, biases, X, Y, np.arange(used, dtype=np.intp), mini_batch_size, eta,
                        0.0, len(data), QuadraticCost, **net._kernel_layers())
    return weights + biases


@pytest.mark.parametrize("drop_remainder", [False, True])
def test_in_order_epochs_train_the_list_as_it_is(backend, drop_remainder):
    data = make_data(SIZES, 10, np.random.default_rng(4))
    net = network.Network(SIZES, seed=1, backend=backend)
    want = reference(net, data, 8 if drop_remainder else 10, 4, 0.5)
    order = list(data)
    random.seed(9)
    state = random.getstate()
    progress = []
    net._sgd(data, 1, 4, 0.5, 0.0, lambda epoch, X, Y: None,
             lambda done, total: progress.append((done, total)), 1,
             shuffle=False, drop_remainder=drop_remainder)
    assert all(a is b for a, b in zip(data, order)) and random.getstate() == state
    assert max_rel_diff(net.weights + net.biases, want) <= (0 if backend == "numpy" else 1e-10)
    assert progress[-1] == ((8, 8) if drop_remainder else (10, 10))


def test_the_books_loop_takes_the_same_options():
    data = make_data(SIZES, 10, np.random.default_rng(5))
    batches = []

    class Stepping(network.Network):
        def update_mini_batch(self, mini_batch, eta):
            batches.append([id(example) for example in mini_batch])
            return super().update_mini_batch(mini_batch, eta)

    net = Stepping(SIZES, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net._sgd(data, 2, 4, 0.5, 0.0, lambda epoch, X, Y: None, shuffle=False, drop_remainder=True,
                 step=lambda mini_batch: net.update_mini_batch(mini_batch, 0.5))
    ids = [id(example) for example in data]
    assert batches == [ids[0:4], ids[4:8]] * 2


def test_early_stopping_counts_epochs_without_improvement_from_a_best_of_one():
    stopping = EarlyStopping(2)
    assert [stopping.stop_after(a) for a in (1, 5, 5, 6, 4, 5)] == [False, False, False, False, False, True]
    from_one = EarlyStopping(2)
    assert [from_one.stop_after(a) for a in (1, 1)] == [False, True]
    assert EarlyStopping(1).stop_after(0)        # the book's best accuracy starts at 1


def test_network2_stops_early_as_the_book_does(capsys):
    rng = np.random.default_rng(6)
    train, evaluation = make_data(SIZES, 20, rng), make_data(SIZES, 6, rng, labels=True)
    net = network2.Network(SIZES, seed=2)
    random.seed(1)
    lists = net.SGD(train, 30, 5, 1e-9, evaluation_data=evaluation, monitor_evaluation_accuracy=True,
                    early_stopping_n=3)
    accuracies = lists[1]
    stopping = EarlyStopping(3)
    expected = next(k + 1 for k, a in enumerate(accuracies) if stopping.stop_after(a))
    assert len(accuracies) == expected < 30
