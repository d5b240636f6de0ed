"""cnet.network against the book's network.py: same draws, same shuffles, same results."""
import random

import numpy as np
import pytest

import cnet
from cnet import network

import book
from conftest import make_data, max_rel_diff


def test_top_level_names():
    assert cnet.Network is network.Network
    assert network.sigmoid(0.0) == 0.5
    assert network.sigmoid_prime(0.0) == 0.25


@pytest.mark.parametrize("sizes", [[784, 30, 10], [5, 4, 3, 2], [2, 1]], ids=str)
def test_initialisation_is_the_books_bit_for_bit(backend, sizes):
    np.random.seed(42)
    ours = network.Network(sizes, backend=backend)
    np.random.seed(42)
    theirs = book.Network(sizes)
    assert ours.num_layers == len(sizes) and ours.sizes == sizes
    for a, b in zip(ours.weights + ours.biases, theirs.weights + theirs.biases):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_seed_draws_from_default_rng_in_the_books_order():
    rng = np.random.default_rng(5)
    net = network.Network([4, 3, 2], seed=5)
    want_b = [rng.standard_normal((y, 1)) for y in [3, 2]]
    want_w = [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
    for a, b in zip(net.biases + net.weights, want_b + want_w):
        np.testing.assert_array_equal(a, b)
    # ... and the global state is untouched
    np.random.seed(1)
    before = np.random.random()
    np.random.seed(1)
    network.Network([4, 3, 2], seed=5)
    assert np.random.random() == before


def test_shuffle_is_random_shuffle_in_place(backend):
    rng = np.random.default_rng(0)
    data = make_data([4, 3, 2], 23, rng)
    ids = [id(x) for x, _ in data]
    expected = list(data)
    random.seed(9)
    random.shuffle(expected)
    random.shuffle(expected)
    random.seed(9)
    net = network.Network([4, 3, 2], backend=backend)
    same_list = data
    net.SGD(data, 2, 5, 1.0)
    assert data is same_list
    assert [id(x) for x, _ in data] == [id(x) for x, _ in expected]
    assert sorted(ids) == sorted(id(x) for x, _ in data)


@pytest.mark.parametrize("n", [17, 1001])
def test_seeded_shuffle_is_the_generators(backend, n):
    # each epoch shuffles the list as the seed's Generator shuffles a list
    rng = np.random.default_rng(0)
    data = make_data([4, 3, 2], n, rng)
    expected = list(data)
    gen = np.random.default_rng(3)
    [gen.standard_normal(s) for s in [(3, 1), (2, 1), (3, 4), (2, 3)]]
    gen.shuffle(expected)
    gen.shuffle(expected)
    net = network.Network([4, 3, 2], seed=3, backend=backend)
    net.SGD(data, 2, 4, 1.0)
    assert [id(x) for x, _ in data] == [id(x) for x, _ in expected]


@pytest.mark.parametrize("sizes", [[5, 4, 3, 2], [30, 20, 10]], ids=str)
def test_sgd_follows_the_book(backend, sizes, capsys):
    rng = np.random.default_rng(1)
    train = make_data(sizes, 60, rng)
    test = make_data(sizes, 20, rng, labels=True)
    np.random.seed(3)
    random.seed(4)
    ours = network.Network(sizes, backend=backend)
    assert ours.SGD(list(train), 3, 7, 3.0, test_data=test) is None
    our_out = capsys.readouterr().out
    np.random.seed(3)
    random.seed(4)
    theirs = book.Network(sizes)
    theirs.SGD(list(train), 3, 7, 3.0, test_data=test)
    their_out = capsys.readouterr().out
    assert our_out == their_out
    assert our_out.splitlines()[0].startswith("Epoch 0: ")
    # 3 epochs of 9 mini-batches: agreement to rounding
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) < 1e-11


def test_epoch_line_without_test_data(backend, capsys):
    net = network.Network([3, 2], backend=backend)
    net.SGD(make_data([3, 2], 5, np.random.default_rng(0)), 2, 2, 1.0)
    assert capsys.readouterr().out == "Epoch 0 complete\nEpoch 1 complete\n"


def test_update_mini_batch_backprop_evaluate_are_the_books(backend):
    sizes = [6, 5, 3]
    rng = np.random.default_rng(2)
    batch = make_data(sizes, 4, rng, dtype=np.float32)
    np.random.seed(0)
    ours = network.Network(sizes, backend=backend)
    np.random.seed(0)
    theirs = book.Network(sizes)
    x, y = batch[0]
    nb, nw = ours.backprop(x, y)
    tb, tw = theirs.backprop(x.astype(np.float64), y)
    assert max_rel_diff(nb + nw, tb + tw) < 1e-12
    ours.update_mini_batch(batch, 2.0)
    theirs.update_mini_batch([(x.astype(np.float64), y) for x, y in batch], 2.0)
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) < 1e-13
    test = make_data(sizes, 30, rng, labels=True)
    score = ours.evaluate(test)
    assert type(score) is int and score == theirs.evaluate(test)
    out = np.array([[0.5], [0.25]])
    np.testing.assert_array_equal(ours.cost_derivative(out, np.array([[1.0], [0.0]])),
                                  np.array([[-0.5], [0.25]]))


