"""cnet.network3's bad inputs (issue 29, item 5): layers that do not chain, a
mini-batch size other than the network's, dropout outside [0, 1), activations
it cannot differentiate, data of the wrong shape, dtype or length, labels
outside the output layer -- each an error naming the layer's index or the
argument and the numbers, raised before anything moves."""
import numpy as np
import pytest

from cnet import network3
from cnet.network3 import ConvPoolLayer, FullyConnectedLayer, Network, SoftmaxLayer


@pytest.fixture(autouse=True)
def float64_layers(restore_floatx):
    network3.floatX = "float64"


def conv(image=(4, 1, 8, 8), filters=(2, 1, 3, 3), pool=(2, 2), **kwargs):
    return ConvPoolLayer(filter_shape=filters, image_shape=image, poolsize=pool, **kwargs)


# ------------------------------------------------------------ layers that do not chain

def test_image_shape_must_be_the_previous_output():
    # 8×8, 3×3 filters, 2×2 pools: (2, 3, 3) per example
    with pytest.raises(ValueError, match=r"layers\[1\]: image_shape \(4, 2, 4, 4\) does not take "
                                         r"layers\[0\]'s output, of shape \(2, 3, 3\) per example"):
        Network([conv(), conv(image=(4, 2, 4, 4), filters=(2, 2, 2, 2), pool=(1, 1)), SoftmaxLayer(8, 10)], 4)
    with pytest.raises(ValueError, match=r"layers\[1\]: image_shape \(4, 3, 3, 3\) .* \(2, 3, 3\)"):
        Network([conv(), conv(image=(4, 3, 3, 3), filters=(2, 3, 2, 2), pool=(1, 1)), SoftmaxLayer(8, 10)], 4)
    # a ConvPoolLayer after a fully connected one
    with pytest.raises(ValueError, match=r"layers\[1\]: image_shape \(4, 1, 3, 3\) .* layers\[0\]'s output, "
                                         r"of shape \(9,\)"):
        Network([FullyConnectedLayer(5, 9), conv(image=(4, 1, 3, 3), filters=(1, 1, 2, 2), pool=(1, 1)),
                 SoftmaxLayer(4, 2)], 4)
    # the right shape chains
    Network([conv(), conv(image=(4, 2, 3, 3), filters=(2, 2, 2, 2), pool=(1, 1)), SoftmaxLayer(8, 10)], 4)


def test_n_in_must_be_the_previous_size():
    with pytest.raises(ValueError, match=r"layers\[1\]: n_in is 17, but layers\[0\] puts out 18 values"):
        Network([conv(), FullyConnectedLayer(17, 5), SoftmaxLayer(5, 10)], 4)
    with pytest.raises(ValueError, match=r"layers\[2\]: n_in is 6, but layers\[1\] puts out 5 values"):
        Network([conv(), FullyConnectedLayer(18, 5), SoftmaxLayer(6, 10)], 4)
    with pytest.raises(ValueError, match=r"layers\[1\]: n_in is 4, but layers\[0\] puts out 3 values"):
        Network([FullyConnectedLayer(6, 3), SoftmaxLayer(4, 2)], 1)


def test_a_pool_larger_than_the_map():
    # a 6×6 image and 3×3 filters make 4×4 maps
    with pytest.raises(ValueError, match=r"poolsize \(5, 5\) is larger than the 4x4 map"):
        conv(image=(4, 1, 6, 6), pool=(5, 5))
    with pytest.raises(ValueError, match=r"poolsize \(1, 5\) is larger than the 4x4 map"):
        conv(image=(4, 1, 6, 6), pool=(1, 5))
    with pytest.raises(ValueError, match=r"filter_shape \(2, 1, 7, 3\): a 7x3 filter is larger than the 6x6 image"):
        conv(image=(4, 1, 6, 6), filters=(2, 1, 7, 3))
    with pytest.raises(ValueError, match=r"filter_shape \(2, 3, 3, 3\) takes 3 input maps, but image_shape "
                                         r"\(4, 1, 6, 6\) has 1"):
        conv(image=(4, 1, 6, 6), filters=(2, 3, 3, 3))
    with pytest.raises(ValueError, match=r"poolsize: expected 2 positive integers, got \(0, 2\)"):
        conv(pool=(0, 2))
    conv(image=(4, 1, 6, 6), pool=(4, 4))                   # a pool the size of the map is fine


