"""Bad input: a clear TypeError/ValueError naming what was wrong, and nothing changed."""
import math

import numpy as np
import pytest

from cnet import network, network2

from conftest import make_data

SIZES = [4, 3, 2]


def snapshot(net):
    return [a.copy() for a in net.weights + net.biases]


def assert_unchanged(net, before):
    for a, b in zip(net.weights + net.biases, before):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def net(backend):
    return network.Network(SIZES, seed=0, backend=backend)


@pytest.fixture
def data():
    return make_data(SIZES, 12, np.random.default_rng(0))


def bad_example(data, k, x=None, y=None):
    bad = list(data)
    bad[k] = (data[k][0] if x is None else x, data[k][1] if y is None else y)
    return bad


BAD_TRAINING = [
    ("x shape", lambda d: bad_example(d, 5, x=np.zeros((5, 1))), ValueError,
     r"training_data\[5\]\[0\].*shape \(5, 1\); expected \(4, 1\)"),
    ("x flat", lambda d: bad_example(d, 2, x=np.zeros(4)), ValueError, r"training_data\[2\]\[0\].*\(4, 1\)"),
    ("y shape", lambda d: bad_example(d, 7, y=np.zeros((3, 1))), ValueError,
     r"training_data\[7\]\[1\].*expected \(2, 1\)"),
    ("ragged x", lambda d: bad_example(d, 3, x=[[1.0], [2.0, 3.0], [1.0], [1.0]]), ValueError,
     r"training_data\[3\]\[0\].*ragged"),
    ("string x", lambda d: bad_example(d, 4, x=np.array([["a"]] * 4)), TypeError,
     r"training_data\[4\]\[0\].*dtype <U1"),
    ("object x", lambda d: bad_example(d, 4, x=np.array([[None]] * 4)), TypeError,
     r"training_data\[4\]\[0\].*dtype object"),
    ("nan x", lambda d: bad_example(d, 9, x=np.full((4, 1), np.nan)), ValueError,
     r"training_data\[9\]\[0\].*NaN or infinity"),
    ("inf y", lambda d: bad_example(d, 1, y=np.array([[np.inf], [0.0]])), ValueError,
     r"training_data\[1\]\[1\].*NaN or infinity"),
    ("not a pair", lambda d: d[:3] + [d[3][0]] + d[4:], TypeError, r"training_data\[3\].*\(x, y\) pair"),
    ("triple", lambda d: d[:3] + [(d[3][0], d[3][1], 1)] + d[4:], TypeError, r"training_data\[3\]"),
    ("not a list", lambda d: 42, TypeError, r"training_data must be a list"),
    ("int label", lambda d: bad_example(d, 0, y=1), ValueError, r"training_data\[0\]\[1\]"),
]


@pytest.mark.parametrize("case", BAD_TRAINING, ids=[c[0] for c in BAD_TRAINING])
def test_bad_training_data(net, data, case):
    _, make_bad, exc, message = case
    bad = make_bad(data)
    order = list(bad) if isinstance(bad, list) else None
    before = snapshot(net)
    with pytest.raises(exc, match=message):
        net.SGD(bad, 2, 3, 3.0)
    assert_unchanged(net, before)
    if order is not None:
        assert all(a is b for a, b in zip(bad, order))  # not shuffled either
    with pytest.raises(exc, match=message.replace("training_data", "mini_batch")):
        net.update_mini_batch(bad, 3.0)
    assert_unchanged(net, before)


