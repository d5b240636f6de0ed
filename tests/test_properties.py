"""Properties, tested on inputs that hypothesis generates.

(a) Differential: for random networks (1–4 weight layers, widths 1–100), dense
    and sparse data in float32 and float64, both costs, λ ≥ 0, mini-batch sizes
    that do and do not divide n, and 1–3 threads, the compiled kernels give
    what the NumPy kernels give (within the tolerances of test_kernels.py), and
    the same bits on any number of threads.
(b) Bad input: a wrong value for any argument of any public function or
    method raises ValueError or TypeError whose message names the argument,
    and changes neither the network's parameters nor the caller's list.

Profiles (``CNET_HYPOTHESIS_PROFILE``): ``default``, a few dozen cases per
property (seconds, for CI), and ``long``, 10,000 cases per property:

    CNET_HYPOTHESIS_PROFILE=long pytest -p no:cacheprovider -s \
        --hypothesis-show-statistics tests/test_properties.py

With ``-s`` each differential property prints, at the end, how many cases it
ran and the largest difference it saw.
"""
import contextlib
import functools
import io
import math
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from cnet import _kernels, datasets, mnist_loader, network, network2  # noqa: E402
from cnet.functions import CrossEntropyCost, QuadraticCost  # noqa: E402

from conftest import max_rel_diff  # noqa: E402

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.function_scoped_fixture])
settings.register_profile("default", max_examples=50, **_COMMON)
settings.register_profile("long", max_examples=10_000, **_COMMON)
PROFILE = os.environ.get("CNET_HYPOTHESIS_PROFILE", "default")
# the profile is applied to this module's properties only, not to the whole session
PROFILE_SETTINGS = settings.get_profile(PROFILE)

pytestmark = pytest.mark.skipif(_kernels.compiled is None, reason="the compiled kernels are not built")

COSTS = [QuadraticCost, CrossEntropyCost]
# the tolerances of tests/test_kernels.py: float64 parameters after training (and
# outputs, gradients, costs) agree to ~1e-11 relative; float32 ones to ~1e-4
TOLERANCE = {np.float64: dict(train=1e-11, feedforward=1e-13, cost=1e-12),
             np.float32: dict(train=1e-4, feedforward=2e-6, cost=1e-5)}

FIGURES = {}


def _record(name, value):
    cases, worst = FIGURES.get(name, (0, 0.0))
    FIGURES[name] = (cases + 1, max(worst, value))


@pytest.fixture(scope="module", autouse=True)
def _report_figures():
    yield
    for name, (cases, worst) in sorted(FIGURES.items()):
        print("\n{}: {} cases, largest difference {:.3g}".format(name, cases, worst))


# ------------------------------------------------------------ (a) differential

@st.composite
def problems(draw):
    sizes = draw(st.lists(st.integers(1, 100), min_size=2, max_size=5))
    n = draw(st.integers(1, 40))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    data_dtype = draw(st.sampled_from([np.float64, np.float32]))
    sparsity = draw(st.sampled_from([0.0, 0.6, 0.95]))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    # mini-batches that divide n and that do not
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    mini_batch_size = draw(st.one_of(st.sampled_from(divisors), st.integers(1, n + 3)))
    return dict(sizes=sizes, n=n, dtype=dtype, data_dtype=data_dtype, sparsity=sparsity, seed=seed,
                mini_batch_size=mini_batch_size, cost=draw(st.sampled_from(COSTS)),
                lmbda=draw(st.one_of(st.just(0.0), st.floats(0.0, 10.0))),
                eta=draw(st.floats(0.05, 0.5)), threads=draw(st.integers(2, 3)))


def make_examples(sizes, n, rng, dtype, sparsity, labels=False):
    out = []
    for _ in range(n):
        x = rng.random((sizes[0], 1))
        x[rng.random((sizes[0], 1)) < sparsity] = 0.0
        j = int(rng.integers(sizes[-1]))
        y = j if labels else np.eye(sizes[-1])[:, [j]]
        out.append((x.astype(dtype), y))
    return out