def test_the_mini_batch_must_be_the_networks():
    with pytest.raises(ValueError, match=r"layers\[0\]: image_shape\[0\] is 4, but mini_batch_size is 5"):
        Network([conv(), SoftmaxLayer(18, 10)], 5)
    with pytest.raises(ValueError, match=r"layers\[1\]: image_shape\[0\] is 3, but mini_batch_size is 4"):
        Network([conv(), conv(image=(3, 2, 3, 3), filters=(2, 2, 2, 2), pool=(1, 1)), SoftmaxLayer(8, 10)], 4)
    net = Network([conv(), SoftmaxLayer(18, 10)], 4)
    x, y = np.zeros((8, 64)), np.zeros(8, dtype=int)
    with pytest.raises(ValueError, match=r"SGD's mini_batch_size is 3, but the network was built for "
                                         r"mini-batches of 4"):
        net.SGD((x, y), 1, 3, 0.1, (x, y), None)
    with pytest.raises(ValueError, match=r"mini_batch_size must be a positive integer, got 0"):
        Network([SoftmaxLayer(3, 2)], 0)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan"), "0.5", True])
def test_p_dropout_outside_zero_one(p):
    shown = "nan" if p != p else repr(p)
    for make in (lambda: FullyConnectedLayer(4, 3, p_dropout=p), lambda: SoftmaxLayer(4, 3, p_dropout=p)):
        with pytest.raises(ValueError, match=r"p_dropout: expected a probability in \[0, 1\), got " + shown):
            make()


def test_activations_must_be_network3s():
    with pytest.raises(TypeError, match=r"activation_fn: .* got 3, which is not callable"):
        FullyConnectedLayer(4, 3, activation_fn=3)
    with pytest.raises(TypeError, match=r"activation_fn: .* got None, which is not callable"):
        conv(activation_fn=None)
    with pytest.raises(TypeError, match=r"activation_fn: 'exp' is not one of network3's activations"):
        FullyConnectedLayer(4, 3, activation_fn=np.exp)
    with pytest.raises(TypeError, match=r"activation_fn: 'softplus' is not one of network3's activations"):
        def softplus(z):
            return np.log1p(np.exp(z))
        conv(activation_fn=softplus)
    for fn in (network3.sigmoid, network3.tanh, network3.ReLU, network3.linear):
        assert FullyConnectedLayer(4, 3, activation_fn=fn).activation_fn is fn


def test_the_layers_themselves():
    with pytest.raises(ValueError, match=r"layers\[1\] is a FullyConnectedLayer; the last layer must be a "
                                         r"SoftmaxLayer"):
        Network([FullyConnectedLayer(4, 3), FullyConnectedLayer(3, 2)], 1)
    with pytest.raises(ValueError, match=r"layers\[1\] follows a SoftmaxLayer"):
        Network([SoftmaxLayer(4, 3), SoftmaxLayer(3, 2)], 1)
    with pytest.raises(TypeError, match=r"layers\[1\] is 'full'; expected a ConvPoolLayer"):
        Network([FullyConnectedLayer(4, 3), "full", SoftmaxLayer(3, 2)], 1)
    with pytest.raises(ValueError, match=r"layers: expected at least one layer"):
        Network([], 1)
    with pytest.raises(ValueError, match=r"\(n_in, n_out\): expected 2 positive integers, got \(0, 3\)"):
        FullyConnectedLayer(0, 3)
    with pytest.raises(ValueError, match=r"image_shape: expected 4 positive integers, got \(4, 1, 8\)"):
        conv(image=(4, 1, 8))


# ------------------------------------------------------------ data

def small_net():
    np.random.seed(0)
    return Network([conv(), FullyConnectedLayer(18, 5, p_dropout=0.2), SoftmaxLayer(5, 3)], 4)


def good(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 64)), rng.integers(0, 3, n)


