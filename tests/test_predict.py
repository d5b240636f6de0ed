"""net.predict and net.predict_proba: one input, columns, rows; the kernels' argmax."""
import numpy as np
import pytest

from cnet import network, network2
from cnet.functions import QuadraticCost

SIZES = [12, 7, 5]


def make_net(backend, module=network2, dtype=np.float64, **kw):
    net = module.Network(SIZES, seed=4, backend=backend, dtype=dtype, **kw)
    # wide weights, so that the outputs differ clearly from example to example
    net.weights = [w * 8 for w in net.weights]
    return net


def inputs(m, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal((SIZES[0], m)).astype(dtype)


@pytest.mark.parametrize("module", [network, network2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_predict_is_the_argmax_of_feedforward(backend, module, dtype):
    net = make_net(backend, module, dtype)
    X = inputs(40, dtype=dtype)
    expected = np.argmax(net.feedforward(X), axis=0)
    assert len(set(expected.tolist())) > 2        # the test can tell labels apart
    labels = net.predict(X)
    assert labels.shape == (40,) and labels.dtype.kind == "i"
    np.testing.assert_array_equal(labels, expected)
    np.testing.assert_array_equal(net.predict(X.T), expected)             # rows
    np.testing.assert_array_equal(net.predict(X.T.tolist()), expected)    # nested lists
    np.testing.assert_array_equal(net.predict(X[:, :1]), expected[:1])    # one column
    one = net.predict(X[:, 3])                                            # one 1-D input
    assert type(one) is int and one == expected[3]


def test_predict_on_two_threads_and_both_backends_agree():
    X = inputs(300, seed=1)
    expected = make_net("numpy").predict(X)
    np.testing.assert_array_equal(make_net("cython").predict(X), expected)
    np.testing.assert_array_equal(make_net("cython", num_threads=2).predict(X), expected)


def test_predict_proba_layout_and_values(backend):
    net = make_net(backend)
    X = inputs(30)
    a = net.feedforward(X)                  # (n_out, m), sigmoid outputs
    columns = net.predict_proba(X)
    assert columns.shape == (5, 30)
    np.testing.assert_allclose(columns, a / a.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(columns.sum(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(np.argmax(columns, axis=0), net.predict(X))
    rows = net.predict_proba(X.T)
    assert rows.shape == (30, 5) and rows.flags.c_contiguous
    np.testing.assert_allclose(rows, columns.T, rtol=1e-12)
    one = net.predict_proba(X[:, 7])
    assert one.shape == (5,)
    np.testing.assert_allclose(one, columns[:, 7], rtol=1e-12)


def test_predict_of_no_examples(backend):
    net = make_net(backend)
    assert net.predict(np.zeros((SIZES[0], 0))).shape == (0,)
    assert net.predict_proba(np.zeros((0, SIZES[0]))).shape == (0, 5)


class SoftmaxLike(QuadraticCost):
    """A cost that declares a softmax output layer: predict_proba passes outputs through."""
    softmax = True


def test_a_softmax_cost_gives_its_outputs_unchanged():
    net = network2.Network(SIZES, cost=SoftmaxLike, seed=4, backend="numpy")
    X = inputs(10)
    a = net.feedforward(X)
    assert not np.allclose(a.sum(axis=0), 1.0)   # sigmoid outputs: the test sees the difference
    np.testing.assert_array_equal(net.predict_proba(X), a)
    net.cost = SoftmaxLike()                    # an instance, as the book's scripts pass
    np.testing.assert_array_equal(net.predict_proba(X), a)
    net.cost = QuadraticCost
    np.testing.assert_allclose(net.predict_proba(X), a / a.sum(axis=0))


@pytest.mark.filterwarnings("ignore:overflow encountered in exp:RuntimeWarning")
def test_outputs_that_all_underflow_give_equal_scores(backend):
    net = make_net(backend)
    net.biases[-1] = np.full((5, 1), -2000.0)    # σ(z) = 0 exactly at every output
    X = inputs(3)
    assert not net.feedforward(X).any()
    np.testing.assert_array_equal(net.predict_proba(X), np.full((5, 3), 0.2))
    np.testing.assert_array_equal(net.predict(X), [0, 0, 0])


@pytest.mark.parametrize("X, error, message", [
    (np.zeros((12, 12)), ValueError, "X has shape (12, 12); with both dimensions equal to the input "
                                     "width 12 it is ambiguous whether its examples are rows or columns"),
    (np.zeros((11, 3)), ValueError, "X has shape (11, 3); expected (12,) for one input, (12, m) with "
                                    "one example per column, or (m, 12) with one per row"),
    (np.zeros(11), ValueError, "X has shape (11,)"),
    (np.zeros((4, 12, 1)), ValueError, "X has shape (4, 12, 1)"),
    ([[0.0] * 12, [0.0] * 11], ValueError, "X is ragged or not an array"),
    (np.full((12, 2), "a"), TypeError, "has dtype <U1"),
    (np.where(np.arange(24).reshape(12, 2) == 5, np.nan, 0.0), ValueError,
     "X contains nan at index (2, 1); values must be finite"),
])
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_bad_input_is_a_clear_error(backend, method, X, error, message):
    net = make_net(backend)
    before = [w.copy() for w in net.weights]
    with pytest.raises(error) as info:
        getattr(net, method)(X)
    assert str(info.value).startswith(method + ": ") and message in str(info.value)
    for w, w0 in zip(net.weights, before):
        np.testing.assert_array_equal(w, w0)


def test_a_loaded_network_predicts_as_the_saved_one(tmp_path, backend):
    for module in (network, network2):      # both save through the engine, in network2's format
        net = make_net(backend, module)
        net.save(str(tmp_path / "net.json"))
        X = inputs(25)
        loaded = network2.load(str(tmp_path / "net.json"))
        np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
        np.testing.assert_allclose(loaded.predict_proba(X), net.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_predict_runs_the_networks_own_layers(backend, activation):
    # the hidden activation and the cost's softmax output layer, as feedforward has them
    net = network2.Network(SIZES, cost=network2.LogLikelihoodCost, activation=activation, seed=5,
                           backend=backend)
    X = inputs(20)
    a = net.feedforward(X)
    np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(net.predict_proba(X), a, rtol=1e-12)
    np.testing.assert_array_equal(net.predict(X), np.argmax(a, axis=0))
