"""Chapter 3's options in the kernels: softmax + log-likelihood, tanh and ReLU,
momentum, L1 -- the NumPy reference against finite differences and the formulas,
and the compiled kernels against the reference."""
import numpy as np
import pytest

from cnet._kernels.spec import dense_chain
from cnet import _kernels
from cnet._kernels import numpy_kernels
from cnet.functions import (ACTIVATIONS, CrossEntropyCost, LogLikelihoodCost, QuadraticCost,
                            output_of, relu, relu_prime, softmax, tanh, tanh_prime)

from conftest import assert_matches_finite_differences, make_data, max_rel_diff, wider_isas

N = numpy_kernels
C = _kernels.compiled
C32 = _kernels.compiled_f32
COSTS = [QuadraticCost, CrossEntropyCost, LogLikelihoodCost]
KERNEL_BACKENDS = ["numpy", "cython"]


def params(sizes, rng, scale=1.0):
    weights = [scale * rng.standard_normal((y, x)) / np.sqrt(x) for x, y in zip(sizes[:-1], sizes[1:])]
    biases = [scale * rng.standard_normal((y, 1)) for y in sizes[1:]]
    return weights, biases


def stacked(data):
    X = np.stack([x for x, _ in data]).reshape(len(data), -1)
    Y = np.stack([y for _, y in data]).reshape(len(data), -1).astype(np.float64)
    return X, Y


# ------------------------------------------------------------- the functions

def test_softmax_columns_sum_to_one_and_stay_finite_for_huge_z():
    z = np.array([[1000.0, -1000.0, 0.0, 5000.0],
                  [-1000.0, -1000.0, 1e-3, -5000.0],
                  [999.0, -1001.0, -2.0, 4990.0]])
    a = softmax(z)
    assert np.all(np.isfinite(a)) and np.all(a >= 0)
    np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=0, atol=1e-15)
    # the same as the naive formula where that one does not overflow
    small = z[:, 2:3]
    np.testing.assert_allclose(softmax(small), np.exp(small) / np.exp(small).sum(), rtol=1e-15)
    np.testing.assert_allclose(a[:, 0], [1 / (1 + np.exp(-1.0)), 0.0, np.exp(-1.0) / (1 + np.exp(-1.0))],
                               rtol=1e-15)
    a32 = softmax(z.astype(np.float32))
    assert a32.dtype == np.float32 and np.all(np.isfinite(a32))
    np.testing.assert_allclose(a32.sum(axis=0), 1.0, rtol=0, atol=1e-6)


def test_log_likelihood_cost_is_minus_ln_a_y_and_finite_when_a_y_underflows():
    a = softmax(np.array([[2.0], [1.0], [-1.0]]))
    y = np.array([[0.0], [1.0], [0.0]])
    assert LogLikelihoodCost.fn(a, y) == pytest.approx(-np.log(a[1, 0]), rel=1e-15)
    saturated = softmax(np.array([[1000.0], [-1000.0], [0.0]]))   # a_y = e^{-2000} = 0
    assert saturated[1, 0] == 0.0
    cost = LogLikelihoodCost.fn(saturated, y)
    assert np.isfinite(cost) and cost == pytest.approx(-np.log(np.finfo(float).tiny))
    assert LogLikelihoodCost.fn(saturated, np.array([[1.0], [0.0], [0.0]])) == 0.0  # 0 · ln 0 = 0
    np.testing.assert_array_equal(LogLikelihoodCost.delta(None, a, y), a - y)
    assert output_of(LogLikelihoodCost) == "softmax"
    assert output_of(CrossEntropyCost) == output_of(QuadraticCost) == "sigmoid"


@pytest.mark.parametrize("f, f_prime", [(tanh, tanh_prime), (relu, relu_prime)], ids=["tanh", "relu"])
def test_activation_derivatives_against_finite_differences(f, f_prime):
    z = np.linspace(-3, 3, 601)
    z = z[np.abs(z) > 1e-3]             # away from ReLU's kink
    h = 1e-6
    np.testing.assert_allclose(f_prime(z), (f(z + h) - f(z - h)) / (2 * h), rtol=1e-7, atol=1e-8)
    assert relu_prime(np.array([0.0, -0.0]))[0] == 0.0
    assert set(ACTIVATIONS) == {"sigmoid", "tanh", "relu"}


# ------------------------------------------------- gradients of the kernels

