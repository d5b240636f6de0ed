"""Learners' own code is honoured: a subclass's overrides are called where and as often
as the book's code calls them, with the same arguments, and training continues from
what they return or write; cost instances train compiled."""
import contextlib
import io
import json
import random
import warnings

import numpy as np
import pytest

from cnet import _engine, network, network2
from cnet._kernels import numpy_kernels
from cnet.functions import builtin_cost

import book
from conftest import make_data, max_rel_diff

SIZES = [12, 8, 4]
CH1_METHODS = ["feedforward", "SGD", "update_mini_batch", "backprop", "evaluate", "cost_derivative"]
CH3_METHODS = ["feedforward", "SGD", "update_mini_batch", "backprop", "accuracy", "total_cost",
               "default_weight_initializer", "large_weight_initializer", "save"]


def _describe(value):
    """An argument as something comparable between two runs: the identity of the
    user's objects (lists, examples), the values of numbers and computed arrays."""
    if isinstance(value, list):
        return ("list", tuple(id(e) for e in value))
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.round(6).tobytes())
    return value


def counting(base, name):
    """A subclass of ``base`` whose ``name`` records each call's arguments and defers
    to ``base``."""
    def method(self, *args, **kwargs):
        self.calls.append((tuple(_describe(a) for a in args),
                           tuple(sorted((k, _describe(v)) for k, v in kwargs.items()))))
        return getattr(super(sub, self), name)(*args, **kwargs)
    sub = type("Counting_" + name, (base,), {name: method})
    return sub


def _new(cls, seed, **kwargs):
    np.random.seed(seed)
    obj = cls.__new__(cls)
    obj.calls = []            # before __init__, which calls default_weight_initializer
    obj.__init__(SIZES, **kwargs)
    return obj


CH1_SCENARIOS = {"no test data": {}, "test data": {"test_data": True}}
CH3_SCENARIOS = {
    "no monitors": {},
    "four monitors": dict(evaluation=True, monitor_evaluation_cost=True,
                          monitor_evaluation_accuracy=True, monitor_training_cost=True,
                          monitor_training_accuracy=True),
    "evaluation accuracy, early stopping": dict(evaluation=True, monitor_evaluation_accuracy=True,
                                                early_stopping_n=1),
}


def _run_ch1(cls, train, test, scenario, kwargs):
    net = _new(cls, 3, **kwargs)
    random.seed(4)
    data = list(train)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = net.SGD(data, 2, 7, 3.0, test_data=test if scenario.get("test_data") else None)
    return net, result, out.getvalue(), data


def _run_ch3(cls, train, evaluation, scenario, kwargs, tmp_path=None):
    net = _new(cls, 3, **kwargs)
    random.seed(4)
    data = list(train)
    flags = {k: v for k, v in scenario.items() if k != "evaluation"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = net.SGD(data, 3, 7, 0.5, lmbda=2.0,
                         evaluation_data=evaluation if scenario.get("evaluation") else None, **flags)
    return net, result, out.getvalue(), data


def _same_output(ours, theirs):
    """The printed lines agree: words exactly, numbers to rounding."""
    a, b = ours.splitlines(), theirs.splitlines()
    assert len(a) == len(b)
    for x, y in zip(a, b):
        hx, _, tx = x.partition(": ")
        hy, _, ty = y.partition(": ")
        assert hx == hy
        assert [float(t) for t in tx.split(" / ") if t] == pytest.approx(
            [float(t) for t in ty.split(" / ") if t], rel=1e-10)


@pytest.mark.filterwarnings("ignore:cnet. Counting_")
@pytest.mark.parametrize("scenario", list(CH1_SCENARIOS), ids=str)
@pytest.mark.parametrize("method", CH1_METHODS)
def test_network_counting_subclass_is_called_as_in_the_book(backend, method, scenario):
    rng = np.random.default_rng(0)
    train = make_data(SIZES, 30, rng)
    test = make_data(SIZES, 9, rng, labels=True)
    ours, _, our_out, our_data = _run_ch1(counting(network.Network, method), train, test,
                                          CH1_SCENARIOS[scenario], {"backend": backend})
    theirs, _, their_out, their_data = _run_ch1(counting(book.Network, method), train, test,
                                                CH1_SCENARIOS[scenario], {})
    assert [id(e) for e in our_data] == [id(e) for e in their_data]  # the same shuffles
    assert len(ours.calls) == len(theirs.calls)
    if method != "cost_derivative":        # (its a, y are computed: compared to rounding below)
        assert ours.calls == theirs.calls
    assert our_out == their_out
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) <= 1e-10


