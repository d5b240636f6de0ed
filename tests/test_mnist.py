"""On real MNIST (CNET_DATA_DIR): both forms load alike, and over 1,000 mini-batch
steps the compiled engine and the fallback agree to rounding."""
import random

import numpy as np
import pytest

from cnet import mnist_loader, network, network2

from conftest import max_rel_diff


@pytest.fixture(scope="module")
def mnist(mnist_dir):
    return mnist_loader.load_data_wrapper(mnist_dir)


def test_the_book_split(mnist_dir, tmp_path):
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = mnist_loader.load_data(mnist_dir)
    assert tr_x.shape == (50000, 784) and va_x.shape == (10000, 784) and te_x.shape == (10000, 784)
    assert tr_x.dtype == np.float32 and tr_y.dtype == np.int64
    assert 0 <= tr_x.min() and tr_x.max() < 1
    # the IDX form gives the very same arrays
    import os
    for name in os.listdir(mnist_dir):
        if "ubyte" in name:
            os.symlink(os.path.join(mnist_dir, name), tmp_path / name)
    (a, b), (c, d), (e, f) = mnist_loader.load_data(str(tmp_path))
    for got, want in ((a, tr_x), (b, tr_y), (c, va_x), (d, va_y), (e, te_x), (f, te_y)):
        np.testing.assert_array_equal(got, want)


def test_1000_steps_chapter_1(mnist, capsys):
    training_data, _, test_data = mnist
    results = []
    for backend in ("cython", "numpy"):
        np.random.seed(12)
        random.seed(34)
        net = network.Network([784, 30, 10], backend=backend)
        net.SGD(list(training_data[:10000]), 1, 10, 3.0, test_data=test_data)  # 1,000 steps
        results.append((net.weights + net.biases, capsys.readouterr().out))
    (ours, our_line), (ref, ref_line) = results
    assert our_line == ref_line and our_line.startswith("Epoch 0: ")
    assert int(our_line.split()[2]) > 6000  # it learned (chance is 1,000)
    assert max_rel_diff(ours, ref) < 1e-10
    # two threads: the same 1,000 steps to the bit, and the same line
    np.random.seed(12)
    random.seed(34)
    net = network.Network([784, 30, 10], backend="cython", num_threads=2)
    net.SGD(list(training_data[:10000]), 1, 10, 3.0, test_data=test_data)
    assert capsys.readouterr().out == our_line
    for got, want in zip(net.weights + net.biases, ours):
        np.testing.assert_array_equal(got, want)


def test_1000_steps_chapter_3_all_monitors(mnist, capsys):
    training_data, validation_data, _ = mnist
    results = []
    for backend in ("cython", "numpy"):
        np.random.seed(5)
        random.seed(6)
        net = network2.Network([784, 30, 10], backend=backend)
        lists = net.SGD(list(training_data[:5000]), 2, 10, 0.5, lmbda=5.0,
                        evaluation_data=validation_data[:2000],
                        monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                        monitor_training_cost=True, monitor_training_accuracy=True)
        results.append((net.weights + net.biases, lists))
    (ours, our_lists), (ref, ref_lists) = results
    assert our_lists[1] == ref_lists[1] and our_lists[3] == ref_lists[3]  # accuracies
    assert our_lists[0] == pytest.approx(ref_lists[0], rel=1e-9)          # costs
    assert our_lists[2] == pytest.approx(ref_lists[2], rel=1e-9)
    assert max_rel_diff(ours, ref) < 1e-10
