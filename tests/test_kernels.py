"""The compiled kernels against the pure-NumPy ones, and both against finite differences."""
import numpy as np
import pytest

from cnet._kernels.spec import dense_chain
from cnet import _kernels
from cnet._kernels import numpy_kernels
from cnet.functions import CrossEntropyCost, QuadraticCost

from conftest import assert_matches_finite_differences, make_data, max_rel_diff, wider_isas

SIZES = [[2, 1], [3, 2], [5, 4, 3, 2], [10, 17, 33, 1], [20, 100, 30, 10],
         [784, 30, 10], [784, 100, 30, 10], [50, 16, 16, 16]]
COSTS = [QuadraticCost, CrossEntropyCost]


def test_compiled_kernels_are_built():
    # A missing extension must fail the suite, not skip it.
    assert _kernels.compiled is not None, _kernels.compiled_error
    assert _kernels.get("cython") is _kernels.compiled


def params(sizes, rng):
    weights = [rng.standard_normal((y, x)) for x, y in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
    return weights, biases


def stacked(data):
    X = np.stack([x for x, _ in data]).reshape(len(data), -1)
    Y = np.stack([y for _, y in data]).reshape(len(data), -1).astype(np.float64)
    return X, Y


C = _kernels.compiled
N = numpy_kernels
C32 = _kernels.compiled_f32


def as32(arrays):
    return [a.astype(np.float32) for a in arrays]


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_feedforward_and_predict_match(sizes, dtype):
    rng = np.random.default_rng(sum(sizes))
    weights, biases = params(sizes, rng)
    X, _ = stacked(make_data(sizes, 25, rng, dtype=dtype))
    got = C.feedforward(weights, biases, C.prepare(X), spec=dense_chain(sizes))
    want = N.feedforward(weights, biases, N.prepare(X), spec=dense_chain(sizes))
    assert got.shape == (25, sizes[-1])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(C.predict(weights, biases, C.prepare(X), spec=dense_chain(sizes)),
                                  N.predict(weights, biases, N.prepare(X), spec=dense_chain(sizes)))


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_backprop_matches(sizes, cost, dtype):
    rng = np.random.default_rng(len(sizes) + sizes[0])
    weights, biases = params(sizes, rng)
    for x, y in make_data(sizes, 5, rng, dtype=dtype):
        got_b, got_w = C.backprop(weights, biases, x.ravel(), y.ravel(), cost, spec=dense_chain(sizes))
        want_b, want_w = N.backprop(weights, biases, x.ravel(), y.ravel(), cost, spec=dense_chain(sizes))
        assert [g.shape for g in got_b] == [b.shape for b in biases]
        assert [g.shape for g in got_w] == [w.shape for w in weights]
        assert max_rel_diff(got_b + got_w, want_b + want_w) < 1e-12


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("lmbda", [0.0, 5.0])
def test_100_steps_match(sizes, cost, dtype, lmbda):
    rng = np.random.default_rng(7 * len(sizes) + sizes[-1])
    weights, biases = params(sizes, rng)
    X, Y = stacked(make_data(sizes, 40, rng, dtype=dtype))
    order = np.concatenate([rng.permutation(40) for _ in range(8)]).astype(np.intp)[:300]
    results = []
    for K in (C, N):
        w = [a.copy() for a in weights]
        b = [a.copy() for a in biases]
        K.train(w, b, K.prepare(X), Y, order, 3, 0.5, lmbda, 40, cost, spec=dense_chain(sizes))  # 100 steps of 3
        results.append(w + b)
    assert max_rel_diff(results[0], results[1]) < 1e-11
    assert max_rel_diff(results[1], weights + biases) > 1e-3  # training moved them


@pytest.mark.parametrize("sizes", [[5, 4, 3, 2], [784, 30, 10], [20, 100, 30, 10]], ids=str)
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
def test_cost_sum_matches(sizes, cost):
    rng = np.random.default_rng(3)
    weights, biases = params(sizes, rng)
    X, Y = stacked(make_data(sizes, 30, rng))
    got = C.cost_sum(weights, biases, C.prepare(X), Y, cost, spec=dense_chain(sizes))
    want = N.cost_sum(weights, biases, N.prepare(X), Y, cost, spec=dense_chain(sizes))
    assert got == pytest.approx(want, rel=1e-12)


def test_cross_entropy_saturated_output_is_finite():
    # a = 1 exactly with y = 1: 0·ln 0 is nan, which nan_to_num makes 0 in both kernels.
    weights = [np.array([[1000.0]])]
    biases = [np.array([[0.0]])]
    X = np.array([[1.0]])
    Y = np.array([[1.0]])
    for K in (C, N):
        assert K.cost_sum(weights, biases, K.prepare(X), Y, CrossEntropyCost, spec=dense_chain([1, 1])) == 0.0
    Y0 = np.array([[0.0]])  # −ln(1 − 1) = inf → the largest float
    for K in (C, N):
        assert K.cost_sum(weights, biases, K.prepare(X), Y0, CrossEntropyCost,
                          spec=dense_chain([1, 1])) == np.finfo(float).max


@pytest.mark.skipif(not wider_isas(), reason="this CPU has no AVX2")
@pytest.mark.parametrize("suffix", ["", "_f32"], ids=["f64", "f32"])
@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 100, 10], [784, 120, 10]], ids=str)
def test_the_vector_builds_give_the_baselines_bits(suffix, sizes):
    # AVX2's 32-byte vectors and AVX-512's 64-byte ones against the baseline build
    # (hidden widths stored 32, 104 and 120 in float64, 32, 112 and 128 in float32:
    # AVX-512 slices of 4; 8, 4 and 1; 8, 4, 2 and 1 vectors, and of 2; 4, 2 and 1; 8)
    import importlib
    builds = [importlib.import_module("cnet._kernels._cy_" + isa + suffix) for isa in ["base"] + wider_isas()]
    rng = np.random.default_rng(11)
    weights, biases = params(sizes, rng)
    X, Y = stacked(make_data(sizes, 50, rng, dtype=np.float32))
    order = rng.permutation(50).astype(np.intp)
    results = []
    for K in builds:
        for threads in (1, 2):
            w = [a.astype(K.DTYPE) for a in weights]
            b = [a.astype(K.DTYPE) for a in biases]
            K.train(w, b, K.prepare(X), Y, order, 10, 3.0, 0.1, 50, CrossEntropyCost, threads, spec=dense_chain(sizes))
            results.append(w + b)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("backend", ["cython", "numpy"])
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("sizes", [[4, 3, 2], [3, 5, 4, 2], [6, 1]], ids=str)
def test_backprop_against_finite_differences(backend, cost, sizes):
    K = _kernels.get(backend)
    rng = np.random.default_rng(5)
    weights, biases = params(sizes, rng)
    x = rng.random(sizes[0])
    y = np.zeros(sizes[-1])
    y[0] = 1.0
    nabla_b, nabla_w = K.backprop(weights, biases, x, y, cost, spec=dense_chain(sizes))

    def C_x():
        return N.cost_sum(weights, biases, x.reshape(1, -1), y.reshape(1, -1), cost, spec=dense_chain(sizes))

    assert_matches_finite_differences(weights, biases, nabla_w, nabla_b, C_x, abs=1e-9)