@pytest.mark.filterwarnings("ignore:cnet. Counting_")
@pytest.mark.parametrize("scenario", list(CH3_SCENARIOS), ids=str)
@pytest.mark.parametrize("method", CH3_METHODS)
def test_network2_counting_subclass_is_called_as_in_the_book(backend, method, scenario):
    rng = np.random.default_rng(1)
    train = make_data(SIZES, 30, rng)
    evaluation = make_data(SIZES, 9, rng, labels=True)
    ours, got, our_out, our_data = _run_ch3(counting(network2.Network, method), train, evaluation,
                                            CH3_SCENARIOS[scenario], {"backend": backend})
    theirs, want, their_out, their_data = _run_ch3(counting(book.Network2, method), train,
                                                   evaluation, CH3_SCENARIOS[scenario], {})
    assert [id(e) for e in our_data] == [id(e) for e in their_data]
    assert ours.calls == theirs.calls
    _same_output(our_out, their_out)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-10)
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) <= 1e-10


def test_cost_derivative_gets_the_books_arguments():
    rng = np.random.default_rng(2)
    train = make_data(SIZES, 14, rng)
    seen = {}
    for name, base in (("ours", network.Network), ("theirs", book.Network)):
        class Recording(base):
            key = name

            def cost_derivative(self, output_activations, y):
                seen.setdefault(self.key, []).append((output_activations.copy(), y.copy()))
                return super().cost_derivative(output_activations, y)
        np.random.seed(0)
        random.seed(1)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Recording(SIZES).SGD(list(train), 1, 5, 3.0)
    assert len(seen["ours"]) == len(seen["theirs"]) == 14
    for (a, y), (b, z) in zip(seen["ours"], seen["theirs"]):
        assert a.shape == b.shape == (4, 1) and y.shape == (4, 1)
        np.testing.assert_allclose(a, b, rtol=1e-12)
        np.testing.assert_array_equal(y, z)


def test_the_chapter_2_matrix_based_mini_batch_trains_to_the_books_weights(backend):
    """Chapter 2's problem: update_mini_batch over the whole mini-batch as matrices."""
    class MatrixNetwork(network.Network):
        steps = 0

        def update_mini_batch(self, mini_batch, eta):
            self.steps += 1
            X = np.hstack([x for x, _ in mini_batch])          # one example per column
            Y = np.hstack([y for _, y in mini_batch])
            activation, activations, zs = X, [X], []
            for b, w in zip(self.biases, self.weights):
                z = np.dot(w, activation) + b
                zs.append(z)
                activation = network.sigmoid(z)
                activations.append(activation)
            delta = self.cost_derivative(activations[-1], Y) * network.sigmoid_prime(zs[-1])
            nabla_b = [None] * len(self.biases)
            nabla_w = [None] * len(self.weights)
            nabla_b[-1] = delta.sum(axis=1, keepdims=True)
            nabla_w[-1] = np.dot(delta, activations[-2].T)
            for l in range(2, self.num_layers):
                delta = np.dot(self.weights[-l + 1].T, delta) * network.sigmoid_prime(zs[-l])
                nabla_b[-l] = delta.sum(axis=1, keepdims=True)
                nabla_w[-l] = np.dot(delta, activations[-l - 1].T)
            m = len(mini_batch)
            self.weights = [w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
            self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]

    rng = np.random.default_rng(3)
    train = make_data([12, 10, 8, 4], 40, rng)
    test = make_data([12, 10, 8, 4], 10, rng, labels=True)
    np.random.seed(5)
    random.seed(6)
    ours = MatrixNetwork([12, 10, 8, 4], backend=backend)
    with pytest.warns(UserWarning, match="MatrixNetwork overrides update_mini_batch"):
        ours.SGD(list(train), 3, 6, 3.0, test_data=test)
    np.random.seed(5)
    random.seed(6)
    theirs = book.Network([12, 10, 8, 4])
    with contextlib.redirect_stdout(io.StringIO()):
        theirs.SGD(list(train), 3, 6, 3.0, test_data=test)
    assert ours.steps == 3 * 7
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) <= 1e-10