def quietly(f, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return f(*args, **kwargs)


@PROFILE_SETTINGS
@given(problems())
def test_compiled_equals_numpy_and_threads_give_the_same_bits(p):
    rng = np.random.default_rng(p["seed"])
    training = make_examples(p["sizes"], p["n"], rng, p["data_dtype"], p["sparsity"])
    evaluation = make_examples(p["sizes"], 7, rng, p["data_dtype"], p["sparsity"], labels=True)
    tol = TOLERANCE[p["dtype"]]
    nets = {}
    for backend, threads in (("numpy", 1), ("cython", 1), ("cython", p["threads"])):
        net = network2.Network(p["sizes"], cost=p["cost"], seed=p["seed"], backend=backend,
                               dtype=p["dtype"], num_threads=threads)
        data = list(training)
        quietly(net.SGD, data, 1, p["mini_batch_size"], p["eta"], lmbda=p["lmbda"])
        assert all(a.dtype == p["dtype"] for a in net.weights + net.biases)
        nets[backend, threads] = (net, data)
    reference, ref_order = nets["numpy", 1]
    one, one_order = nets["cython", 1]
    many, many_order = nets["cython", p["threads"]]
    # same shuffle: the caller's list ends in the same order, made of the same objects
    assert [id(e) for e in ref_order] == [id(e) for e in one_order] == [id(e) for e in many_order]
    diff = max_rel_diff(one.weights + one.biases, reference.weights + reference.biases)
    _record("train {}".format(np.dtype(p["dtype"]).name), diff)
    assert diff < tol["train"]
    # threads: the same bits
    for a, b in zip(many.weights + many.biases, one.weights + one.biases):
        np.testing.assert_array_equal(a, b)
    # then, on the same parameters (the NumPy-trained ones): outputs, costs, accuracy, gradients
    for net in (one, many):
        net.weights = [w.copy() for w in reference.weights]
        net.biases = [b.copy() for b in reference.biases]
    X = np.hstack([x for x, _ in evaluation])
    out_c, out_n = one.feedforward(X), reference.feedforward(X)
    _record("feedforward {}".format(np.dtype(p["dtype"]).name), float(np.max(np.abs(out_c - out_n))))
    np.testing.assert_allclose(out_c, out_n, rtol=0, atol=tol["feedforward"])
    np.testing.assert_array_equal(many.feedforward(X), out_c)
    for lmbda in (0.0, p["lmbda"]):
        cost_c = one.total_cost(evaluation, lmbda, convert=True)
        cost_n = reference.total_cost(evaluation, lmbda, convert=True)
        _record("total_cost {}".format(np.dtype(p["dtype"]).name), abs(cost_c - cost_n) / max(abs(cost_n), 1e-300))
        assert cost_c == pytest.approx(cost_n, rel=tol["cost"], abs=1e-300)
        assert many.total_cost(evaluation, lmbda, convert=True) == cost_c
    assert many.accuracy(evaluation) == one.accuracy(evaluation)
    if p["dtype"] is np.float64:  # (in float32 a near tie may go either way)
        assert one.accuracy(evaluation) == reference.accuracy(evaluation)
    x, y = training[0]
    (gb_c, gw_c), (gb_n, gw_n) = one.backprop(x, y), reference.backprop(x, y)
    scale = max(float(np.max(np.abs(g))) for g in gb_n + gw_n)
    if scale > 0:
        diff = max_rel_diff(gb_c + gw_c, gb_n + gw_n)
        _record("backprop {}".format(np.dtype(p["dtype"]).name), diff)
        if p["dtype"] is np.float64:
            assert diff < 1e-12
        else:
            # float32: 1e-5 relative, or a few float32 ulps of an activation near 1 (δ = a − y
            # cancels when a ≈ y, and x < 1 carries that absolute error into ∇w)
            assert diff < 1e-5 or diff * scale < 5e-7


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_a_step_whose_decay_factor_is_exactly_zero(dtype):
    # found by the property above (sizes [1, 1], n 1, η 1, λ 1 differed by 0.5): the lazy
    # L2 scale reaches exactly 0, and the fold by 0 must still happen
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((3, 4)).astype(dtype)]
    biases = [rng.standard_normal((3, 1)).astype(dtype)]
    X, Y = rng.random((5, 4)), np.eye(3)[[0, 1, 2, 0, 1]]
    results = []
    for K in (_kernels.get("cython", dtype), _kernels.get("numpy")):
        w, b = [a.copy() for a in weights], [a.copy() for a in biases]
        K.train(w, b, K.prepare(X.astype(dtype)), Y, np.arange(5, dtype=np.intp), 1, 1.0, 5.0, 5,
                QuadraticCost)  # 1 − 1.0·5.0/5 = 0
        results.append(w + b)
    assert max_rel_diff(results[0], results[1]) < TOLERANCE[dtype]["train"]


# ------------------------------------------------------------ (b) bad input

SIZES = [4, 3, 2]

# values that are no kind of number
not_numbers = st.one_of(st.none(), st.text(max_size=4), st.binary(max_size=3), st.booleans(),
                        st.complex_numbers(allow_nan=False, max_magnitude=10).filter(lambda z: z.imag != 0),
                        st.lists(st.integers(0, 5), max_size=3), st.just(object()),
                        st.just(np.array([1.0, 2.0])), st.just(np.zeros((1, 1))))
