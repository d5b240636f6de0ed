"""The kernels' layer plan: one interface (interface.Kernels) that both implementations
have, the spec checked at each function's boundary, the NumPy reference's table of
layer kinds and its update rule, and the compiled plan's per-layer activations."""
import importlib
import inspect

import numpy as np
import pytest

from cnet import _kernels
from cnet._kernels import interface, numpy_kernels, spec
from cnet._kernels.spec import LayerSpec, dense_chain
from cnet.functions import ACTIVATIONS, CrossEntropyCost, LogLikelihoodCost, QuadraticCost

from conftest import assert_matches_finite_differences, make_data, max_rel_diff
from test_chapter3 import params, stacked

N = numpy_kernels


def compiled_modules():
    """The baseline builds, and the ones cnet picked for this CPU."""
    modules = []
    for name in ("_cy_base", "_cy_base_f32"):
        try:
            modules.append(importlib.import_module("cnet._kernels." + name))
        except ImportError:
            pass
    return modules + [m for m in (_kernels.compiled, _kernels.compiled_f32) if m is not None and m not in modules]


COMPILED = compiled_modules()
IMPLEMENTATIONS = [N] + COMPILED
IDS = [m.__name__.rsplit(".", 1)[1] for m in IMPLEMENTATIONS]


def parameters(function):
    """(name, kind, default) of each parameter, ``self`` left out."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()
            if p.name != "self"]


@pytest.mark.parametrize("K", IMPLEMENTATIONS, ids=IDS)
def test_each_implementation_has_the_interface(K):
    assert isinstance(K.NAME, str)
    for name in interface.FUNCTIONS:
        assert parameters(getattr(K, name)) == parameters(getattr(interface.Kernels, name)), name
    assert set(interface.FUNCTIONS) == {name for name in vars(interface.Kernels) if not name.startswith("_")
                                        and inspect.isfunction(getattr(interface.Kernels, name))}


def calls(K, weights, biases, layers):
    """Every kernel function of K, called on a small data set with ``spec=layers``."""
    n_in, n_out = weights[0].shape[1], weights[-1].shape[0]
    rng = np.random.default_rng(1)
    X, Y = rng.random((4, n_in)).astype(weights[0].dtype), np.eye(n_out)[[0, 1, 0, 1]]
    order = np.arange(4, dtype=np.intp)
    yield lambda: K.feedforward(weights, biases, K.prepare(X), spec=layers)
    yield lambda: K.predict(weights, biases, K.prepare(X), spec=layers)
    yield lambda: K.backprop(weights, biases, X[0], Y[0], QuadraticCost, spec=layers)
    yield lambda: K.train(weights, biases, K.prepare(X), Y, order, 2, 0.1, 0.0, 4, QuadraticCost, spec=layers)
    yield lambda: K.cost_and_predict(weights, biases, K.prepare(X), Y, QuadraticCost, spec=layers)
    yield lambda: K.cost_sum(weights, biases, K.prepare(X), Y, QuadraticCost, spec=layers)


def net_of(K, sizes):
    weights, biases = params(sizes, np.random.default_rng(0))
    dtype = getattr(K, "DTYPE", "float64")
    return [w.astype(dtype) for w in weights], [b.astype(dtype) for b in biases]


@pytest.mark.parametrize("K", IMPLEMENTATIONS, ids=IDS)
@pytest.mark.parametrize("layers, message", [
    (dense_chain([3, 5, 2]), r"spec\[0\] .*weights\[0\] has shape \(4, 3\) and biases\[0\] \(4, 1\); "
                             r"expected \(5, 3\) and \(5, 1\)"),
    (dense_chain([3, 4, 2, 2]), "spec has 3 layers, but there are 2 weight and 2 bias arrays"),
    ((LayerSpec("dense", 3, 4, "sigmoid"), LayerSpec("dense", 5, 2, "sigmoid")),
     r"spec\[1\] .*takes 5 inputs, but spec\[0\] has 4 outputs"),
    ((LayerSpec("conv", 3, 4, "sigmoid"), LayerSpec("dense", 4, 2, "sigmoid")), r"spec\[0\] .*unknown kind 'conv'"),
    (dense_chain([3, 4, 2], "softmax"), r"spec\[0\] .*activation must be one of \['relu', 'sigmoid', 'tanh'\]"),
    (dense_chain([3, 4, 2], "relu", "relu"), r"spec\[1\] .*the output layer's"),
    ((LayerSpec("dense", 3, 4, "sigmoid", 0.5), LayerSpec("dense", 4, 2, "sigmoid")),
     r"spec\[0\] .*p_dropout is 0.5"),
    ([("dense", 3, 4, "sigmoid"), ("dense", 4, 2, "sigmoid")], "tuple of LayerSpec"),
    ((), "tuple of LayerSpec"),
], ids=["shapes", "count", "chain", "kind", "hidden", "output", "dropout", "plain-tuples", "empty"])
def test_every_function_checks_the_spec_against_the_weights(K, layers, message):
    weights, biases = net_of(K, [3, 4, 2])
    before = [a.copy() for a in weights + biases]
    for call in calls(K, weights, biases, layers):
        with pytest.raises(ValueError, match=message):
            call()
    for a, b in zip(weights + biases, before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("K", IMPLEMENTATIONS, ids=IDS)
def test_the_spec_is_required_and_a_good_one_runs(K):
    weights, biases = net_of(K, [3, 4, 2])
    with pytest.raises(TypeError):
        K.feedforward(weights, biases, K.prepare(np.zeros((1, 3), dtype=weights[0].dtype)))
    for call in calls(K, weights, biases, dense_chain([3, 4, 2])):
        call()


# ----------------------------------------------- the NumPy reference's layer kinds

def half_forward(w, b, a):
    """A test kind: z = ½ w a + b."""
    return 0.5 * np.dot(w, a) + b


def half_backward(w, a, delta, back):
    return delta, 0.5 * np.dot(delta, a.transpose()), 0.5 * np.dot(w.transpose(), delta) if back else None


def test_a_new_kind_is_a_row_of_the_table(monkeypatch):
    # a kind added to spec.SHAPES and numpy_kernels.KINDS runs in every function: its
    # forward in feedforward, its backward in backprop (checked by finite differences)
    monkeypatch.setitem(spec.SHAPES, "half", spec.dense_shapes)
    monkeypatch.setitem(N.KINDS, "half", (half_forward, half_backward))
    sizes = [4, 3, 2]
    weights, biases = params(sizes, np.random.default_rng(3))
    layers = (LayerSpec("dense", 4, 3, "tanh"), LayerSpec("half", 3, 2, "sigmoid"))
    x = np.random.default_rng(4).random(4)
    want = ACTIVATIONS["sigmoid"][0](half_forward(weights[1], biases[1], np.tanh(
        np.dot(weights[0], x.reshape(-1, 1)) + biases[0])))
    np.testing.assert_array_equal(N.feedforward(weights, biases, x.reshape(1, -1), spec=layers), want.T)
    y = np.array([0.0, 1.0])
    nabla_b, nabla_w = N.backprop(weights, biases, x, y, CrossEntropyCost, spec=layers)

    def C_x():
        return N.cost_sum(weights, biases, x.reshape(1, -1), y.reshape(1, -1), CrossEntropyCost, spec=layers)

    assert_matches_finite_differences(weights, biases, nabla_w, nabla_b, C_x, abs=1e-9)


@pytest.mark.parametrize("regularization", ["L2", "L1"])
@pytest.mark.parametrize("mu", [0.0, 0.7])
@pytest.mark.parametrize("penalized", [True, False])
def test_update_is_each_rules_formula(regularization, mu, penalized):
    rng = np.random.default_rng(2)
    p, g, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    p[0, 0] = 0.0
    eta, lmbda, n, m = 0.5, 2.0, 10, 4
    new, velocity = N.update(p, g, m, eta, lmbda, n, regularization=regularization, mu=mu,
                             velocity=v if mu else None, penalized=penalized)
    penalty = (lmbda / n) * (p if regularization == "L2" else np.sign(p)) if penalized else 0.0
    if mu:
        want_v = mu * v - eta * (g / m + penalty)
        np.testing.assert_allclose(velocity, want_v, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(new, p + want_v, rtol=1e-15, atol=1e-15)
    else:
        assert velocity is None
        np.testing.assert_allclose(new, p - eta * penalty - (eta / m) * g, rtol=1e-14, atol=1e-15)
    assert new is not p


# ------------------------------------------------------- the compiled plan

MIXED = [([8, 7, 6, 5, 3], ["relu", "tanh", "sigmoid", "softmax"]),
         ([8, 9, 6, 3], ["tanh", "relu", "sigmoid"])]


@pytest.mark.skipif(not COMPILED, reason="the compiled kernels are not built")
@pytest.mark.parametrize("layout", MIXED, ids=["relu-tanh-sigmoid-softmax", "tanh-relu-sigmoid"])
@pytest.mark.parametrize("mu", [0.0, 0.5])
def test_each_layer_has_its_own_activation(layout, mu):
    # the plan takes each layer's activation from the spec (not "hidden × (L − 1), then
    # output"): the compiled kernels agree with the reference on a spec whose hidden
    # layers differ, for any number of threads
    sizes, activations = layout
    layers = tuple(LayerSpec("dense", n_in, n_out, f) for n_in, n_out, f in zip(sizes[:-1], sizes[1:], activations))
    cost = LogLikelihoodCost if layers[-1].activation == "softmax" else CrossEntropyCost
    rng = np.random.default_rng(6)
    weights, biases = params(sizes, rng)
    X, Y = stacked(make_data(sizes, 23, rng))
    order = np.concatenate([rng.permutation(23) for _ in range(2)]).astype(np.intp)
    C = _kernels.compiled
    want = N.feedforward(weights, biases, X, spec=layers)
    np.testing.assert_allclose(C.feedforward(weights, biases, C.prepare(X), spec=layers), want, atol=1e-13)
    results = []
    for K, threads in ((N, 1), (C, 1), (C, 2)):
        w, b = [a.copy() for a in weights], [a.copy() for a in biases]
        v = ([np.zeros_like(a) for a in w], [np.zeros_like(a) for a in b]) if mu else None
        K.train(w, b, K.prepare(X), Y, order, 4, 0.3, 1.0, 23, cost, threads, spec=layers, mu=mu, velocities=v)
        results.append(w + b)
    assert max_rel_diff(results[1], results[0]) < 1e-10
    for got, same in zip(results[2], results[1]):
        np.testing.assert_array_equal(got, same)
    uniform = dense_chain(sizes, activations[0], activations[-1])     # one activation in every hidden layer
    assert np.max(np.abs(N.feedforward(weights, biases, X, spec=uniform) - want)) > 1e-3


@pytest.mark.parametrize("K", COMPILED, ids=[m.__name__.rsplit(".", 1)[1] for m in COMPILED])
def test_the_compiled_plan_is_the_spec(K):
    # one descriptor per layer of the spec: its kind, activation and sizes; its outputs
    # stored in whole 64-byte blocks, one after another in an example's block; its
    # inputs the previous layer's outputs, but the first layer's, the packed examples
    layers = (LayerSpec("dense", 30, 20, "relu"), LayerSpec("dense", 20, 9, "tanh"),
              LayerSpec("dense", 9, 4, "softmax"))
    weights, biases = net_of(K, [30, 20, 9, 4])
    plan = K.Params(weights, biases, layers).plan()
    assert [(p["kind"], p["activation"], p["n_in"], p["n_out"]) for p in plan] == \
        [(layer.kind, layer.activation, layer.n_in, layer.n_out) for layer in layers]
    assert [p["packed_input"] for p in plan] == [True, False, False]
    size = np.dtype(K.DTYPE).itemsize
    out = 0
    for l, p in enumerate(plan):
        assert p["stored"] * size % 64 == 0 and 0 <= p["stored"] - p["n_out"] < 64 // size
        assert p["out"] == out and p["inp"] == (plan[l - 1]["out"] if l else 0)
        out += p["stored"]
    with pytest.raises(ValueError, match=r"spec\[1\]"):
        K.Params(weights, biases, dense_chain([30, 20, 8, 4]))


@pytest.mark.parametrize("K", COMPILED, ids=[m.__name__.rsplit(".", 1)[1] for m in COMPILED])
def test_a_kind_the_compiled_kernels_lack_is_refused_by_name(K, monkeypatch):
    # a kind the spec knows (its shapes) but the compiled plan does not: a ValueError
    # naming it, before any loop runs
    monkeypatch.setitem(spec.SHAPES, "half", spec.dense_shapes)
    weights, biases = net_of(K, [3, 4, 2])
    layers = (LayerSpec("dense", 3, 4, "sigmoid"), LayerSpec("half", 4, 2, "sigmoid"))
    for call in calls(K, weights, biases, layers):
        with pytest.raises(ValueError, match=r"spec\[1\]: the compiled kernels have no layer kind 'half'"):
            call()