def test_an_override_that_changes_the_cost_changes_the_result_as_in_the_book(backend):
    def doubled(base):
        class Doubled(base):
            def cost_derivative(self, output_activations, y):
                return 2 * (output_activations - y)
        return Doubled

    rng = np.random.default_rng(4)
    train = make_data(SIZES, 30, rng)
    results = {}
    for name, cls, kwargs in (("ours", doubled(network.Network), {"backend": backend}),
                              ("theirs", doubled(book.Network), {}),
                              ("plain", network.Network, {"backend": backend})):
        np.random.seed(7)
        random.seed(8)
        net = cls(SIZES, **kwargs)
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.SGD(list(train), 2, 5, 1.0)
        results[name] = net.weights + net.biases
    assert max_rel_diff(results["ours"], results["theirs"]) <= 1e-10
    assert max_rel_diff(results["plain"], results["theirs"]) > 1e-3


@contextlib.contextmanager
def _numpy_kernels_forbidden(monkeypatch):
    """Inside: any use of the NumPy kernels' training or evaluation fails the test."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the NumPy kernels were used")
    for name in ("train", "backprop", "cost_and_predict", "feedforward", "cost_sum"):
        monkeypatch.setattr(numpy_kernels, name, forbidden)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
    monkeypatch.undo()


def test_the_books_figure_scripts_run_compiled_with_the_books_numbers(monkeypatch, tmp_path):
    """overfitting.py, weight_initialization.py and more_data.py: a cost instance,
    large_weight_initializer() between runs of one network, json.dump of what SGD
    returns, accuracy(validation_data) / 100.0."""
    rng = np.random.default_rng(5)
    training_data = make_data(SIZES, 60, rng)
    validation_data = make_data(SIZES, 20, rng, labels=True)
    results = {}
    for name, mod in (("ours", network2), ("theirs", book)):
        np.random.seed(9)
        random.seed(10)
        Net = network2.Network if mod is network2 else book.Network2
        with contextlib.redirect_stdout(io.StringIO()), \
                (_numpy_kernels_forbidden(monkeypatch) if mod is network2 else contextlib.nullcontext()):
            net = Net(SIZES, cost=mod.CrossEntropyCost())
            net.large_weight_initializer() if mod is network2 else _book_large(net)
            curves = net.SGD(training_data[:40], 3, 10, 0.5, evaluation_data=validation_data,
                             lmbda=1.0, monitor_evaluation_cost=True,
                             monitor_evaluation_accuracy=True, monitor_training_cost=True,
                             monitor_training_accuracy=True)
            path = tmp_path / "{}.json".format(name)
            with open(path, "w") as f:
                json.dump(list(curves), f)
            accuracies = []
            for size in (20, 40, 60):
                net.large_weight_initializer() if mod is network2 else _book_large(net)
                net.SGD(training_data[:size], 2, 10, 0.5, lmbda=size * 0.0001)
                accuracies.append(net.accuracy(validation_data) / 100.0)
        results[name] = (json.loads(path.read_text()), accuracies, net.weights + net.biases)
    (our_curves, our_acc, our_params), (their_curves, their_acc, their_params) = \
        results["ours"], results["theirs"]
    for g, w in zip(our_curves, their_curves):
        assert g == pytest.approx(w, rel=1e-10)
    assert our_acc == their_acc
    assert max_rel_diff(our_params, their_params) <= 1e-10


def _book_large(net):
    # the book's network2.large_weight_initializer (tests/book.py trims it)
    net.biases = [np.random.randn(y, 1) for y in net.sizes[1:]]
    net.weights = [np.random.randn(y, x) for x, y in zip(net.sizes[:-1], net.sizes[1:])]


@pytest.mark.parametrize("cost", [network2.CrossEntropyCost(), network2.QuadraticCost()],
                         ids=["CrossEntropyCost()", "QuadraticCost()"])
def test_a_cost_instance_trains_compiled_and_is_saved_by_name(cost, monkeypatch, tmp_path):
    rng = np.random.default_rng(6)
    train = make_data(SIZES, 30, rng)
    np.random.seed(2)
    random.seed(3)
    by_class = network2.Network(SIZES, cost=type(cost))
    by_class.SGD(list(train), 2, 5, 0.5, lmbda=1.0)
    np.random.seed(2)
    random.seed(3)
    with _numpy_kernels_forbidden(monkeypatch):
        by_instance = network2.Network(SIZES, cost=cost)
        by_instance.SGD(list(train), 2, 5, 0.5, lmbda=1.0)
        assert by_instance.total_cost(train, 1.0) == by_class.total_cost(train, 1.0)
    for a, b in zip(by_instance.weights + by_instance.biases, by_class.weights + by_class.biases):
        np.testing.assert_array_equal(a, b)          # the same compiled path: the same bits
    by_instance.save(str(tmp_path / "n.json"))
    assert json.loads((tmp_path / "n.json").read_text())["cost"] == type(cost).__name__
    assert network2.load(str(tmp_path / "n.json")).cost is type(cost)


def test_which_costs_are_compiled():
    class Same(network2.CrossEntropyCost):
        pass

    class OwnDelta(network2.CrossEntropyCost):
        @staticmethod
        def delta(z, a, y):
            return 2 * (a - y)

    instance = network2.QuadraticCost()
    instance.fn = lambda a, y: 0.0
    assert builtin_cost(network2.CrossEntropyCost) is network2.CrossEntropyCost
    assert builtin_cost(network2.CrossEntropyCost()) is network2.CrossEntropyCost
    assert builtin_cost(Same) is builtin_cost(Same()) is network2.CrossEntropyCost
    assert builtin_cost(OwnDelta) is None and builtin_cost(OwnDelta()) is None
    assert builtin_cost(instance) is None
    assert builtin_cost(book.CrossEntropyCost) is None      # same formulas, but the user's class


def _user_costs():
    class HalfCrossEntropy:
        @staticmethod
        def fn(a, y):
            return 0.5 * book.CrossEntropyCost.fn(a, y)

        @staticmethod
        def delta(z, a, y):
            return 0.5 * (a - y)

    class ScaledDelta(network2.CrossEntropyCost):
        def delta(self, z, a, y):             # an instance method: used through an instance
            return 0.25 * (a - y)

    return [(HalfCrossEntropy(), r"cost HalfCrossEntropy\(\) is not compiled"),
            (ScaledDelta(), r"cost ScaledDelta\(\) \(it overrides CrossEntropyCost.delta\) "
                            r"is not compiled")]


@pytest.mark.parametrize("index", [0, 1], ids=["user instance", "subclass overriding delta"])
def test_users_own_costs_run_through_numpy_with_a_warning_naming_them(index):
    cost, message = _user_costs()[index]
    rng = np.random.default_rng(7)
    train = make_data(SIZES, 20, rng)
    np.random.seed(1)
    random.seed(2)
    ours = network2.Network(SIZES, cost=cost, backend="cython")
    with pytest.warns(UserWarning, match=message):
        ours.SGD(list(train), 2, 5, 0.5, lmbda=1.0)
    np.random.seed(1)
    random.seed(2)
    theirs = book.Network2(SIZES, cost=cost)
    with contextlib.redirect_stdout(io.StringIO()):
        theirs.SGD(list(train), 2, 5, 0.5, lmbda=1.0)
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) < 1e-12
    assert ours.total_cost(train, 1.0) == pytest.approx(theirs.total_cost(train, 1.0), rel=1e-12)


def test_overrides_are_decided_once_per_class():
    class A(network.Network):
        def backprop(self, x, y):
            return super().backprop(x, y)

    class B(A):
        def evaluate(self, test_data):
            return super().evaluate(test_data)

    class C(network2.Network):
        def total_cost(self, data, lmbda, convert=False):
            return super().total_cost(data, lmbda, convert)

    assert network.Network._overrides == network2.Network._overrides == frozenset()
    assert A._overrides == {"backprop"} and B._overrides == {"backprop", "evaluate"}
    assert C._overrides == {"total_cost"}


def test_a_class_that_overrides_nothing_runs_compiled_and_says_nothing(monkeypatch):
    class Plain(network2.Network):
        def describe(self):
            return "mine"

    rng = np.random.default_rng(8)
    train = make_data(SIZES, 20, rng)
    evaluation = make_data(SIZES, 6, rng, labels=True)
    with _numpy_kernels_forbidden(monkeypatch):
        net = Plain(SIZES, seed=1)
        net.SGD(list(train), 2, 5, 0.5, evaluation_data=evaluation, monitor_evaluation_cost=True,
                monitor_evaluation_accuracy=True, monitor_training_cost=True,
                monitor_training_accuracy=True)
    other = network2.Network(SIZES, seed=1)
    other.SGD(list(train), 2, 5, 0.5, evaluation_data=evaluation, monitor_evaluation_cost=True,
              monitor_evaluation_accuracy=True, monitor_training_cost=True,
              monitor_training_accuracy=True)
    for a, b in zip(net.weights + net.biases, other.weights + other.biases):
        np.testing.assert_array_equal(a, b)


def test_overriding_a_monitor_keeps_training_compiled_without_a_warning(monkeypatch):
    class Watching(network.Network):
        seen = 0

        def evaluate(self, test_data):
            self.seen += 1
            return super().evaluate(test_data)

    rng = np.random.default_rng(9)
    train = make_data(SIZES, 20, rng)
    test = make_data(SIZES, 6, rng, labels=True)
    with _numpy_kernels_forbidden(monkeypatch), contextlib.redirect_stdout(io.StringIO()):
        net = Watching(SIZES, seed=1)
        net.SGD(list(train), 3, 5, 3.0, test_data=test)
    assert net.seen == 3


def test_the_warning_names_the_method_and_its_cost_once_per_class():
    class Counting(network.Network):
        def backprop(self, x, y):
            return super().backprop(x, y)

    train = make_data(SIZES, 10, np.random.default_rng(0))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):
            net = Counting(SIZES, seed=0)
            with contextlib.redirect_stdout(io.StringIO()):
                net.SGD(list(train), 2, 5, 1.0)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "Counting overrides backprop" in messages[0]
    assert "update_mini_batch calls it for every example from Python" in messages[0]
    assert Counting in _engine._warned_classes


def test_inside_an_override_the_parameters_are_current_and_what_it_writes_is_kept(backend):
    """update_mini_batch sees the parameters of the step before; an evaluate that
    changes them (here: halves the weights) is what training continues from."""
    def make(base):
        class Meddling(base):
            def update_mini_batch(self, mini_batch, eta):
                self.seen.append(self.weights[0].copy())
                return super().update_mini_batch(mini_batch, eta)

            def evaluate(self, test_data):
                self.weights = [0.5 * w for w in self.weights]
                self.biases[0][0, 0] = 1.0            # in place, too
                return super().evaluate(test_data)
        return Meddling

    rng = np.random.default_rng(10)
    train = make_data(SIZES, 21, rng)
    test = make_data(SIZES, 5, rng, labels=True)
    nets = []
    for cls, kwargs in ((make(network.Network), {"backend": backend}), (make(book.Network), {})):
        np.random.seed(11)
        random.seed(12)
        net = cls(SIZES, **kwargs)
        net.seen = []
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net.SGD(list(train), 3, 7, 3.0, test_data=test)
        nets.append(net)
    ours, theirs = nets
    assert len(ours.seen) == len(theirs.seen) == 9
    assert max_rel_diff(ours.seen, theirs.seen) <= 1e-10
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) <= 1e-10


def test_a_monitor_that_writes_the_parameters_is_honoured_in_network2(backend):
    def make(base):
        class Meddling(base):
            def accuracy(self, data, convert=False):
                for b in self.biases:
                    b *= 0.5                              # in place
                return super().accuracy(data, convert)
        return Meddling

    rng = np.random.default_rng(11)
    train = make_data(SIZES, 21, rng)
    evaluation = make_data(SIZES, 5, rng, labels=True)
    nets = []
    for cls, kwargs in ((make(network2.Network), {"backend": backend}), (make(book.Network2), {})):
        np.random.seed(13)
        random.seed(14)
        net = cls(SIZES, **kwargs)
        with contextlib.redirect_stdout(io.StringIO()):
            result = net.SGD(list(train), 3, 7, 0.5, lmbda=1.0, evaluation_data=evaluation,
                             monitor_evaluation_accuracy=True, monitor_training_accuracy=True)
        nets.append((net, result))
    (ours, got), (theirs, want) = nets
    assert got == want
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) <= 1e-10


def test_direct_calls_follow_the_book_too(backend):
    calls = {"backprop": 0, "feedforward": 0}

    def make(base):
        class Counting(base):
            def backprop(self, x, y):
                calls["backprop"] += 1
                return super().backprop(x, y)

            def feedforward(self, a):
                calls["feedforward"] += 1
                return super().feedforward(a)
        return Counting

    rng = np.random.default_rng(12)
    batch = make_data(SIZES, 6, rng)
    labelled = make_data(SIZES, 8, rng, labels=True)
    np.random.seed(1)
    ours = make(network2.Network)(SIZES, backend=backend)
    np.random.seed(1)
    theirs = make(book.Network2)(SIZES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.update_mini_batch(batch, 0.5, 1.0, 100)
        assert calls["backprop"] == 6
        theirs.update_mini_batch(batch, 0.5, 1.0, 100)
        assert calls["backprop"] == 12
        calls["feedforward"] = 0
        assert ours.accuracy(labelled) == theirs.accuracy(labelled)
        assert ours.accuracy(batch, convert=True) == theirs.accuracy(batch, convert=True)
        assert ours.total_cost(labelled, 1.0, convert=True) == pytest.approx(
            theirs.total_cost(labelled, 1.0, convert=True), rel=1e-12)
        assert calls["feedforward"] == 2 * (8 + 6 + 8)
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) <= 1e-12


def test_bad_input_is_refused_before_an_override_runs(backend):
    class Counting(network.Network):
        calls = 0

        def feedforward(self, a):
            self.calls += 1
            return super().feedforward(a)

        def backprop(self, x, y):
            self.calls += 1
            return super().backprop(x, y)

    net = Counting(SIZES, seed=0, backend=backend)
    before = [w.copy() for w in net.weights]
    good = make_data(SIZES, 4, np.random.default_rng(0), labels=True)
    with pytest.raises(ValueError, match=r"test_data\[3\]\[1\] is label 7"):
        net.evaluate(good[:3] + [(good[3][0], 7)])
    train = make_data(SIZES, 4, np.random.default_rng(0))
    train[2] = (train[2][0][:5], train[2][1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=r"mini_batch\[2\]\[0\]"):
            net.update_mini_batch(train, 1.0)
        with pytest.raises(ValueError, match=r"training_data\[2\]\[0\]"):
            net.SGD(train, 1, 2, 1.0)
    assert net.calls == 0
    for a, b in zip(net.weights, before):
        np.testing.assert_array_equal(a, b)


def test_a_users_cost_is_called_as_often_as_in_the_book(backend):
    """cost.delta once per example from backprop, cost.fn once per example from
    total_cost -- also when backprop is overridden and the mini-batch runs in Python."""
    def counting_cost():
        class Counted:
            calls = {"fn": 0, "delta": 0}

            @staticmethod
            def fn(a, y):
                Counted.calls["fn"] += 1
                return book.CrossEntropyCost.fn(a, y)

            @staticmethod
            def delta(z, a, y):
                Counted.calls["delta"] += 1
                return a - y
        return Counted

    class Overriding(network2.Network):
        def backprop(self, x, y):
            return super().backprop(x, y)

    rng = np.random.default_rng(13)
    train = make_data(SIZES, 20, rng)
    evaluation = make_data(SIZES, 6, rng, labels=True)
    flags = dict(evaluation_data=evaluation, monitor_evaluation_cost=True,
                 monitor_training_cost=True, monitor_training_accuracy=True)
    for cls in (network2.Network, Overriding):
        counts, params = [], []
        for Net, kwargs in ((cls, {"backend": backend}), (book.Network2, {})):
            cost = counting_cost()
            np.random.seed(2)
            random.seed(3)
            net = Net(SIZES, cost=cost, **kwargs)
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net.SGD(list(train), 2, 6, 0.5, lmbda=1.0, **flags)
            counts.append(dict(cost.calls))
            params.append(net.weights + net.biases)
        assert counts[0] == counts[1] == {"delta": 2 * 20, "fn": 2 * (20 + 6)}
        assert max_rel_diff(params[0], params[1]) <= 1e-10


def test_float32_networks_stay_float32_through_overrides():
    class Overriding(network.Network):
        def backprop(self, x, y):
            return super().backprop(x, y)

        def feedforward(self, a):
            return super().feedforward(a)

    rng = np.random.default_rng(14)
    train = make_data(SIZES, 20, rng)
    test = make_data(SIZES, 5, rng, labels=True)
    net = Overriding(SIZES, seed=0, dtype=np.float32)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.SGD(list(train), 2, 5, 3.0, test_data=test)
    assert all(a.dtype == np.float32 for a in net.weights + net.biases)


def test_progress_is_reported_alike_on_the_python_path():
    class Overriding(network.Network):
        def update_mini_batch(self, mini_batch, eta):
            return super().update_mini_batch(mini_batch, eta)

    train = make_data(SIZES, 47, np.random.default_rng(15))
    reports = []
    for cls in (network.Network, Overriding):
        seen = []
        net = cls(SIZES, seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net._sgd(list(train), 2, 5, 1.0, 0.0, lambda j, X, Y: None,
                     lambda done, total, seen=seen: seen.append((done, total)), 4,
                     step=lambda mini_batch, net=net: net.update_mini_batch(mini_batch, 1.0))
        reports.append(seen)
    assert reports[0] == reports[1] and reports[0][-1] == (47, 47) and len(reports[0]) > 4