BAD_TEST = [
    ("label too big", lambda d: d[:4] + [(d[4][0], 2)] + d[5:], ValueError,
     r"test_data\[4\]\[1\] is label 2; expected an integer in 0..1"),
    ("negative label", lambda d: d[:4] + [(d[4][0], -1)] + d[5:], ValueError, r"test_data\[4\]\[1\]"),
    ("huge label", lambda d: d[:4] + [(d[4][0], 10 ** 30)] + d[5:], ValueError, r"test_data\[4\]\[1\]"),
    ("float label", lambda d: d[:4] + [(d[4][0], 1.0)] + d[5:], TypeError, r"test_data\[4\]\[1\].*integer label"),
    ("one-hot label", lambda d: d[:4] + [(d[4][0], np.zeros((2, 1)))] + d[5:], TypeError,
     r"test_data\[4\]\[1\].*an array of shape \(2, 1\)"),
    ("x shape", lambda d: d[:2] + [(np.zeros((3, 1)), 0)] + d[3:], ValueError, r"test_data\[2\]\[0\]"),
]


@pytest.mark.parametrize("case", BAD_TEST, ids=[c[0] for c in BAD_TEST])
def test_bad_test_data(net, data, case):
    _, make_bad, exc, message = case
    test = make_bad(make_data(SIZES, 8, np.random.default_rng(1), labels=True))
    before = snapshot(net)
    order = list(data)
    with pytest.raises(exc, match=message):
        net.SGD(data, 1, 3, 3.0, test_data=test)
    assert_unchanged(net, before)
    assert all(a is b for a, b in zip(data, order))
    with pytest.raises(exc, match=message):
        net.evaluate(test)


BAD_NUMBERS = [
    (dict(eta=0.0), ValueError, "eta"), (dict(eta=-1.0), ValueError, "eta"),
    (dict(eta=math.nan), ValueError, "eta"), (dict(eta=math.inf), ValueError, "eta"),
    (dict(eta="3.0"), TypeError, "eta"), (dict(eta=None), TypeError, "eta"),
    (dict(mini_batch_size=0), ValueError, "mini_batch_size"),
    (dict(mini_batch_size=2.5), TypeError, "mini_batch_size"),
    (dict(mini_batch_size=-3), ValueError, "mini_batch_size"),
    (dict(epochs=-1), ValueError, "epochs"), (dict(epochs=1.5), TypeError, "epochs"),
]


@pytest.mark.parametrize("case", BAD_NUMBERS, ids=[str(c[0]) for c in BAD_NUMBERS])
def test_bad_hyperparameters(net, data, case):
    kwargs, exc, name = case
    args = dict(epochs=1, mini_batch_size=3, eta=3.0)
    args.update(kwargs)
    before = snapshot(net)
    order = list(data)
    with pytest.raises(exc, match=name):
        net.SGD(data, **args)
    assert_unchanged(net, before)
    assert all(a is b for a, b in zip(data, order))


@pytest.mark.parametrize("sizes, exc", [
    ([5], ValueError), ([], ValueError), ([3, 0, 2], ValueError), ([3, -1], ValueError),
    ([3, 2.5], TypeError), ([3, True], TypeError), (None, TypeError), ("ab", TypeError),
])
def test_bad_sizes(sizes, exc):
    with pytest.raises(exc, match="sizes"):
        network.Network(sizes)
    with pytest.raises(exc, match="sizes"):
        network2.Network(sizes)


def test_bad_backend():
    with pytest.raises(ValueError, match="backend"):
        network.Network([3, 2], backend="fortran")