def test_train_rejects_out_of_range_order():
    # The kernels' own last line of defence: no index may point outside X.
    rng = np.random.default_rng(0)
    weights, biases = params([3, 2], rng)
    X, Y = stacked(make_data([3, 2], 4, rng))
    with pytest.raises(ValueError):
        C.train(weights, biases, C.prepare(X), Y, np.array([0, 4], dtype=np.intp), 1, 1.0, 0.0, 4,
                QuadraticCost, spec=dense_chain([3, 2]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8], ids=["f32", "f64", "u8"])
def test_prepared_by_blocks_equals_prepared_whole(dtype, monkeypatch):
    from cnet import _checks
    rng = np.random.default_rng(2)
    sizes = [30, 20, 5]
    data = [((x * 200).astype(dtype), y) for x, y in make_data(sizes, 23, rng)]
    weights, biases = params(sizes, rng)
    monkeypatch.setattr(_checks.InputRows, "BLOCK", 5)
    X, _ = _checks.examples("data", data, 30, 5, labels=False)
    assert X.dtype == (np.float32 if dtype == np.float32 else np.float64)
    dense = X.dense()
    np.testing.assert_array_equal(dense, np.stack([x for x, _ in data]).reshape(23, 30))
    for K in (C, N):
        np.testing.assert_array_equal(K.feedforward(weights, biases, K.prepare(X), spec=dense_chain(sizes)),
                                      K.feedforward(weights, biases, K.prepare(dense), spec=dense_chain(sizes)))


# ---------------------------------------------------------------- float32 kernels

def test_float32_kernels_are_built():
    assert C32 is not None and C32.DTYPE == "float32" and C.DTYPE == "float64"
    assert _kernels.get("cython", np.float32) is C32