def kernel(backend, dtype=np.float64):
    return _kernels.get(backend, dtype)


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("sizes", [[4, 3, 2], [3, 5, 4, 3], [6, 1], [5, 7, 3]], ids=str)
def test_backprop_against_finite_differences(backend, cost, activation, sizes):
    if cost is LogLikelihoodCost and sizes[-1] == 1:
        pytest.skip("softmax of one output is the constant 1")
    K = kernel(backend)
    output = output_of(cost)
    rng = np.random.default_rng(sum(sizes) + len(activation))
    weights, biases = params(sizes, rng)
    x = rng.random(sizes[0])
    y = np.zeros(sizes[-1])
    y[-1] = 1.0
    nabla_b, nabla_w = K.backprop(weights, biases, x, y, cost, spec=dense_chain(sizes, activation, output))

    def C_x():
        return N.cost_sum(weights, biases, x.reshape(1, -1), y.reshape(1, -1), cost,
                          spec=dense_chain(sizes, activation, output))

    assert_matches_finite_differences(weights, biases, nabla_w, nabla_b, C_x, abs=1e-8)


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
def test_softmax_output_columns_sum_to_one_and_cost_stays_finite(backend):
    K = kernel(backend)
    sizes = [6, 5, 4]
    rng = np.random.default_rng(0)
    weights, biases = params(sizes, rng, scale=400.0)   # |z| in the thousands
    X, Y = stacked(make_data(sizes, 20, rng))
    out = K.feedforward(weights, biases, K.prepare(X), spec=dense_chain(sizes, "relu", "softmax"))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    assert np.any(out == 0.0)     # some a_j underflowed
    total = K.cost_sum(weights, biases, K.prepare(X), Y, LogLikelihoodCost, spec=dense_chain(sizes, "relu", "softmax"))
    assert np.isfinite(total) and total > 100


# ---------------------------------------------------------- the update rules