# values that are not integers (2.0 is not a mini-batch size)
not_integers = st.one_of(not_numbers, st.floats(allow_nan=True, allow_infinity=True))
bad_positive = st.one_of(not_numbers, st.floats(max_value=0.0), st.integers(max_value=0),
                         st.sampled_from([math.nan, math.inf, -math.inf]))
bad_non_negative = st.one_of(not_numbers, st.floats(max_value=-1e-300), st.integers(max_value=-1),
                             st.sampled_from([math.nan, math.inf, -math.inf]))
bad_count = st.one_of(not_integers, st.integers(max_value=-1))      # epochs, early_stopping_n
bad_size = st.one_of(not_integers, st.integers(max_value=0))         # mini_batch_size


def bad_example_value(draw, n_in, n_out, labels, kinds=("pair", "x", "y")):
    """An (x, y) pair that is wrong in one way, and the part of the message that says so."""
    good_x = np.zeros((n_in, 1))
    good_y = 0 if labels else np.eye(n_out)[:, [0]]
    kind = draw(st.sampled_from(kinds))
    if kind == "pair":
        return draw(st.one_of(st.none(), st.integers(), st.text(max_size=3), st.just((good_x,)),
                              st.just((good_x, good_y, 1)), st.just(good_x))), "pair"
    wrong_arrays = st.one_of(
        st.tuples(st.integers(0, 6), st.integers(0, 3)).filter(lambda s: s != (n_in, 1)).map(np.zeros),
        st.just(np.zeros(n_in)), st.just(np.full((n_in, 1), "a")), st.just(np.full((n_in, 1), None)),
        st.just(np.zeros((n_in, 1), dtype=complex)),
        st.sampled_from([math.nan, math.inf, -math.inf]).map(lambda v: np.full((n_in, 1), v)),
        st.just([[1.0], [2.0, 3.0]]), st.none(), st.text(max_size=2))
    if kind == "x":
        return (draw(wrong_arrays), good_y), "[0]"
    if labels:
        bad_label = st.one_of(st.integers(max_value=-1), st.integers(min_value=n_out), st.floats(),
                              st.none(), st.text(max_size=2), st.just(np.zeros((n_out, 1))))
        return (good_x, draw(bad_label)), "[1]"
    wrong_y = st.one_of(
        st.tuples(st.integers(0, 4), st.integers(0, 3)).filter(lambda s: s != (n_out, 1)).map(np.zeros),
        st.sampled_from([math.nan, math.inf]).map(lambda v: np.full((n_out, 1), v)),
        st.just(np.full((n_out, 1), "a")), st.integers(0, 1), st.none())
    return (good_x, draw(wrong_y)), "[1]"


@st.composite
def bad_data(draw, labels):
    """A list of good examples with one bad one at index k: (data, k, where)."""
    rng = np.random.default_rng(draw(st.integers(0, 1000)))
    n = draw(st.integers(1, 12))
    data = make_examples(SIZES, n, rng, np.float64, 0.5, labels=labels)
    k = draw(st.integers(0, n - 1))
    data[k], where = bad_example_value(draw, SIZES[0], SIZES[-1], labels)
    return data, k, where


def snapshot(net):
    return [(a, a.copy()) for a in net.weights + net.biases]


def assert_unchanged(net, before):
    now = net.weights + net.biases
    assert len(now) == len(before)
    for a, (obj, copy) in zip(now, before):
        assert a is obj
        np.testing.assert_array_equal(a, copy)


def assert_refused(call, name):
    """``call()`` raises ValueError or TypeError whose message names ``name``."""
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name in str(info.value), (name, str(info.value))


def fresh(module=network2, **kwargs):
    return module.Network(SIZES, seed=1, **kwargs)


def good_training(n=6):
    return make_examples(SIZES, n, np.random.default_rng(5), np.float64, 0.5)


def good_test(n=5):
    return make_examples(SIZES, n, np.random.default_rng(6), np.float64, 0.5, labels=True)


