"""The compiled one-pass check-and-pack (``pack``) against the Python checks
(``_checks.examples``) followed by ``prepare``: the same packed inputs, the same
targets, the same errors with the same messages, from every compiled module."""
import importlib

import numpy as np
import pytest

from cnet import _checks, _kernels

from conftest import make_data


def compiled_modules():
    names = ["_cy_base", "_cy_base_f32"]
    if _kernels.common is not None and _kernels.common.cpu_has_avx2():
        names += ["_cy_avx2", "_cy_avx2_f32"]
    if _kernels.common is not None and _kernels.common.cpu_has_avx512():
        names += ["_cy_avx512", "_cy_avx512_f32"]
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module("cnet._kernels." + name))
        except ImportError:
            pass
    return modules


MODULES = compiled_modules()
pytestmark = pytest.mark.skipif(not MODULES, reason="the compiled kernels are not built")


def by_python(K, name, data, n_in, n_out, labels):
    X, T = _checks.examples(name, data, n_in, n_out, labels)
    return K.prepare(X), T


def assert_same_packing(K, data, n_in, n_out, labels):
    got, got_T = K.pack("data", data, n_in, n_out, labels)
    want, want_T = by_python(K, "data", data, n_in, n_out, labels)
    assert (got.n_rows, got.n_cols) == (want.n_rows, want.n_cols)
    for a, b in zip(got.arrays(), want.arrays()):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert got_T.dtype == want_T.dtype and got_T.shape == want_T.shape
    np.testing.assert_array_equal(got_T, want_T)


def sparse_data(rng, n, n_in, n_out, labels, dtype=np.float32):
    data = make_data([n_in, 5, n_out], n, rng, labels=labels)
    out = []
    for x, y in data:
        x = x.copy()
        x[rng.random(x.shape) < 0.7] = 0.0
        out.append((x.astype(dtype), y))
    return out


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("labels", [False, True], ids=["outputs", "labels"])
def test_pack_equals_checks_then_prepare(K, labels):
    rng = np.random.default_rng(7)
    # widths around the 8-pixel groups of the vector loop, and MNIST's
    for n_in in (1, 7, 8, 9, 17, 64, 784):
        for dtype in (np.float32, np.float64):
            assert_same_packing(K, sparse_data(rng, 40, n_in, 3, labels, dtype), n_in, 3, labels)
    # every kind of input the checks accept: other dtypes, strides, byte orders, lists
    base = sparse_data(rng, 12, 9, 3, labels, np.float64)
    variants = [
        lambda x: x.astype(np.uint8),
        lambda x: x.astype(np.bool_),
        lambda x: x.astype(np.float16),
        lambda x: x.astype(np.int64) * 3,
        lambda x: x.astype(">f8"),
        lambda x: x.astype(">f4"),
        lambda x: np.repeat(x, 3, axis=1)[:, 1:2],                  # a strided column
        lambda x: np.asfortranarray(np.hstack([x, x]))[:, :1],
        lambda x: x[::-1][::-1],
        lambda x: np.lib.stride_tricks.as_strided(x[:1].astype(np.float32), (9, 1), (0, 0)),
        lambda x: x.tolist(),
        lambda x: -x,                                                # -0.0 is zero too
        lambda x: x.astype(np.float32) * np.float32(1e-40),          # subnormals are not zero
        lambda x: x.astype(np.longdouble),
    ]
    for f in variants:
        mixed = [(f(x) if k % 2 else x, y) for k, (x, y) in enumerate(base)]
        assert_same_packing(K, mixed, 9, 3, labels)
        assert_same_packing(K, [(f(x), y) for x, y in base], 9, 3, labels)
    # the pairs may be lists, and outputs any numeric columns
    assert_same_packing(K, [[x, y] for x, y in base], 9, 3, labels)
    if labels:
        for t in (np.int64, np.uint8, np.int32, np.array, int):
            assert_same_packing(K, [(x, t(y)) for x, y in base], 9, 3, True)
    else:
        for t in (lambda y: y.astype(np.float32), lambda y: y.astype(np.uint8), lambda y: y.tolist(),
                  lambda y: y.astype(">f8"), lambda y: np.repeat(y, 2, axis=1)[:, 1:]):
            assert_same_packing(K, [(x, t(y)) for x, y in base], 9, 3, False)
    assert_same_packing(K, [], 9, 3, labels)


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_pack_of_mnist_like_sizes_grows_its_buffers_as_needed(K):
    # pack projects its buffers from 256 examples spread over the list (k·n // 256);
    # here those are sparse and all others dense, so that the buffers must grow
    rng = np.random.default_rng(3)
    n = 1000
    sampled = {k * n // 256 for k in range(256)}
    data = sparse_data(rng, n, 784, 10, False)
    data = [(x if k in sampled else rng.random((784, 1)).astype(np.float32) + 0.1, y)
            for k, (x, y) in enumerate(data)]
    assert_same_packing(K, data, 784, 10, False)


def error_of(f):
    try:
        f()
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)
    return None


