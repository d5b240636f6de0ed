"""The engine's small interface for cnet's own tools (the command line):
train_epochs trains as SGD does, silently; correct_counter counts as evaluate does."""
import random

import numpy as np
import pytest

from cnet import network

from conftest import make_data


def test_train_epochs_is_sgd_without_the_printing(backend, capsys):
    rng = np.random.default_rng(4)
    data = make_data([6, 5, 3], 23, rng)
    test = make_data([6, 5, 3], 9, rng, labels=True)
    nets, lists, seen = [], [], []
    for use_tool in (False, True):
        random.seed(7)
        np.random.seed(7)
        net = network.Network([6, 5, 3], backend=backend)
        mine = list(data)
        if use_tool:
            count = net.correct_counter(test)
            net.train_epochs(mine, 3, 4, 2.0, after_epoch=lambda j, count=count: seen.append((j, count())))
            assert capsys.readouterr().out == ""
        else:
            net.SGD(mine, 3, 4, 2.0, test_data=test)
            printed = capsys.readouterr().out.splitlines()
        nets.append(net)
        lists.append(mine)
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_array_equal(a, b)
    assert all(x is y for x, y in zip(*lists))            # the same shuffles, in place
    assert ["Epoch {}: {} / 9".format(j, c) for j, c in seen] == printed


def test_after_epoch_returning_false_stops_training():
    net = network.Network([4, 3], seed=1)
    seen = []
    net.train_epochs(make_data([4, 3], 8, np.random.default_rng(0)), 5, 2, 1.0,
                     after_epoch=lambda j: seen.append(j) or j < 1)
    assert seen == [0, 1]


def test_correct_counter_names_the_data_and_counts_the_current_network():
    net = network.Network([4, 3], seed=1)
    test = make_data([4, 3], 12, np.random.default_rng(2), labels=True)
    count = net.correct_counter(test, "test_data")
    assert count() == net.evaluate(test)
    net.weights = [np.zeros((3, 4))]
    net.biases = [np.array([[0.0], [0.0], [1.0]])]          # always says 2
    assert count() == sum(label == 2 for _, label in test)
    with pytest.raises(ValueError, match=r"test_data\[0\]"):
        net.correct_counter([(np.zeros((5, 1)), 0)], "test_data")