@PROFILE_SETTINGS
@given(st.sampled_from(["epochs", "mini_batch_size", "eta", "lmbda", "early_stopping_n"]), st.data())
def test_bad_numbers_are_refused_by_name(name, data):
    strategy = {"epochs": bad_count, "early_stopping_n": bad_count, "mini_batch_size": bad_size,
                "eta": bad_positive, "lmbda": bad_non_negative}[name]
    value = data.draw(strategy)
    training = good_training()
    order = list(training)
    args = dict(epochs=1, mini_batch_size=2, eta=0.5)
    for module in (network, network2):
        if module is network and name in ("lmbda", "early_stopping_n"):
            continue
        net = fresh(module)
        before = snapshot(net)
        kwargs = dict(args, **{name: value})
        if name == "early_stopping_n":
            kwargs["evaluation_data"] = good_test()
        assert_refused(functools.partial(quietly, net.SGD, training, **kwargs), name)
        assert_unchanged(net, before)
        assert all(a is b for a, b in zip(training, order)) and len(training) == len(order)
    net = fresh(network2)
    before = snapshot(net)
    if name in ("eta", "lmbda"):
        step = dict(dict(eta=0.5, lmbda=0.0, n=6), **{name: value})
        assert_refused(lambda: net.update_mini_batch(training, **step), name)
        if name == "eta":
            assert_refused(lambda: network.Network(SIZES).update_mini_batch(training, value), "eta")
    if name == "lmbda":
        assert_refused(lambda: net.total_cost(training, value), "lmbda")
    assert_unchanged(net, before)


@PROFILE_SETTINGS
@given(st.sampled_from(["SGD", "SGD test_data", "SGD evaluation_data", "update_mini_batch",
                        "update_mini_batch 2", "evaluate", "accuracy", "accuracy convert",
                        "total_cost", "total_cost convert"]), st.data())
def test_bad_examples_are_refused_by_name_and_index(method, data):
    labels = method in ("SGD test_data", "SGD evaluation_data", "evaluate", "accuracy",
                        "total_cost convert")
    bad, k, where = data.draw(bad_data(labels))
    order = list(bad)
    training = good_training()
    training_order = list(training)
    net = fresh(network if method in ("SGD test_data", "evaluate", "update_mini_batch") else network2)
    before = snapshot(net)
    calls = {
        "SGD": (lambda: quietly(net.SGD, bad, 1, 2, 0.5), "training_data"),
        "SGD test_data": (lambda: quietly(net.SGD, training, 1, 2, 0.5, test_data=bad), "test_data"),
        "SGD evaluation_data": (lambda: quietly(net.SGD, training, 1, 2, 0.5, evaluation_data=bad,
                                                monitor_evaluation_accuracy=True), "evaluation_data"),
        "update_mini_batch": (lambda: net.update_mini_batch(bad, 0.5), "mini_batch"),
        "update_mini_batch 2": (lambda: net.update_mini_batch(bad, 0.5, 0.1, 10), "mini_batch"),
        "evaluate": (lambda: net.evaluate(bad), "test_data"),
        "accuracy": (lambda: net.accuracy(bad), "data"),
        "accuracy convert": (lambda: net.accuracy(bad, convert=True), "data"),
        "total_cost": (lambda: net.total_cost(bad, 0.1), "data"),
        "total_cost convert": (lambda: net.total_cost(bad, 0.1, convert=True), "data"),
    }
    call, name = calls[method]
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    message = str(info.value)
    assert "{}[{}]".format(name, k) in message, message
    if where != "pair":
        assert "{}[{}]{}".format(name, k, where) in message, message
    assert_unchanged(net, before)
    assert len(bad) == len(order) and all(a is b for a, b in zip(bad, order))
    assert len(training) == len(training_order) and all(a is b for a, b in zip(training, training_order))


bad_sizes = st.one_of(
    not_numbers.filter(lambda v: not isinstance(v, (list, str, bytes, np.ndarray))),
    st.lists(st.integers(1, 5), max_size=1),
    st.lists(st.one_of(st.integers(max_value=0), st.floats(), st.booleans(), st.none(), st.text(max_size=1)),
             min_size=1, max_size=3).flatmap(lambda bad: st.permutations([2] + bad)),
    # more than any machine's memory: refused before anything is allocated
    st.tuples(st.integers(10 ** 6, 10 ** 12), st.integers(10 ** 6, 10 ** 12)).map(list))


@PROFILE_SETTINGS
@given(st.sampled_from(["sizes", "seed", "num_threads", "backend", "dtype"]), st.data())
def test_bad_constructor_arguments_are_refused_by_name(name, data):
    strategy = {
        "sizes": bad_sizes,
        "seed": st.one_of(st.integers(max_value=-1), st.floats(), st.text(max_size=3), st.booleans(),
                          st.just(object()), st.lists(st.integers(max_value=-1), min_size=1, max_size=2)),
        "num_threads": st.one_of(bad_size.filter(lambda v: v is not None), st.integers(min_value=1025)),
        "backend": st.one_of(st.text(max_size=6).filter(lambda s: s.lower() not in ("cython", "numpy")),
                             st.integers(), st.just(object())),
        "dtype": st.sampled_from([np.int8, np.int64, "int32", "complex128", np.complex64, "U3", object,
                                  "float16", np.bool_, 3, "nonsense", str, bytes]),
    }[name]
    value = data.draw(strategy)
    for module in (network, network2):
        kwargs = {"sizes": SIZES, name: value}
        assert_refused(functools.partial(module.Network, **kwargs), name)