BAD = [
    # (what, labels, how to spoil the list)
    ("nan x", False, lambda d: d.__setitem__(5, (np.full((9, 1), np.nan, np.float32), d[5][1]))),
    ("inf x f64", False, lambda d: d.__setitem__(2, (np.full((9, 1), -np.inf), d[2][1]))),
    ("inf y", False, lambda d: d.__setitem__(3, (d[3][0], np.full((3, 1), np.inf)))),
    ("nan x then inf y", False, lambda d: (d.__setitem__(1, (np.full((9, 1), np.nan), d[1][1])),
                                            d.__setitem__(7, (d[7][0], np.full((3, 1), np.inf))))),
    ("nan x then bad shape", False, lambda d: (d.__setitem__(1, (np.full((9, 1), np.nan), d[1][1])),
                                                d.__setitem__(8, (np.zeros((8, 1)), d[8][1])))),
    ("x shape", False, lambda d: d.__setitem__(4, (np.zeros((9,)), d[4][1]))),
    ("x ragged", False, lambda d: d.__setitem__(4, ([[1.0], [2.0, 3.0]], d[4][1]))),
    ("x strings", False, lambda d: d.__setitem__(4, (np.full((9, 1), "a"), d[4][1]))),
    ("x complex", False, lambda d: d.__setitem__(4, (np.zeros((9, 1), complex), d[4][1]))),
    ("y shape", False, lambda d: d.__setitem__(6, (d[6][0], np.zeros((2, 1))))),
    ("y object", False, lambda d: d.__setitem__(6, (d[6][0], np.array([[None]] * 3)))),
    ("not a pair", False, lambda d: d.__setitem__(3, d[3][0])),
    ("a triple", False, lambda d: d.__setitem__(3, (d[3][0], d[3][1], 1))),
    ("None", False, lambda d: d.__setitem__(0, None)),
    ("f32 kernels: a large finite x", False,
     lambda d: d.__setitem__(2, (np.full((9, 1), 1e300), d[2][1]))),     # no error: it is finite
    ("label too big", True, lambda d: d.__setitem__(4, (d[4][0], 3))),
    ("label negative", True, lambda d: d.__setitem__(4, (d[4][0], np.int64(-1)))),
    ("label huge", True, lambda d: d.__setitem__(4, (d[4][0], 10 ** 30))),
    ("label huge uint64", True, lambda d: d.__setitem__(4, (d[4][0], np.uint64(2 ** 63 + 5)))),
    ("label float", True, lambda d: d.__setitem__(4, (d[4][0], 1.0))),
    ("label bool", True, lambda d: d.__setitem__(4, (d[4][0], True))),
    ("label one-hot", True, lambda d: d.__setitem__(4, (d[4][0], np.zeros((3, 1))))),
    ("label 0-d float", True, lambda d: d.__setitem__(4, (d[4][0], np.array(1.0)))),
    ("bad label then nan x", True, lambda d: (d.__setitem__(6, (d[6][0], 7)),
                                              d.__setitem__(2, (np.full((9, 1), np.inf), d[2][1])))),
    ("nan x then bad label type", True, lambda d: (d.__setitem__(2, (np.full((9, 1), np.inf), d[2][1])),
                                                   d.__setitem__(9, (d[9][0], "1")))),
]


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_pack_raises_what_the_checks_raise(K, case):
    _, labels, spoil = case
    data = sparse_data(np.random.default_rng(5), 12, 9, 3, labels)
    spoil(data)
    want = error_of(lambda: by_python(K, "training_data", data, 9, 3, labels))
    got = error_of(lambda: K.pack("training_data", data, 9, 3, labels))
    assert got == want
    if want is None:
        assert_same_packing(K, data, 9, 3, labels)


class Shrinking:
    """An input that empties the list it is in when NumPy reads it."""

    def __init__(self, data):
        self.data = data

    def __array__(self, dtype=None, copy=None):
        self.data.clear()
        return np.zeros((9, 1))