@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
def test_float32_matches_numpy_in_float32(sizes, cost):
    rng = np.random.default_rng(sum(sizes) + 1)
    weights, biases = params(sizes, rng)
    weights, biases = as32(weights), as32(biases)
    X, Y = stacked(make_data(sizes, 30, rng, dtype=np.float32))
    got = C32.feedforward(weights, biases, C32.prepare(X), spec=dense_chain(sizes))
    want = N.feedforward(weights, biases, N.prepare(X), spec=dense_chain(sizes))
    assert got.dtype == want.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6)
    got_b, got_w = C32.backprop(weights, biases, X[0], Y[0], cost, spec=dense_chain(sizes))
    want_b, want_w = N.backprop(weights, biases, X[0], Y[0], cost, spec=dense_chain(sizes))
    assert all(g.dtype == np.float32 for g in got_b + got_w)
    assert max_rel_diff(got_b + got_w, want_b + want_w) < 1e-5
    assert C32.cost_sum(weights, biases, C32.prepare(X), Y, cost, spec=dense_chain(sizes)) == pytest.approx(
        N.cost_sum(weights, biases, N.prepare(X), Y, cost, spec=dense_chain(sizes)), rel=1e-5)
    order = np.concatenate([rng.permutation(30) for _ in range(2)]).astype(np.intp)
    results = []
    for K in (C32, N):
        w, b = [a.copy() for a in weights], [a.copy() for a in biases]
        K.train(w, b, K.prepare(X), Y, order, 3, 0.5, 1.0, 30, cost, spec=dense_chain(sizes))  # 20 steps
        assert all(a.dtype == np.float32 for a in w + b)
        results.append(w + b)
    assert max_rel_diff(results[0], results[1]) < 1e-4


@pytest.mark.parametrize("K", [C, C32, N], ids=["f64", "f32", "numpy"])
def test_cost_and_predict_is_cost_sum_and_predict(K):
    rng = np.random.default_rng(9)
    sizes = [40, 17, 4]
    weights, biases = params(sizes, rng)
    if K is C32:
        weights, biases = as32(weights), as32(biases)
    X, Y = stacked(make_data(sizes, 33, rng))
    P = K.prepare(X)
    total, labels = K.cost_and_predict(weights, biases, P, Y, CrossEntropyCost, spec=dense_chain(sizes))
    assert total == pytest.approx(N.cost_sum(weights, biases, X, Y, CrossEntropyCost, spec=dense_chain(sizes)),
                                  rel=1e-5)
    np.testing.assert_array_equal(labels, np.argmax(N.feedforward(weights, biases, X, spec=dense_chain(sizes)), axis=1))
    none_total, none_labels = K.cost_and_predict(weights, biases, P, None, None, spec=dense_chain(sizes))
    assert none_total == 0.0
    np.testing.assert_array_equal(none_labels, labels)


THREAD_SIZES = [[5, 4, 3, 2], [784, 30, 10], [20, 64, 10], [30, 100, 30, 10], [12, 200, 7]]