BAD_DATA = [
    # (which argument, the bad pair, error, message)
    ("training_data", lambda: (good()[0][:, :35], good()[1]), ValueError,
     r"training_data: x has shape \(8, 35\); the network's first layer takes \(n, 64\)"),
    ("training_data", lambda: (good()[0].ravel(), good()[1]), ValueError,
     r"training_data: x has shape \(512,\); the network's first layer takes \(n, 64\)"),
    ("training_data", lambda: (good()[0].astype(str), good()[1]), TypeError,
     r"training_data: x has dtype <U\d+; expected numbers"),
    ("training_data", lambda: (good()[0] > 0.5, good()[1]), TypeError,
     r"training_data: x has dtype bool; expected numbers"),
    ("training_data", lambda: (good()[0], good()[1][:7]), ValueError,
     r"training_data: y has shape \(7,\); expected \(8,\), a label per row of x"),
    ("training_data", lambda: (good()[0], good()[1][:, None]), ValueError,
     r"training_data: y has shape \(8, 1\); expected \(8,\)"),
    ("training_data", lambda: (good()[0], good()[1] + 0.5), TypeError,
     r"training_data: y has dtype float64; expected integer labels"),
    ("training_data", lambda: (good()[0], np.array([0, 1, 2, 3, 0, 1, 2, 0])), ValueError,
     r"training_data: y\[3\] is 3; the output layer has 3 neurons \(labels 0..2\)"),
    ("training_data", lambda: (good()[0], np.array([0, 1, -1, 0, 0, 1, 2, 0])), ValueError,
     r"training_data: y\[2\] is -1; the output layer has 3 neurons"),
    ("training_data", lambda: (np.where(np.eye(8, 64) > 0, np.nan, good()[0]), good()[1]), ValueError,
     r"training_data: x holds a value that is not finite"),
    ("training_data", lambda: good()[0], TypeError, r"training_data: expected a pair \(x, y\)"),
    ("training_data", lambda: good(3), ValueError,
     r"training_data has 3 examples: fewer than one mini-batch of 4"),
    ("validation_data", lambda: (good()[0][:, :63], good()[1]), ValueError,
     r"validation_data: x has shape \(8, 63\)"),
    ("validation_data", lambda: (good()[0], np.full(8, 7)), ValueError,
     r"validation_data: y\[0\] is 7; the output layer has 3 neurons"),
    ("test_data", lambda: (good()[0], good()[1][:5]), ValueError,
     r"test_data: y has shape \(5,\); expected \(8,\)"),
    ("test_data", lambda: (good()[0].astype(complex), good()[1]), TypeError,
     r"test_data: x has dtype complex128; expected numbers"),
]


@pytest.mark.parametrize("argument, bad, error, message", BAD_DATA,
                         ids=["{}-{}".format(case[0], i) for i, case in enumerate(BAD_DATA)])
def test_bad_data_is_refused_before_anything_moves(argument, bad, error, message, capsys):
    net = small_net()
    before = [(layer.w.get_value(), layer.b.get_value()) for layer in net.layers]
    data = {"training_data": good(), "validation_data": good(4, 1), "test_data": good(4, 2)}
    data[argument] = bad()
    with pytest.raises(error, match=message):
        net.SGD(data["training_data"], 2, 4, 0.5, data["validation_data"], data["test_data"], lmbda=0.1)
    assert capsys.readouterr().out == ""
    assert net.steps == 0
    for layer, (w, b) in zip(net.layers, before):
        np.testing.assert_array_equal(layer.w.get_value(borrow=True), w)
        np.testing.assert_array_equal(layer.b.get_value(borrow=True), b)
    # and the same data, made good, trains
    net.SGD(good(), 1, 4, 0.5, good(4, 1), good(4, 2), lmbda=0.1)
    assert net.steps == 2
    assert not np.array_equal(net.layers[0].w.get_value(), before[0][0])


@pytest.mark.parametrize("argument, value, error, message", [
    ("epochs", -1, ValueError, r"epochs must be a non-negative integer, got -1"),
    ("epochs", 1.5, ValueError, r"epochs must be a non-negative integer, got 1.5"),
    ("eta", -0.1, ValueError, r"eta must be a finite number >= 0, got -0.1"),
    ("eta", float("nan"), ValueError, r"eta must be a finite number >= 0, got nan"),
    ("eta", "fast", TypeError, r"eta must be a number, got 'fast'"),
    ("lmbda", float("inf"), ValueError, r"lmbda must be a finite number >= 0, got inf"),
])
def test_bad_sgd_numbers(argument, value, error, message, capsys):
    net = small_net()
    before = net.layers[0].w.get_value()
    kwargs = dict(training_data=good(), epochs=1, mini_batch_size=4, eta=0.5, validation_data=good(4, 1),
                  test_data=None, lmbda=0.0)
    kwargs[argument] = value
    with pytest.raises(error, match=message):
        net.SGD(**kwargs)
    assert capsys.readouterr().out == ""
    np.testing.assert_array_equal(net.layers[0].w.get_value(), before)


def test_predict_and_set_value_check_shapes():
    net = small_net()
    with pytest.raises(ValueError, match=r"X has shape \(3, 63\); expected \(n, 64\)"):
        net.predict(np.zeros((3, 63)))
    with pytest.raises(ValueError, match=r"set_value: shape \(18,\) differs from \(18, 5\)"):
        net.layers[1].w.set_value(np.zeros(18))