class Lying(np.ndarray):
    """An ndarray whose shape says (9, 1) while its memory holds one value."""

    @property
    def shape(self):
        return (9, 1)


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_pack_survives_inputs_that_misbehave(K):
    data = sparse_data(np.random.default_rng(6), 40, 9, 3, False)
    data[3] = (Shrinking(data), data[3][1])
    with pytest.raises(RuntimeError, match="changed size"):
        K.pack("data", data, 9, 3, False)
    data = sparse_data(np.random.default_rng(6), 40, 9, 3, False)
    data[3] = (np.zeros(1).view(Lying), data[3][1])
    with pytest.raises(ValueError, match=r"data\[3\]\[0\] does not hold"):
        K.pack("data", data, 9, 3, False)


def scattered(rng, n, n_in, n_out, dtype=np.float32):
    """n (x, y) pairs whose inputs are views of one block in an order unlike the
    list's (as after SGD shuffled the list in place): x of pair k is row perm[k]."""
    block = rng.random((n, n_in)).astype(dtype)
    block[rng.random(block.shape) < 0.7] = 0.0
    perm = rng.permutation(n)
    return [(block[perm[k]].reshape(n_in, 1), rng.random((n_out, 1))) for k in range(n)], perm


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("n", [0, 1, 2, 37, 300])
def test_pack_by_address_puts_each_example_where_rows_says(K, n):
    rng = np.random.default_rng(n)
    data, perm = scattered(rng, n, 9, 3)
    X, T, rows = K.pack("data", data, 9, 3, False, True)
    assert sorted(rows.tolist()) == list(range(n))
    if n > 2:
        assert rows.tolist() == np.argsort(np.argsort(perm)).tolist()    # in memory's order
        assert rows.tolist() != list(range(n))
    assert_each_example_in_its_row(K, data, X, T, rows)