def hand_written_momentum(weights, biases, X, Y, order, m, eta, lmbda, n, mu, regularization, cost,
                          activation):
    """The book's momentum-based SGD, written out: v ← μv − η∇C, w ← w + v."""
    weights = [w.copy() for w in weights]
    biases = [b.copy() for b in biases]
    vw = [np.zeros_like(w) for w in weights]
    vb = [np.zeros_like(b) for b in biases]
    for start in range(0, len(order), m):
        batch = order[start:start + m]
        spec = dense_chain([weights[0].shape[1]] + [w.shape[0] for w in weights], activation, output_of(cost))
        grads = [N.backprop(weights, biases, X[e], Y[e], cost, spec=spec) for e in batch]
        for l in range(len(weights)):
            gw = sum(g[1][l] for g in grads) / len(batch)
            gb = sum(g[0][l] for g in grads) / len(batch)
            reg = weights[l] if regularization == "L2" else np.sign(weights[l])
            vw[l] = mu * vw[l] - eta * (gw + (lmbda / n) * reg)
            vb[l] = mu * vb[l] - eta * gb
            weights[l] = weights[l] + vw[l]
            biases[l] = biases[l] + vb[l]
    return weights, biases, vw, vb


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("regularization", ["L2", "L1"])
@pytest.mark.parametrize("mu", [0.5, 0.9])
def test_momentum_is_the_hand_written_loop(backend, regularization, mu):
    K = kernel(backend)
    sizes = [20, 12, 5]
    rng = np.random.default_rng(4)
    weights, biases = params(sizes, rng)
    X, Y = stacked(make_data(sizes, 30, rng))
    order = np.concatenate([rng.permutation(30) for _ in range(3)]).astype(np.intp)[:70]  # last batch short
    want_w, want_b, want_vw, want_vb = hand_written_momentum(
        weights, biases, X, Y, order, 4, 0.3, 2.0, 30, mu, regularization, CrossEntropyCost, "tanh")
    w, b = [a.copy() for a in weights], [a.copy() for a in biases]
    vw, vb = [np.zeros_like(a) for a in w], [np.zeros_like(a) for a in b]
    K.train(w, b, K.prepare(X), Y, order, 4, 0.3, 2.0, 30, CrossEntropyCost,
            regularization=regularization, mu=mu, velocities=(vw, vb), spec=dense_chain(sizes, "tanh"))
    assert max_rel_diff(w + b, want_w + want_b) < 1e-12
    assert max_rel_diff(vw + vb, want_vw + want_vb) < 1e-11
    assert max_rel_diff(w + b, weights + biases) > 1e-2


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
@pytest.mark.parametrize("mu", [0.5, 0.02])
def test_momentum_without_a_penalty_is_the_hand_written_loop(backend, mu):
    # λ = 0: the compiled kernels keep layer 0's velocity scaled (catch_up_scaled), and
    # with μ = 0.02 fold the scale back every 10 steps (from the second call on, with
    # velocities that do not start at zero)
    K = kernel(backend)
    sizes = [20, 12, 5]
    rng = np.random.default_rng(5)
    weights, biases = params(sizes, rng)
    X, Y = stacked(make_data(sizes, 30, rng))
    order = np.concatenate([rng.permutation(30) for _ in range(4)]).astype(np.intp)[:98]  # last batch short
    want_w, want_b, want_vw, want_vb = hand_written_momentum(
        weights, biases, X, Y, order, 4, 0.3, 0.0, 30, mu, "L2", CrossEntropyCost, "tanh")
    w, b = [a.copy() for a in weights], [a.copy() for a in biases]
    vw, vb = [np.zeros_like(a) for a in w], [np.zeros_like(a) for a in b]
    for part in (order[:40], order[40:]):
        K.train(w, b, K.prepare(X), Y, part, 4, 0.3, 0.0, 30, CrossEntropyCost,
                mu=mu, velocities=(vw, vb), spec=dense_chain(sizes, "tanh"))
    assert max_rel_diff(w + b, want_w + want_b) < 1e-12
    assert max_rel_diff(vw + vb, want_vw + want_vb) < 1e-11


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
def test_l1_step_is_its_formula(backend):
    K = kernel(backend)
    sizes = [8, 6, 3]
    rng = np.random.default_rng(8)
    weights, biases = params(sizes, rng)
    weights[0][0, 0] = 0.0                  # sgn(0) = 0: a zero weight is not pushed
    X, Y = stacked(make_data(sizes, 5, rng))
    eta, lmbda, n = 0.5, 3.0, 20
    grads = [N.backprop(weights, biases, X[e], Y[e], QuadraticCost, spec=dense_chain(sizes)) for e in range(5)]
    want_w = [w - (eta * lmbda / n) * np.sign(w) - (eta / 5) * sum(g[1][l] for g in grads)
              for l, w in enumerate(weights)]
    want_b = [b - (eta / 5) * sum(g[0][l] for g in grads) for l, b in enumerate(biases)]
    w, b = [a.copy() for a in weights], [a.copy() for a in biases]
    K.train(w, b, K.prepare(X), Y, np.arange(5, dtype=np.intp), 5, eta, lmbda, n, QuadraticCost,
            regularization="L1", spec=dense_chain(sizes))
    assert max_rel_diff(w + b, want_w + want_b) < 1e-14
    # and it is not the L2 step
    w2, b2 = [a.copy() for a in weights], [a.copy() for a in biases]
    K.train(w2, b2, K.prepare(X), Y, np.arange(5, dtype=np.intp), 5, eta, lmbda, n, QuadraticCost,
            spec=dense_chain(sizes))
    assert max_rel_diff(w2, w) > 1e-3


@pytest.mark.parametrize("backend", KERNEL_BACKENDS)
def test_mu_zero_is_the_plain_step_to_the_bit_and_leaves_velocities_alone(backend):
    K = kernel(backend)
    sizes = [10, 7, 4]
    rng = np.random.default_rng(6)
    weights, biases = params(sizes, rng)
    X, Y = stacked(make_data(sizes, 12, rng))
    order = rng.permutation(12).astype(np.intp)
    results = []
    for kwargs in ({}, {"mu": 0.0, "velocities": ([np.ones_like(a) for a in weights],
                                                   [np.ones_like(a) for a in biases])}):
        w, b = [a.copy() for a in weights], [a.copy() for a in biases]
        K.train(w, b, K.prepare(X), Y, order, 5, 0.5, 1.0, 12, CrossEntropyCost, spec=dense_chain(sizes), **kwargs)
        results.append(w + b)
        if kwargs:
            assert all(np.all(v == 1) for v in kwargs["velocities"][0] + kwargs["velocities"][1])
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)


# ------------------------------------- compiled against reference, every option

COMBO_SIZES = [[7, 5, 3], [30, 20, 10], [12, 9, 17, 8, 4]]   # the last one deep