@PROFILE_SETTINGS
@given(st.data())
def test_bad_feedforward_and_backprop_inputs_are_refused_by_name(data):
    net = fresh(network2)
    before = snapshot(net)
    a = data.draw(st.one_of(
        # (4, 0) is not bad: no examples, an answer of shape (2, 0)
        st.tuples(st.integers(0, 6), st.integers(0, 3)).filter(lambda s: s[0] != 4).map(np.zeros),
        st.just(np.zeros(4)), st.just(np.zeros((4, 1, 1))), st.just(np.full((4, 1), "x")),
        st.sampled_from([math.nan, math.inf]).map(lambda v: np.full((4, 2), v)),
        st.none(), st.text(max_size=2), st.just([[1.0], [2.0, 3.0]])))
    with pytest.raises((ValueError, TypeError)) as info:
        net.feedforward(a)
    assert "feedforward" in str(info.value) or " a " in str(info.value)
    (x, y), where = bad_example_value(data.draw, 4, 2, labels=False, kinds=("x", "y"))
    with pytest.raises((ValueError, TypeError)) as info:
        net.backprop(x, y)
    assert "backprop" in str(info.value)
    assert_unchanged(net, before)


bad_paths = st.one_of(st.integers(), st.floats(), st.just(object()), st.lists(st.text(max_size=2), max_size=2),
                      st.just(b"\x00bad"), st.just("nul\x00in/name"))


@PROFILE_SETTINGS
@given(st.sampled_from(["network2.load", "save", "read_idx", "read_pickle", "load_data",
                        "load_data_wrapper"]), bad_paths)
def test_bad_file_names_are_refused_by_name(function, path):
    net = fresh(network2)
    calls = {
        "network2.load": (lambda: network2.load(path), "filename"),
        "save": (lambda: net.save(path), "filename"),
        "read_idx": (lambda: datasets.read_idx(path), "path"),
        "read_pickle": (lambda: datasets.read_pickle(path), "path"),
        "load_data": (lambda: mnist_loader.load_data(path), "path"),
        "load_data_wrapper": (lambda: mnist_loader.load_data_wrapper(path), "path"),
    }
    call, name = calls[function]
    assert_refused(call, name)


# ------------------------------------------------------------ the issue's own examples

@pytest.mark.parametrize("module", [network, network2])
def test_a_network_larger_than_memory_is_refused_by_name(module, monkeypatch):
    with pytest.raises(ValueError, match=r"sizes \[1099511627776, 2\] describe 2199023255554 weights "
                                         r"and biases: 16\.0 TiB in float64, more than this machine's"):
        module.Network([2 ** 40, 2])
    with pytest.raises(ValueError, match=r"8\.0 TiB in float32"):
        module.Network([2 ** 40, 2], dtype=np.float32)
    monkeypatch.setattr("cnet._checks._physical_memory", lambda: 10 ** 6)
    with pytest.raises(ValueError, match=r"sizes \[784, 1000, 10\] describe 795010 weights and biases: "
                                         r"6\.1 MiB in float64, more than this machine's 976\.6 KiB"):
        module.Network([784, 1000, 10])
    module.Network([784, 100, 10])  # 635 KiB fits


@pytest.mark.parametrize("seed, exc, message", [
    (-1, ValueError, "seed must be a non-negative integer, got -1"),
    ("abc", TypeError, "seed must be None or a non-negative integer, got 'abc'"),
    (1.5, TypeError, "seed must be None or a non-negative integer, got 1.5"),
    (True, TypeError, "seed must be None or a non-negative integer, got True"),
    ([1, -2], ValueError, "seed must be None or a non-negative integer, got [1, -2]"),
])
def test_a_bad_seed_is_named(seed, exc, message):
    for module in (network, network2):
        with pytest.raises(exc) as info:
            module.Network([3, 2], seed=seed)
        assert str(info.value).startswith(message)


def test_seeds_that_numpy_takes_still_work():
    for seed in (0, 2 ** 70, np.int64(5), [1, 2], np.random.SeedSequence(3)):
        assert network.Network([3, 2], seed=seed).weights[0].shape == (2, 3)