def assert_each_example_in_its_row(K, data, X, T, rows):
    # example k of data packed as checks-then-prepare packs it, in row rows[k] of X and T
    want, want_T = by_python(K, "data", data, 9, 3, False)
    start, index, value = X.arrays()
    w_start, w_index, w_value = want.arrays()
    for k in range(len(data)):
        r = rows[k]
        np.testing.assert_array_equal(index[start[r]:start[r + 1]], w_index[w_start[k]:w_start[k + 1]])
        np.testing.assert_array_equal(value[start[r]:start[r + 1]], w_value[w_start[k]:w_start[k + 1]])
        np.testing.assert_array_equal(T[r], want_T[k])


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_pack_by_address_keeps_the_order_of_a_list_that_a_sample_finds_in_memory_order(K):
    # a list as it was made (its inputs at increasing addresses) is packed in its own
    # order, without a pass over every address: a swap that the sample of 1,024
    # examples does not see is kept (rows[k] = k); reversed, it is packed in memory's order
    rng = np.random.default_rng(6)
    n = 4096                                      # the sample: positions 0, 4, 8, ...
    block = rng.random((n, 9))
    data = [(block[k].reshape(9, 1), rng.random((3, 1))) for k in range(n)]
    data[1], data[2] = data[2], data[1]
    X, T, rows = K.pack("data", data, 9, 3, False, True)
    assert rows.tolist() == list(range(n))
    want, want_T = by_python(K, "data", data, 9, 3, False)
    for a, b in zip(X.arrays(), want.arrays()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(T, want_T)
    data.reverse()
    X, T, rows = K.pack("data", data, 9, 3, False, True)
    want_rows = list(range(n - 1, -1, -1))
    want_rows[n - 2], want_rows[n - 3] = want_rows[n - 3], want_rows[n - 2]
    assert rows.tolist() == want_rows


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_pack_by_address_reports_the_first_bad_example_of_the_list(K):
    rng = np.random.default_rng(3)
    data, perm = scattered(rng, 40, 9, 3)
    order = np.argsort(perm)                      # list positions in memory's order
    early, late = sorted(order[[5, 30]])          # two list positions, visited out of list order
    data[late][0][0, 0] = np.nan
    data[early][0][1, 0] = np.inf
    data[early][1][2, 0] = np.nan
    for by_address in (False, True):
        with pytest.raises(ValueError, match=r"data\[{}\]\[1\] contains NaN".format(early)):
            K.pack("data", data, 9, 3, False, by_address)
    data[early][1][2, 0] = 0.5
    with pytest.raises(ValueError, match=r"data\[{}\]\[0\] contains NaN".format(early)):
        K.pack("data", data, 9, 3, False, True)


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_pack_by_address_falls_back_to_the_list_order(K):
    rng = np.random.default_rng(4)
    data, _ = scattered(rng, 20, 9, 3)
    data[7] = (data[7][0].tolist(), data[7][1])   # not an array: checked in the list's order
    X, T, rows = K.pack("data", data, 9, 3, False, True)
    assert rows is None
    want, want_T = by_python(K, "data", data, 9, 3, False)
    for a, b in zip(X.arrays(), want.arrays()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(T, want_T)


def test_sgd_on_a_shuffled_list_trains_the_same_bits_whatever_the_packing_order():
    from cnet import network2
    rng = np.random.default_rng(5)
    data, _ = scattered(rng, 203, 30, 10, dtype=np.float64)
    runs = []
    for monitor in (False, True):       # monitoring the training cost keeps the list's order
        net = network2.Network([30, 12, 10], seed=2)
        net.SGD(list(data), 3, 10, 0.5, lmbda=1.0, monitor_training_cost=monitor)
        runs.append(net)
    for a, b in zip(runs[0].weights + runs[0].biases, runs[1].weights + runs[1].biases):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("n", [1, 2, 37, 300])
def test_pack_by_address_with_a_hint_visits_in_the_hints_order(K, n):
    rng = np.random.default_rng(10 + n)
    data, _ = scattered(rng, n, 9, 3)
    hint = rng.permutation(n)
    X, T, rows = K.pack("data", data, 9, 3, False, True, hint)
    assert rows[hint].tolist() == list(range(n))           # the r-th visited is row r
    assert_each_example_in_its_row(K, data, X, T, rows)


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("hint", [[0, 1, 2], [0, 1, 2, 3, 3], [0, 1, 2, 3, 5], [0, -1, 2, 3, 4]],
                         ids=["short", "repeated", "too large", "negative"])
def test_pack_refuses_a_hint_that_is_no_permutation(K, hint):
    data, _ = scattered(np.random.default_rng(0), 5, 9, 3)
    with pytest.raises(ValueError, match="hint"):
        K.pack("data", data, 9, 3, False, True, np.array(hint))


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_pack_with_a_hint_checks_an_example_in_another_form_in_the_lists_order(K):
    rng = np.random.default_rng(8)
    data, _ = scattered(rng, 20, 9, 3)
    hint = np.arange(20)[::-1].copy()               # visits 19, 18, ... first
    data[12] = (data[12][0].tolist(), data[12][1])   # not an array: its checks call other code
    X, T, rows = K.pack("data", data, 9, 3, False, True, hint)
    assert rows is None                              # packed in the list's order
    want, want_T = by_python(K, "data", data, 9, 3, False)
    for a, b in zip(X.arrays(), want.arrays()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(T, want_T)
    data[3][0][0, 0] = np.nan
    data[12] = (np.asarray(data[12][0]), np.full((4, 1), 0.5))   # a wrong shape, visited first
    with pytest.raises(ValueError) as hinted:
        K.pack("data", data, 9, 3, False, True, hint)
    with pytest.raises(ValueError) as in_order:
        K.pack("data", data, 9, 3, False, False)
    assert str(hinted.value) == str(in_order.value)


def test_sgd_packs_its_next_call_on_the_same_list_in_the_order_of_memory_without_looking():
    from cnet import network2
    rng = np.random.default_rng(9)
    data, _ = scattered(rng, 203, 30, 10, dtype=np.float64)
    runs = []
    for forget in (False, True):
        net = network2.Network([30, 12, 10], seed=2)
        run = list(data)
        net.SGD(run, 2, 10, 0.5, lmbda=1.0)
        hint = net._visit_hint(run)
        assert hint is not None
        K = net._kernels
        assert K.pack("d", run, 30, 10, False, True, hint)[2].tolist() == \
            K.pack("d", run, 30, 10, False, True)[2].tolist()     # memory's order
        if forget:
            del net._packed_rows
        net.SGD(run, 2, 10, 0.5, lmbda=1.0)
        runs.append(net)
        run[5] = (run[5][0].copy(), run[5][1])                     # another object: no hint
        assert net._visit_hint(run) is None
    for a, b in zip(runs[0].weights + runs[0].biases, runs[1].weights + runs[1].biases):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_pack_refills_the_inputs_it_is_given(K):
    # into the same object, with the rows a fresh pack makes: the same list, a larger
    # one (its entries grow), a much smaller one (they shrink), in a hint's order; an
    # Inputs of other width is not refilled
    rng = np.random.default_rng(21)
    big, _ = scattered(rng, 300, 30, 10, dtype=np.float32)
    small = sparse_data(rng, 12, 30, 10, False)
    X = K.pack("data", big[:200], 30, 10, False, True)[0]
    for data, hint in ((big[:200], None), (big, None), (small, None), (big, rng.permutation(300))):
        want = K.pack("data", data, 30, 10, False, True, hint)
        got = K.pack("data", data, 30, 10, False, True, hint, refill=X)
        assert got[0] is X and (X.n_rows, X.n_cols) == (len(data), 30)
        for a, b in zip(got[0].arrays(), want[0].arrays()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2], want[2])
    other = K.pack("data", sparse_data(rng, 5, 9, 10, False), 9, 10, False, True, refill=X)[0]
    assert other is not X and other.n_cols == 9


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_pack_refilling_raises_what_a_fresh_pack_raises(K):
    rng = np.random.default_rng(22)
    data = sparse_data(rng, 40, 9, 3, False)
    X = K.pack("data", data, 9, 3, False, True)[0]
    data[17] = (np.full((9, 1), np.nan), data[17][1])
    for refill in (None, X):
        with pytest.raises(ValueError, match=r"data\[17\]\[0\] contains NaN"):
            K.pack("data", data, 9, 3, False, True, refill=refill)


def test_sgd_packs_each_call_into_the_memory_of_the_last_and_trains_the_same_bits():
    # the network keeps the inputs it packed (not while a call uses them, not when it is
    # pickled or copied); a call whose list is bad leaves none kept
    import copy
    import pickle

    from cnet import network
    rng = np.random.default_rng(23)
    data, _ = scattered(rng, 203, 30, 10, dtype=np.float32)
    nets = [network.Network([30, 12, 10], seed=4) for _ in range(2)]
    lists = [list(data), list(data)]
    seen = []
    for _ in range(3):
        kept = nets[0].__dict__.get("_packed_inputs")
        nets[0]._sgd(lists[0], 1, 10, 0.5, 0.0,
                     lambda j, X, Y: seen.append((X, "_packed_inputs" in nets[0].__dict__)))
        assert seen[-1][1] is False                     # taken while the call uses it
        if kept is not None:
            assert seen[-1][0] is kept[1]               # and packed into
        nets[1].__dict__.pop("_packed_inputs", None)            # packs into fresh memory
        nets[1].SGD(lists[1], 1, 10, 0.5)
    assert nets[0]._packed_inputs[1] is seen[0][0]             # one Inputs, refilled twice
    for a, b in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
        np.testing.assert_array_equal(a, b)
    for clone in (pickle.loads(pickle.dumps(nets[0])), copy.deepcopy(nets[0])):
        assert "_packed_inputs" not in clone.__dict__
        clone.SGD(list(data), 1, 10, 0.5)
    bad = list(data)
    bad[7] = (np.full((30, 1), np.inf, np.float32), bad[7][1])
    with pytest.raises(ValueError, match=r"training_data\[7\]\[0\] contains NaN or infinity"):
        nets[0].SGD(bad, 1, 10, 0.5)
    assert "_packed_inputs" not in nets[0].__dict__


def test_sgd_keeps_inputs_only_where_its_next_call_packs_into_them():
    # in the list's order too (the training cost monitored); not with a cost of the
    # user's own, which the compiled kernels do not pack for
    from cnet import network2
    rng = np.random.default_rng(24)
    data, _ = scattered(rng, 60, 30, 10, dtype=np.float32)
    net = network2.Network([30, 12, 10], seed=1)
    for _ in range(2):
        net.SGD(list(data), 1, 10, 0.5, monitor_training_cost=True)
        X = net._packed_inputs[1]
    net.SGD(list(data), 1, 10, 0.5, monitor_training_cost=True)
    assert net._packed_inputs[1] is X

    class OwnCost:
        @staticmethod
        def fn(a, y):
            return 0.5 * np.linalg.norm(a - y) ** 2

        @staticmethod
        def delta(z, a, y):
            return (a - y) * a * (1 - a)

    with pytest.warns(UserWarning, match="not compiled"):
        own = network2.Network([30, 12, 10], seed=1, cost=OwnCost)
        own.SGD(list(data), 1, 10, 0.5)
    assert "_packed_inputs" not in own.__dict__