def test_feedforward_takes_columns(backend):
    rng = np.random.default_rng(4)
    net = network.Network([5, 4, 3], backend=backend)
    A = rng.random((5, 7))
    out = net.feedforward(A)
    assert out.shape == (3, 7)
    for k in range(7):
        col = net.feedforward(A[:, k:k + 1])
        assert col.shape == (3, 1)
        np.testing.assert_allclose(out[:, k:k + 1], col, rtol=0, atol=1e-15)
    np.random.seed(0)
    net = network.Network([5, 4, 3], backend=backend)
    np.random.seed(0)
    ref = book.Network([5, 4, 3])
    np.testing.assert_allclose(net.feedforward(A), ref.feedforward(A), rtol=0, atol=1e-14)


def test_user_assignments_are_honoured(backend):
    np.random.seed(0)
    net = network.Network([3, 2, 2], backend=backend)
    np.random.seed(0)
    ref = book.Network([3, 2, 2])
    x = np.array([[0.2], [0.0], [0.7]])
    net.weights[0][1, 2] = 0.5
    ref.weights[0][1, 2] = 0.5
    np.testing.assert_allclose(net.feedforward(x), ref.feedforward(x), atol=1e-15)
    new_w = [np.full((2, 3), 0.25, dtype=np.float32), np.eye(2, dtype=int)]
    net.weights = new_w
    ref.weights = [w.astype(float) for w in new_w]
    net.biases = [np.zeros((2, 1)), np.ones((2, 1))]
    ref.biases = [np.zeros((2, 1)), np.ones((2, 1))]
    np.testing.assert_allclose(net.feedforward(x), ref.feedforward(x), atol=1e-15)
    batch = [(x, np.array([[1.0], [0.0]]))]
    net.update_mini_batch(batch, 1.0)
    ref.update_mini_batch(batch, 1.0)
    assert max_rel_diff(net.weights + net.biases, ref.weights + ref.biases) < 1e-14
    assert all(w.dtype == np.float64 for w in net.weights)


@pytest.mark.parametrize("y_dtype", [np.uint8, np.int64, np.float32])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
def test_input_and_label_dtypes_train_alike(backend, x_dtype, y_dtype):
    rng = np.random.default_rng(8)
    base = make_data([6, 4, 3], 20, rng)
    converted = [(x.astype(x_dtype), y.astype(y_dtype)) for x, y in base]
    exact = [(x.astype(x_dtype).astype(np.float64), y) for x, y in base]
    results = []
    for data in (converted, exact):
        random.seed(1)
        net = network.Network([6, 4, 3], seed=2, backend=backend)
        net.SGD(data, 2, 5, 3.0)
        results.append(net.weights + net.biases)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_training_data_may_be_any_iterable(backend, capsys):
    rng = np.random.default_rng(8)
    data = make_data([4, 3], 10, rng)
    test = make_data([4, 3], 6, rng, labels=True)
    net = network.Network([4, 3], seed=0, backend=backend)
    net.SGD(iter(data), 1, 3, 1.0, test_data=iter(test))
    assert capsys.readouterr().out.startswith("Epoch 0: ")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 1000, 50000])
@pytest.mark.parametrize("seed", [0, 1, "text", 2 ** 40])
def test_compiled_shuffle_is_random_shuffle(n, seed):
    from cnet._kernels import compiled
    random.seed(seed)
    random.random()
    state = random.getstate()
    perm, after = compiled.shuffle_permutation(n, state)
    random.setstate(state)
    expected = list(range(n))
    random.shuffle(expected)
    assert perm.tolist() == expected
    assert after == random.getstate()


@pytest.mark.parametrize("n", [0, 1, 2, 17, 5000])
def test_compiled_list_permutation_moves_the_slots(n):
    import sys
    from cnet._kernels import common
    items = [(object(), [k]) for k in range(n)]
    data = list(items)
    counts = [sys.getrefcount(item) for item in items]
    perm = np.random.default_rng(n).permutation(n).astype(np.intp)
    common.permute_list(data, perm)
    assert [id(item) for item in data] == [id(items[i]) for i in perm]
    assert [sys.getrefcount(item) for item in items] == counts     # no reference made or lost
    if n >= 2:
        for bad in (perm[:-1], np.where(perm == perm[1], perm[0], perm), np.where(perm == 0, n, perm)):
            with pytest.raises(ValueError, match="perm"):
                common.permute_list(data, bad)
        assert [id(item) for item in data] == [id(items[i]) for i in perm]     # left as it was


