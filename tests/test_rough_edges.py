"""A first user's rough edges in the engine (issue 27): cost names where cost classes
go, and a network whose input layer does not fit the data named as such."""
import json
import random

import numpy as np
import pytest

from cnet import network, network2
from cnet.functions import CrossEntropyCost, LogLikelihoodCost, QuadraticCost

from conftest import make_data


@pytest.mark.parametrize("name, cls", [("cross-entropy", CrossEntropyCost),
                                       ("CrossEntropyCost", CrossEntropyCost),
                                       ("quadratic", QuadraticCost),
                                       ("log-likelihood", LogLikelihoodCost)])
def test_a_cost_name_means_its_class_and_is_saved_by_the_class_name(tmp_path, name, cls):
    net = network2.Network([5, 4, 3], cost=name, seed=1)
    assert net.cost is cls
    same = network2.Network([5, 4, 3], cost=cls, seed=1)
    for a, b in zip(net.weights + net.biases, same.weights + same.biases):
        assert np.array_equal(a, b)
    path = tmp_path / "net.json"
    net.save(str(path))
    assert json.loads(path.read_text())["cost"] == cls.__name__
    assert network2.load(str(path)).cost is cls


@pytest.mark.parametrize("name", ["crossentropy-ish", "", "os.system"])
def test_an_unknown_cost_name_is_refused_when_the_network_is_built(name):
    with pytest.raises(ValueError, match=r"unknown cost {!r}.*cross-entropy".format(name)):
        network2.Network([5, 4, 3], cost=name)


def test_a_network_too_narrow_for_mnist_names_its_sizes():
    rng = np.random.default_rng(0)
    train = make_data([784, 10], 12, rng)
    test = make_data([784, 10], 5, rng, labels=True)
    net = network.Network([100, 30, 10], seed=0)
    message = (r"the network's sizes\[0\] is 100, but {0}'s inputs have 784 rows "
               r"\({0}\[0\]\[0\] has shape \(784, 1\)\): for these examples build the network "
               r"with sizes \[784, 30, 10\]")
    with pytest.raises(ValueError, match=message.format("test_data")):
        net.SGD(list(train), 1, 4, 3.0, test_data=test)
    with pytest.raises(ValueError, match=message.format("training_data")):
        net.SGD(list(train), 1, 4, 3.0)
    with pytest.raises(ValueError, match=message.format("test_data")):
        net.evaluate(test)
    net2 = network2.Network([100, 30, 10], seed=0)
    with pytest.raises(ValueError, match=message.format("data")):
        net2.accuracy(test)
    with pytest.raises(ValueError, match=message.format("evaluation_data")):
        net2.SGD(list(train), 1, 4, 0.5, evaluation_data=test, monitor_evaluation_accuracy=True)


def test_desired_outputs_of_another_width_name_the_output_layer():
    train = make_data([6, 4], 8, np.random.default_rng(1))
    net = network2.Network([6, 5, 3], seed=0)
    random.seed(1)
    with pytest.raises(ValueError, match=r"sizes\[-1\] is 3, but training_data's desired outputs "
                                         r"have 4 rows .*with sizes \[6, 5, 4\]"):
        net.SGD(list(train), 1, 4, 0.5)


def test_one_example_out_of_line_is_still_named_by_its_index():
    train = make_data([6, 4], 8, np.random.default_rng(2))
    train[0] = (np.zeros((5, 1)), train[0][1])
    net = network2.Network([6, 5, 4], seed=0)
    with pytest.raises(ValueError, match=r"training_data\[0\]\[0\].*shape \(5, 1\); expected \(6, 1\)"):
        net.SGD(list(train), 1, 4, 0.5)