@pytest.mark.parametrize("value, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                        ("2", TypeError), (True, TypeError), (10**30, ValueError)])
def test_bad_num_threads(value, exc):
    with pytest.raises(exc, match="num_threads"):
        network.Network([3, 2], num_threads=value)
    with pytest.raises(exc, match="num_threads"):
        network2.Network([3, 2], num_threads=value)


@pytest.mark.parametrize("text", ["two", "0", "1.5", "-1", "99999999999999999999999"])
def test_bad_num_threads_variable(text, monkeypatch):
    monkeypatch.setenv("CNET_NUM_THREADS", text)
    with pytest.raises(ValueError, match="CNET_NUM_THREADS"):
        network.Network([3, 2])


def test_num_threads_assigned_later_is_checked(net, data):
    net.num_threads = 0
    before = [w.copy() for w in net.weights]
    order = list(data)
    with pytest.raises(ValueError, match="net.num_threads"):
        net.SGD(data, 1, 3, 3.0)
    assert data == order            # not shuffled either
    for a, b in zip(net.weights, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mutate, message", [
    (lambda n: n.weights.__setitem__(0, np.zeros((3, 5))), r"net.weights\[0\] has shape \(3, 5\); expected \(3, 4\)"),
    (lambda n: n.biases.__setitem__(1, np.zeros(2)), r"net.biases\[1\] has shape \(2,\); expected \(2, 1\)"),
    (lambda n: n.weights[1].__setitem__((1, 2), np.nan), r"net.weights\[1\] contains nan at index \(1, 2\)"),
    (lambda n: setattr(n, "weights", n.weights[:1]), r"net.weights must be a list of 2 arrays"),
    (lambda n: n.weights.__setitem__(0, np.full((3, 4), "x")), r"net.weights\[0\] has dtype"),
])
def test_bad_assigned_parameters(net, data, mutate, message):
    mutate(net)
    before = [np.array(a, dtype=object) for a in net.weights + net.biases]
    with pytest.raises((ValueError, TypeError), match=message):
        net.SGD(data, 1, 3, 3.0)
    with pytest.raises((ValueError, TypeError), match=message):
        net.feedforward(np.zeros((4, 1)))
    for a, b in zip(net.weights + net.biases, before):
        assert np.array(a, dtype=object).tolist() == b.tolist() or np.isnan(np.array(a, dtype=float)).any()


@pytest.mark.parametrize("a, exc", [
    (np.zeros((5, 1)), ValueError), (np.zeros(4), ValueError), (np.full((4, 1), np.inf), ValueError),
    (np.full((4, 1), "a"), TypeError), ([[1], [2], [3], [4]], None),
])
def test_bad_feedforward_input(net, a, exc):
    if exc is None:
        assert net.feedforward(a).shape == (2, 1)
    else:
        with pytest.raises(exc, match="feedforward"):
            net.feedforward(a)


def test_empty_mini_batch(net):
    with pytest.raises(ValueError, match="mini_batch is empty"):
        net.update_mini_batch([], 1.0)


def test_garbage_never_crashes(backend):
    # Whatever comes in, the answer is an exception or a result, never a crash.
    net = network.Network(SIZES, seed=0, backend=backend)
    garbage = [None, 1, "x", [None], [(None, None)], [(np.zeros((4, 1)),)], [((), ())],
               [(np.zeros((4, 1)), np.zeros((2, 1), dtype=complex))],
               [(np.zeros((4, 1), dtype=complex), np.zeros((2, 1)))],
               [(np.zeros((0, 1)), np.zeros((2, 1)))], [(np.zeros((4, 1, 1)), np.zeros((2, 1)))],
               [(np.lib.stride_tricks.as_strided(np.zeros(1), (4, 1), (0, 0)), np.zeros((2, 1)))]]
    for g in garbage:
        try:
            net.SGD(g, 1, 1, 1.0)
        except (TypeError, ValueError):
            pass


def test_nan_in_a_later_block_is_named_by_its_index(net, data, monkeypatch):
    from cnet import _checks
    monkeypatch.setattr(_checks.InputRows, "BLOCK", 4)
    bad = bad_example(data, 10, x=np.full((4, 1), np.inf))
    before = snapshot(net)
    with pytest.raises(ValueError, match=r"training_data\[10\]\[0\] contains NaN or infinity"):
        net.SGD(bad, 1, 3, 3.0)
    assert_unchanged(net, before)


def test_labels_may_be_numpy_integers_or_0d_arrays(net):
    rng = np.random.default_rng(3)
    plain = make_data(SIZES, 9, rng, labels=True)
    variants = [[(x, t(y)) for x, y in plain] for t in (np.int64, np.uint8, np.int32, np.array)]
    scores = [net.evaluate(v) for v in [plain] + variants]
    assert len(set(scores)) == 1
    with pytest.raises(TypeError, match="integer label"):
        net.evaluate([(x, np.array(float(y))) for x, y in plain])