def test_a_replaced_random_shuffle_is_honoured(monkeypatch):
    calls = []

    def reverse(x):
        calls.append(len(x))
        x.reverse()

    monkeypatch.setattr(random, "shuffle", reverse)
    data = make_data([3, 2], 6, np.random.default_rng(0))
    first = data[0]
    network.Network([3, 2], seed=None).SGD(data, 1, 2, 1.0)
    assert calls == [6] and data[-1] is first


def test_a_network_pickles_and_copies(backend):
    import copy
    import pickle
    from cnet import network2
    data = make_data([5, 4, 3], 12, np.random.default_rng(0))
    for net in (network.Network([5, 4, 3], seed=1, backend=backend),
                network2.Network([5, 4, 3], seed=1, backend=backend)):
        clones = [pickle.loads(pickle.dumps(net)), copy.deepcopy(net)]
        for other in [net] + clones:
            random.seed(0)
            other.SGD(list(data), 1, 4, 0.5)
        for clone in clones:
            assert clone.backend == net.backend and type(clone) is type(net)
            for a, b in zip(clone.weights + clone.biases, net.weights + net.biases):
                np.testing.assert_array_equal(a, b)


def test_a_network_pickled_before_num_threads_unpickles_on_one_thread():
    import pickle
    net = network.Network([5, 4, 3], seed=1, num_threads=2)
    state = net.__getstate__()
    del state["num_threads"]                  # as pickled by an earlier cnet
    old = network.Network.__new__(network.Network)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.num_threads == 1
    old.SGD(make_data([5, 4, 3], 8, np.random.default_rng(0)), 1, 4, 0.5)


def test_float32_networks(backend, tmp_path):
    from cnet import network2
    np.random.seed(4)
    net = network.Network([6, 5, 3], backend=backend, dtype=np.float32)
    np.random.seed(4)
    ref = book.Network([6, 5, 3])
    for a, b in zip(net.weights + net.biases, ref.weights + ref.biases):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b.astype(np.float32))  # the book's draws, rounded
    data = make_data([6, 5, 3], 20, np.random.default_rng(1))
    random.seed(2)
    net.SGD(list(data), 2, 5, 3.0)
    random.seed(2)
    ref.SGD(list(data), 2, 5, 3.0)
    assert all(a.dtype == np.float32 for a in net.weights + net.biases)
    assert max_rel_diff(net.weights + net.biases, ref.weights + ref.biases) < 1e-4
    assert net.feedforward(np.ones((6, 2))).dtype == np.float32
    n2 = network2.Network([6, 5, 3], seed=1, backend=backend, dtype="float32")
    n2.save(str(tmp_path / "n.json"))
    assert network2.load(str(tmp_path / "n.json")).weights[0].dtype == np.float64


@pytest.mark.parametrize("dtype", [np.int32, np.float16, "double precision", "f2", object])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match="dtype"):
        network.Network([3, 2], dtype=dtype)


def test_without_the_extension_cnet_says_so_once_and_falls_back():
    import subprocess
    import sys
    import tempfile
    code = """
import importlib.abc, sys, warnings
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.startswith("cnet._kernels._cy_"):
            raise ImportError("blocked for the test")
sys.meta_path.insert(0, Block())
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import cnet
    from cnet import network, network2
    net = network.Network([3, 2])
print(len([w for w in caught if "not built" in str(w.message)]), net.backend)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "numpy"]


@pytest.mark.parametrize("module", ["network", "network2"])
def test_num_threads_trains_the_same_network(module, monkeypatch, capsys):
    # num_threads (argument or CNET_NUM_THREADS) changes the speed, never the result.
    from cnet import network2
    Net = network.Network if module == "network" else network2.Network
    sizes = [40, 50, 10]
    rng = np.random.default_rng(2)
    train = make_data(sizes, 60, rng)
    nets = [Net(sizes, seed=9, backend="cython", num_threads=1),
            Net(sizes, seed=9, backend="cython", num_threads=2)]
    monkeypatch.setenv("CNET_NUM_THREADS", "2")
    nets.append(Net(sizes, seed=9, backend="cython"))
    assert [n.num_threads for n in nets] == [1, 2, 2]
    for net in nets:
        kwargs = {} if module == "network" else {"lmbda": 3.0}
        net.SGD(list(train), 2, 7, 0.5, **kwargs)
        net.update_mini_batch(train[:5], 0.5, **({} if module == "network" else {"lmbda": 3.0, "n": 60}))
    for net in nets[1:]:
        for got, want in zip(net.weights + net.biases, nets[0].weights + nets[0].biases):
            np.testing.assert_array_equal(got, want)