@pytest.mark.parametrize("sizes", COMBO_SIZES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mu", [0.0, 0.6])
@pytest.mark.parametrize("regularization", ["L2", "L1"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("cost", COSTS, ids=lambda c: c.__name__)
def test_compiled_matches_reference_for_every_option(cost, activation, regularization, mu, dtype, sizes):
    # 23 examples in mini-batches of 4 over two epochs: the last mini-batch of each
    # call is short.  Any thread count gives the same bits; the reference agrees to
    # rounding; so do the velocities, the outputs and the costs.
    K = C if dtype is np.float64 else C32
    output = output_of(cost)
    rng = np.random.default_rng(len(sizes) * 100 + sizes[-1])
    weights, biases = params(sizes, rng)
    weights, biases = [a.astype(dtype) for a in weights], [a.astype(dtype) for a in biases]
    X, Y = stacked(make_data(sizes, 23, rng, dtype=dtype))
    order = np.concatenate([rng.permutation(23), rng.permutation(23)]).astype(np.intp)
    options = dict(spec=dense_chain(sizes, activation, output), regularization=regularization, mu=mu)
    results = []
    for K_, threads in ((N, 1), (K, 1), (K, 2), (K, 3)):
        w, b = [a.copy() for a in weights], [a.copy() for a in biases]
        v = ([np.zeros_like(a) for a in w], [np.zeros_like(a) for a in b]) if mu else None
        K_.train(w, b, K_.prepare(X), Y, order, 4, 0.3, 2.0, 23, cost, threads, velocities=v, **options)
        results.append((w + b, v[0] + v[1] if mu else []))
    for got in results[2:]:
        for g, want in zip(got[0] + got[1], results[1][0] + results[1][1]):
            np.testing.assert_array_equal(g, want)
    tolerance = 1e-10 if dtype is np.float64 else 2e-4
    assert max_rel_diff(results[1][0], results[0][0]) < tolerance
    if mu:
        assert max_rel_diff(results[1][1], results[0][1]) < tolerance
    assert max_rel_diff(results[1][0], weights + biases) > 1e-3
    w = results[0][0][:len(weights)]
    b = results[0][0][len(weights):]
    layers = dict(spec=dense_chain(sizes, activation, output))
    got = K.feedforward(w, b, K.prepare(X), **layers)
    want = N.feedforward(w, b, N.prepare(X), **layers)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 if dtype is np.float64 else 2e-6)
    assert K.cost_sum(w, b, K.prepare(X), Y, cost, **layers) == pytest.approx(
        N.cost_sum(w, b, N.prepare(X), Y, cost, **layers), rel=1e-12 if dtype is np.float64 else 1e-5)
    np.testing.assert_array_equal(K.predict(w, b, K.prepare(X), **layers),
                                  N.predict(w, b, N.prepare(X), **layers))


@pytest.mark.skipif(not wider_isas(), reason="this CPU has no AVX2")
@pytest.mark.parametrize("suffix", ["", "_f32"], ids=["f64", "f32"])
@pytest.mark.parametrize("options", [
    dict(cost=LogLikelihoodCost, output="softmax", activation="relu"),
    dict(cost=CrossEntropyCost, activation="tanh", regularization="L1"),
    dict(cost=LogLikelihoodCost, output="softmax", activation="tanh", mu=0.5),
    dict(cost=QuadraticCost, activation="relu", regularization="L1", mu=0.9),
], ids=["softmax-relu", "tanh-L1", "softmax-tanh-momentum", "relu-L1-momentum"])
def test_the_vector_builds_give_the_baselines_bits(suffix, options):
    import importlib
    builds = [importlib.import_module("cnet._kernels._cy_" + isa + suffix) for isa in ["base"] + wider_isas()]
    rng = np.random.default_rng(12)
    sizes = [784, 30, 20, 10]
    weights, biases = params(sizes, rng)
    X, Y = stacked(make_data(sizes, 50, rng, dtype=np.float32))
    order = rng.permutation(50).astype(np.intp)
    options = dict(options)
    cost = options.pop("cost")
    spec = dense_chain(sizes, options.pop("activation"), options.pop("output", "sigmoid"))
    results = []
    for K in builds:
        w = [a.astype(K.DTYPE) for a in weights]
        b = [a.astype(K.DTYPE) for a in biases]
        v = ([np.zeros_like(a) for a in w], [np.zeros_like(a) for a in b])
        K.train(w, b, K.prepare(X), Y, order, 10, 0.5, 0.1, 50, cost, velocities=v, spec=spec, **options)
        out = K.feedforward(w, b, K.prepare(X), spec=spec)
        results.append(w + b + v[0] + v[1] + [out])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_kernels_reject_what_they_cannot_compute():
    rng = np.random.default_rng(0)
    weights, biases = params([3, 4, 2], rng)
    X, Y = stacked(make_data([3, 4, 2], 4, rng))
    P = C.prepare(X)
    order = np.arange(4, dtype=np.intp)
    with pytest.raises(ValueError, match="activation"):
        C.feedforward(weights, biases, P, spec=dense_chain([3, 4, 2], "softplus"))
    with pytest.raises(ValueError, match="output"):
        C.feedforward(weights, biases, P, spec=dense_chain([3, 4, 2], "sigmoid", "tanh"))
    with pytest.raises(ValueError, match="softmax"):
        C.train(weights, biases, P, Y, order, 2, 0.1, 0.0, 4, LogLikelihoodCost,
                spec=dense_chain([3, 4, 2]))   # sigmoid output
    with pytest.raises(ValueError, match="sigmoid"):
        C.train(weights, biases, P, Y, order, 2, 0.1, 0.0, 4, CrossEntropyCost,
                spec=dense_chain([3, 4, 2], "sigmoid", "softmax"))
    with pytest.raises(ValueError, match="regularization"):
        C.train(weights, biases, P, Y, order, 2, 0.1, 0.0, 4, CrossEntropyCost, regularization="L3",
                spec=dense_chain([3, 4, 2]))
    with pytest.raises(ValueError, match="velocities"):
        C.train(weights, biases, P, Y, order, 2, 0.1, 0.0, 4, CrossEntropyCost, mu=0.5, spec=dense_chain([3, 4, 2]))
    with pytest.raises(ValueError, match="velocities"):
        C.train(weights, biases, P, Y, order, 2, 0.1, 0.0, 4, CrossEntropyCost, mu=0.5,
                velocities=([np.zeros((2, 2))] * 2, [np.zeros((4, 1)), np.zeros((2, 1))]), spec=dense_chain([3, 4, 2]))


@pytest.mark.parametrize("options", [dict(), dict(lmbda=0.0), dict(regularization="L1", activation="tanh")],
                         ids=["L2-lazy-rows", "no-penalty-scaled-rows", "L1-every-weight"])
def test_momentum_interrupted_by_a_real_sigint_leaves_whole_steps(options):
    # A SIGINT stops the kernels between mini-batches; the weights and the velocities
    # are then those of a whole number of steps (found by replaying them one call at a
    # time): the catch-up, or the pass, already done for the step not taken is undone.
    import os
    import signal
    import threading
    options = dict(options)
    lmbda = options.pop("lmbda", 5.0)
    sizes = [784, 300, 10]
    options["spec"] = dense_chain(sizes, options.pop("activation", "sigmoid"))
    rng = np.random.default_rng(0)
    X = rng.random((400, 784)) * (rng.random((400, 784)) < 0.2)
    Y = np.eye(10)[rng.integers(0, 10, 400)]
    weights, biases = params(sizes, rng)
    order = np.concatenate([rng.permutation(400) for _ in range(400)]).astype(np.intp)
    w, b = [a.copy() for a in weights], [a.copy() for a in biases]
    v = ([np.zeros_like(a) for a in w], [np.zeros_like(a) for a in b])
    P = C.prepare(X)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        C.train(w, b, P, Y, order, 10, 0.1, lmbda, 400, CrossEntropyCost, mu=0.5, velocities=v, **options)
    timer.join()
    rw, rb = [a.copy() for a in weights], [a.copy() for a in biases]
    rv = ([np.zeros_like(a) for a in rw], [np.zeros_like(a) for a in rb])
    for k in range(len(order) // 10):
        if max_rel_diff(w + b + v[0] + v[1], rw + rb + rv[0] + rv[1]) < 1e-12:
            break
        C.train(rw, rb, P, Y, order[10 * k:10 * k + 10], 10, 0.1, lmbda, 400, CrossEntropyCost,
                mu=0.5, velocities=rv, **options)
    else:
        pytest.fail("the interrupted parameters are not those of any whole number of steps")
    assert k > 0
