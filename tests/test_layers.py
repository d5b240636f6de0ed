"""The layer descriptors (cnet.layers) and the engine's one description of its layers
to the kernels (Engine._kernel_layers)."""
import random
import warnings

import numpy as np
import pytest

from cnet import layers, network, network2
from cnet._kernels import spec as kernel_spec
from cnet._kernels.spec import LayerSpec, dense_chain
from cnet.functions import LogLikelihoodCost

from conftest import make_data


def test_a_dense_layer_owns_its_shapes_and_spec():
    layer = layers.Dense(784, 30, "tanh")
    assert layer.kind == "dense"
    assert layer.weight_shape == (30, 784) and layer.bias_shape == (30, 1)
    assert layer.parameter_count == 30 * 784 + 30
    assert layer.spec() == kernel_spec.LayerSpec("dense", 784, 30, "tanh", 0.0)


@pytest.mark.parametrize("sizes", [[3, 2], [784, 30, 10], [20, 9, 7, 5]])
def test_the_dense_chain_is_the_kernels_spec_of_the_books_network(sizes):
    chain = layers.dense_chain(sizes, "relu", "softmax")
    assert layers.spec(chain) == kernel_spec.dense_chain(sizes, "relu", "softmax")
    assert [layer.weight_shape for layer in chain] == [(y, x) for x, y in zip(sizes[:-1], sizes[1:])]
    assert layers.parameter_count(chain) == sum(x * y + y for x, y in zip(sizes[:-1], sizes[1:]))


@pytest.mark.parametrize("initializer", ["default", "large"])
def test_initial_draws_are_the_books_all_biases_then_all_weights(initializer):
    sizes = [6, 4, 3]

    def randn(*shape, divisor=None):
        draws = np.random.randn(*shape)
        return draws if divisor is None else draws / divisor

    np.random.seed(11)
    biases, weights = layers.initial_parameters(layers.dense_chain(sizes), randn, initializer)
    np.random.seed(11)        # the book's network2 initializers
    want_b = [np.random.randn(y, 1) for y in sizes[1:]]
    if initializer == "default":
        want_w = [np.random.randn(y, x) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
    else:
        want_w = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]
    for got, want in zip(biases + weights, want_b + want_w):
        assert np.array_equal(got, want)
    with pytest.raises(ValueError, match="initializer"):
        layers.initial_parameters(layers.dense_chain(sizes), randn, "small")


def test_the_networks_layers_follow_its_activation_and_cost():
    net = network2.Network([5, 4, 3], seed=1)
    assert [layer.activation for layer in net._layer_list()] == ["sigmoid", "sigmoid"]
    net.activation, net.cost = "relu", LogLikelihoodCost
    assert [layer.activation for layer in net._layer_list()] == ["relu", "softmax"]
    assert net._kernel_layers() == {"spec": (LayerSpec("dense", 5, 4, "relu"), LayerSpec("dense", 4, 3, "softmax"))}
    assert [layer.weight_shape for layer in net._layer_list()] == [w.shape for w in net.weights]
    assert network.Network([5, 4, 3])._kernel_layers() == {"spec": dense_chain([5, 4, 3])}


class TanhThroughTheLayerDescription(network2.Network):
    """A sigmoid network whose one description of its layers to the kernels says tanh:
    it computes as a tanh network only if every kernel call takes that description."""

    def _kernel_layers(self):
        return {"spec": dense_chain(self.sizes, "tanh", "sigmoid")}


@pytest.mark.parametrize("backend", ["numpy", "cython"])
def test_every_kernel_call_takes_the_engines_one_layer_description(backend):
    if backend == "cython":
        pytest.importorskip("cnet._kernels._cy_base")
    sizes = [6, 5, 4]
    rng = np.random.default_rng(3)
    train = make_data(sizes, 23, rng)
    evaluation = make_data(sizes, 7, rng, labels=True)
    results = []
    for cls, activation in ((TanhThroughTheLayerDescription, "sigmoid"), (network2.Network, "tanh")):
        net = cls(sizes, seed=2, backend=backend, activation=activation)
        x, y = train[0]
        nabla_b, nabla_w = net.backprop(x, y)
        seen = [net.feedforward(x), net.predict(x[:, 0]), net.predict_proba(x[:, 0]), *nabla_b,
                *nabla_w, [net.total_cost(train, 0.1)], [net.accuracy(evaluation)]]
        random.seed(5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            monitors = net.SGD(list(train), 2, 5, 0.5, lmbda=0.1, evaluation_data=evaluation,
                               monitor_evaluation_cost=True, monitor_training_cost=True,
                               monitor_evaluation_accuracy=True, mu=0.5)
        net.update_mini_batch(train[:3], 0.5, 0.1, 23)
        results.append([np.asarray(a, dtype=np.float64) for a in seen]
                       + [np.asarray(m, dtype=np.float64) for m in monitors] + net.weights + net.biases)
    for got, want in zip(*results):
        assert np.array_equal(got, want)