@pytest.mark.parametrize("sizes", THREAD_SIZES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("lmbda", [0.0, 5.0])
def test_threads_give_the_same_bits(sizes, dtype, lmbda):
    # Each weight and each sum is computed by one thread in the one-thread order, so
    # any thread count gives the same bits -- including the last, shorter mini-batch
    # and (lmbda 5: the scale falls below 1e-3 after ~107 of these 234 steps) the
    # lazy decay folded back into the weights.
    K = C if dtype is np.float64 else C32
    rng = np.random.default_rng(sum(sizes))
    weights, biases = (as32(a) if dtype is np.float32 else a for a in params(sizes, rng))
    X, Y = stacked(make_data(sizes, 40, rng, dtype=dtype))
    order = np.concatenate([rng.permutation(40) for _ in range(18)]).astype(np.intp)[:700]
    results = []
    for threads in (1, 2, 3, 8):
        w = [a.copy() for a in weights]
        b = [a.copy() for a in biases]
        K.train(w, b, K.prepare(X), Y, order, 3, 0.5, lmbda, 40, QuadraticCost, threads, spec=dense_chain(sizes))
        results.append(w + b)
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            np.testing.assert_array_equal(got, want)
    assert max_rel_diff(results[0], weights + biases) > 1e-3  # training moved them


def test_threads_that_cannot_start_leave_the_work_to_fewer(monkeypatch):
    # A system that refuses a new thread gets the same step, run on the threads it gave.
    import threading
    rng = np.random.default_rng(5)
    weights, biases = params([784, 30, 10], rng)
    X, Y = stacked(make_data([784, 30, 10], 20, rng))
    order = rng.permutation(20).astype(np.intp)
    results = []
    for threads in (1, 2):
        w = [a.copy() for a in weights]
        b = [a.copy() for a in biases]
        C.train(w, b, C.prepare(X), Y, order, 4, 3.0, 0.0, 20, QuadraticCost, threads, spec=dense_chain([784, 30, 10]))
        results.append(w + b)

        def refuse(self):
            raise RuntimeError("can't start new thread")
        monkeypatch.setattr(threading.Thread, "start", refuse)
    for got, want in zip(results[1], results[0]):
        np.testing.assert_array_equal(got, want)


def test_train_rejects_no_threads():
    rng = np.random.default_rng(0)
    weights, biases = params([3, 2], rng)
    X, Y = stacked(make_data([3, 2], 4, rng))
    for K in (C, C32):
        with pytest.raises(ValueError, match="num_threads"):
            K.train(weights, biases, K.prepare(X), Y, np.arange(4, dtype=np.intp), 1, 1.0,
                    0.0, 4, QuadraticCost, 0, spec=dense_chain([3, 2]))


@pytest.mark.parametrize("rows", [1, 255, 256, 257, 1000])
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
def test_scan_threads_give_the_same_costs_and_labels(rows, cost):
    # Costs are summed by blocks of rows in a fixed order, so the thread count
    # changes neither the sum's bits nor any label; and the sum is the fallback's.
    sizes = [30, 20, 10]
    rng = np.random.default_rng(rows)
    weights, biases = params(sizes, rng)
    X, Y = stacked(make_data(sizes, rows, rng))
    P = C.prepare(X)
    results = [C.cost_and_predict(weights, biases, P, Y, cost, threads, spec=dense_chain(sizes))
               for threads in (1, 2, 3)]
    for total, labels in results[1:]:
        assert total == results[0][0]
        np.testing.assert_array_equal(labels, results[0][1])
    want_total, want_labels = N.cost_and_predict(weights, biases, N.prepare(X), Y, cost, spec=dense_chain(sizes))
    assert results[0][0] == pytest.approx(want_total, rel=1e-12)
    np.testing.assert_array_equal(results[0][1], want_labels)
    with pytest.raises(ValueError, match="num_threads"):
        C.cost_and_predict(weights, biases, P, Y, cost, 0, spec=dense_chain(sizes))


@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 100, 10], [20, 7, 3], [1000, 50, 4]], ids=str)
@pytest.mark.parametrize("m", [1, 5, 33, 70])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("threads", [1, 2])
def test_a_step_adds_each_examples_terms_in_order(sizes, m, dtype, threads):
    # Training takes a mini-batch's examples through the first layer together, a block
    # of rows at a time (cnet_rows_forward_group, cnet_rows_update_group), yet each z
    # sums its terms in the order of the example's own forward pass, and each weight
    # gets the examples' terms in example order: one step over m examples moves the
    # biases by exactly -(eta/m) * (the sum of backprop's deltas, in order) and w_0 by
    # -(eta/m) * delta_1 x^T, one example after the other.  Inputs sparse, dense and
    # empty; more rows than a block; more examples than a group (32).
    K = C if dtype is np.float64 else C32
    rng = np.random.default_rng(m * sum(sizes))
    weights, biases = (as32(a) if dtype is np.float32 else a for a in params(sizes, rng))
    X, Y = stacked(make_data(sizes, m, rng, dtype=dtype))
    X[::3] = rng.random(X[::3].shape)                   # dense rows
    X[1::7] = 0.0                                       # rows without a non-zero input
    order = rng.permutation(m).astype(np.intp)
    eta = dtype(0.75)
    c = eta / dtype(m)
    deltas = [K.backprop(weights, biases, X[e], Y[e], QuadraticCost, spec=dense_chain(sizes))[0] for e in order]
    want = [weights[0].copy()]
    for e, d in zip(order, deltas):
        want[0] = want[0] + d[0] * (-(c * X[e]))[None, :]
    for l in range(len(biases)):
        total = np.zeros_like(biases[l])
        for d in deltas:
            total = total + d[l]
        want.append(biases[l] - c * total)
    w, b = [a.copy() for a in weights], [a.copy() for a in biases]
    K.train(w, b, K.prepare(X), Y, order, m, float(eta), 0.0, m, QuadraticCost, threads, spec=dense_chain(sizes))
    for got, expected in zip(w[:1] + b, want):
        np.testing.assert_array_equal(got, expected)
