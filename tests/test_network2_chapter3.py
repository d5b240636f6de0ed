"""network2's chapter-3 options through the public API: LogLikelihoodCost, activation=,
SGD(mu=, regularization=, eta_schedule_n=), save/load, bad input, the command line."""
import json
import random

import numpy as np
import pytest

from cnet import network2
from cnet._engine import EtaSchedule

import book
from conftest import make_data, max_rel_diff

SIZES = [12, 8, 4]


def net_for(backend, seed=3, **kwargs):
    np.random.seed(seed)
    return network2.Network(SIZES, backend=backend, **kwargs)


def same(a_list, b_list):
    return all(np.array_equal(a, b) for a, b in zip(a_list, b_list))


def test_log_likelihood_network_gives_probabilities_and_trains(backend, capsys):
    rng = np.random.default_rng(0)
    train = make_data(SIZES, 40, rng)
    evaluation = make_data(SIZES, 30, rng, labels=True)
    net = net_for(backend, cost=network2.LogLikelihoodCost, activation="relu")
    out = net.feedforward(np.stack([x for x, _ in train[:5]], axis=1)[:, :, 0])
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out.sum(axis=0), 1.0, rtol=0, atol=1e-14)
    random.seed(1)
    ec, ea, tc, ta = net.SGD(train, 3, 5, 0.1, lmbda=1.0, evaluation_data=evaluation,
                             monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                             monitor_training_cost=True, monitor_training_accuracy=True)
    assert len(ec) == len(ea) == len(tc) == len(ta) == 3
    # the monitors are the mean −ln a_y plus the L2 term
    a = net.feedforward(np.stack([x for x, _ in evaluation], axis=1)[:, :, 0])
    want = np.mean([-np.log(a[y, k]) for k, (_, y) in enumerate(evaluation)])
    want += 0.5 * (1.0 / 30) * sum(np.sum(w ** 2) for w in net.weights)
    assert ec[-1] == pytest.approx(want, rel=1e-10)
    assert net.total_cost(evaluation, 1.0, convert=True) == pytest.approx(want, rel=1e-10)
    assert ea[-1] == net.accuracy(evaluation) == sum(int(np.argmax(a[:, k]) == y)
                                                      for k, (_, y) in enumerate(evaluation))


@pytest.mark.parametrize("options", [dict(cost=network2.LogLikelihoodCost, activation="relu"),
                                     dict(activation="tanh"), dict(mu=0.7, regularization="L1")],
                         ids=["softmax-relu", "tanh", "momentum-L1"])
def test_both_backends_train_alike(options, capsys):
    rng = np.random.default_rng(4)
    train = make_data(SIZES, 37, rng)
    nets = []
    sgd = {k: options[k] for k in ("mu", "regularization") if k in options}
    init = {k: v for k, v in options.items() if k not in sgd}
    for backend in ("cython", "numpy"):
        net = net_for(backend, **init)
        random.seed(3)
        net.SGD(list(train), 3, 5, 0.2, lmbda=0.5, **sgd)
        nets.append(net)
    assert max_rel_diff(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases) < 1e-11


def test_mu_zero_and_l2_are_the_plain_sgd_to_the_bit(backend, capsys):
    rng = np.random.default_rng(5)
    train = make_data(SIZES, 30, rng)
    results = []
    for extra in ({}, {"mu": 0.0, "regularization": "L2", "eta_schedule_n": 0}):
        net = net_for(backend)
        random.seed(9)
        net.SGD(list(train), 2, 4, 0.5, lmbda=1.0, **extra)
        results.append(net.weights + net.biases)
    assert same(*results)


def test_velocities_live_across_sgd_calls_and_reset_when_weights_are_replaced(backend, capsys):
    rng = np.random.default_rng(6)
    train = make_data(SIZES, 20, rng)
    whole, halves = net_for(backend), net_for(backend)
    assert whole.velocities is None
    random.seed(2)
    whole.SGD(list(train), 2, 5, 0.3, mu=0.5)
    random.seed(2)
    data = list(train)
    halves.SGD(data, 1, 5, 0.3, mu=0.5)
    vw, vb = halves.velocities
    assert [v.shape for v in vw] == [w.shape for w in halves.weights] and np.any(vw[0] != 0)
    halves.SGD(data, 1, 5, 0.3, mu=0.5)
    assert same(whole.weights + whole.biases, halves.weights + halves.biases)
    assert same(whole.velocities[0] + whole.velocities[1], halves.velocities[0] + halves.velocities[1])
    # a change in place keeps the velocities; a replaced array or list starts them at zero
    whole.weights[0][0, 0] += 0.1
    assert whole.velocities is not None
    whole.weights[1] = whole.weights[1].copy()
    assert whole.velocities is None
    halves.biases = [b.copy() for b in halves.biases]
    assert halves.velocities is None
    halves.default_weight_initializer()
    assert halves.velocities is None


def test_l1_total_cost_and_step(backend):
    rng = np.random.default_rng(7)
    data = make_data(SIZES, 15, rng)
    net = net_for(backend)
    l2 = net.total_cost(data, 2.0)
    l1 = net.total_cost(data, 2.0, regularization="L1")
    unregularised = net.total_cost(data, 0.0)
    assert l2 == pytest.approx(unregularised + 0.5 * (2.0 / 15) * sum(np.sum(w ** 2) for w in net.weights))
    assert l1 == pytest.approx(unregularised + (2.0 / 15) * sum(np.sum(np.abs(w)) for w in net.weights))


def test_schedule_halves_and_stops_at_the_right_epochs():
    s = EtaSchedule(1.0, 2)
    # improvements reset the count; two epochs without one halve η; seven halvings stop
    accuracies = [50, 60, 60, 60, 61, 61, 61] + [61] * 10
    got = [s.after_epoch(a) for a in accuracies]
    assert got == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625, 0.0625,
                   0.03125, 0.03125, 0.015625, 0.015625, None]
    assert s.eta == 1.0 / 128


def test_schedule_in_sgd_prints_each_epochs_eta_and_stops(backend, capsys):
    rng = np.random.default_rng(1)
    train = make_data(SIZES, 30, rng)
    evaluation = make_data(SIZES, 200, rng, labels=True)   # random labels: accuracy stalls
    net = net_for(backend)
    random.seed(2)
    _, accuracy, _, _ = net.SGD(list(train), 200, 10, 0.1, evaluation_data=evaluation,
                                monitor_evaluation_accuracy=True, eta_schedule_n=1)
    out = capsys.readouterr().out
    etas = [float(line.split(": ")[1]) for line in out.splitlines() if line.startswith("Learning rate")]
    assert len(etas) == len(accuracy) < 200
    assert etas[0] == 0.1 and min(etas) == 0.1 / 64 and etas == sorted(etas, reverse=True)
    # each halving follows an epoch whose accuracy was no better than the best before it
    for j in range(1, len(etas)):
        if etas[j] < etas[j - 1]:
            assert accuracy[j - 1] <= max(accuracy[:j - 1])
    assert "Epoch 0 training complete\nLearning rate: 0.1\nAccuracy on evaluation data" in out


@pytest.mark.parametrize("options", [dict(cost=network2.LogLikelihoodCost),
                                     dict(activation="tanh"),
                                     dict(cost=network2.LogLikelihoodCost, activation="relu")],
                         ids=["log-likelihood", "tanh", "log-likelihood-relu"])
def test_json_round_trip_of_every_option(backend, tmp_path, options):
    net = net_for(backend, **options)
    net.SGD(make_data(SIZES, 10, np.random.default_rng(0)), 1, 5, 0.1, mu=0.5)
    path = str(tmp_path / "net.json")
    net.save(path)
    data = json.load(open(path))
    assert data["cost"] == getattr(options.get("cost"), "__name__", "CrossEntropyCost")
    assert data.get("activation", "sigmoid") == options.get("activation", "sigmoid")
    assert "velocities" not in json.dumps(list(data))
    loaded = network2.load(path)
    assert loaded.cost is options.get("cost", network2.CrossEntropyCost)
    assert loaded.activation == options.get("activation", "sigmoid")
    assert same(loaded.weights + loaded.biases, net.weights + net.biases)
    assert loaded.velocities is None                       # not saved
    x = np.random.default_rng(1).random((12, 3))
    np.testing.assert_allclose(loaded.feedforward(x), net.feedforward(x), rtol=1e-13)


def test_the_books_load_reads_a_file_with_an_activation_and_ours_reads_one_without(tmp_path):
    net = net_for("cython", activation="tanh")
    path = str(tmp_path / "tanh.json")
    net.save(path)
    theirs = book.load(path)                 # ignores the key it does not know
    assert same(theirs.weights + theirs.biases, net.weights + net.biases)
    data = json.load(open(path))
    del data["activation"]
    with open(path, "w") as f:
        json.dump(data, f)
    assert network2.load(path).activation == "sigmoid"
    data["activation"] = "softplus"
    with open(path, "w") as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match="activation"):
        network2.load(path)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(mu=1.0), ValueError, "mu"), (dict(mu=-0.1), ValueError, "mu"),
    (dict(mu="0.5"), TypeError, "mu"), (dict(regularization="L3"), ValueError, "regularization"),
    (dict(regularization=None), ValueError, "regularization"), (dict(lmbda=-1.0), ValueError, "lmbda"),
    (dict(eta_schedule_n=2), ValueError, "eta_schedule_n"),
    (dict(eta_schedule_n=-1), ValueError, "eta_schedule_n"),
    (dict(eta_schedule_n=1.5), TypeError, "eta_schedule_n"),
])
def test_bad_options_raise_before_anything_moves(backend, kwargs, error, words):
    train = make_data(SIZES, 10, np.random.default_rng(0))
    data = list(train)
    net = net_for(backend)
    before = [a.copy() for a in net.weights + net.biases]
    with pytest.raises(error, match=words):
        net.SGD(data, 2, 5, 0.1, **kwargs)
    assert same(before, net.weights + net.biases)
    assert all(a is b for a, b in zip(data, train))        # not shuffled either


def test_bad_activation_names_the_argument():
    with pytest.raises(ValueError, match="activation"):
        network2.Network(SIZES, activation="softplus")
    with pytest.raises(ValueError, match="activation"):
        network2.Network(SIZES, activation=None)
    net = network2.Network(SIZES)
    net.activation = "swish"
    with pytest.raises(ValueError, match="net.activation"):
        net.feedforward(np.zeros((12, 1)))


# ------------------------------------------------------------ the command line

def test_command_line_chapter_3(tmp_path):
    from test_cli import fake_mnist, run, write_fake_idx
    d = tmp_path / "mnist"
    d.mkdir()
    write_fake_idx(str(d), fake_mnist(n_train=10100, n_test=50), gz=False)
    saved = str(tmp_path / "net.json")
    r = run("train", "--epochs", "4", "--limit", "100", "--sizes", "784,20,10", "--seed", "3",
            "--data-dir", str(d), "--cost", "log-likelihood", "--activation", "relu", "--eta", "0.1",
            "--lmbda", "1", "--regularization", "L1", "--mu", "0.5", "--eta-schedule", "1",
            "--evaluate-on", "validation", "--monitor", "training-cost", "--monitor", "evaluation-cost",
            "--save", saved)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("cnet: [784, 20, 10] on 100 training images, 4 epochs, mini-batch 10, "
                               "eta 0.1, log-likelihood cost, relu hidden layers, L1 lmbda 1.0, mu 0.5")
    assert lines[1].startswith("Epoch 0: ") and " / 100 (" in lines[1] and lines[1].endswith("eta 0.1")
    assert lines[2].startswith("Cost on training data: ") and lines[3].startswith("Cost on evaluation data: ")
    data = json.load(open(saved))
    assert data["cost"] == "LogLikelihoodCost" and data["activation"] == "relu"
    r = run("train", "--epochs", "30", "--limit", "100", "--data-dir", str(d), "--early-stopping", "2",
            "--seed", "1")
    assert r.returncode == 0, r.stderr
    assert len([line for line in r.stdout.splitlines() if line.startswith("Epoch")]) < 30
    for bad in (["--mu", "1"], ["--cost", "hinge"], ["--activation", "softplus"], ["--lmbda", "-1"],
                ["--regularization", "L3"], ["--eta-schedule", "-2"]):
        r = run("train", *bad)
        assert r.returncode == 2 and bad[0] in r.stderr and "Traceback" not in r.stderr


# ------------------------------------------------- subclasses that override methods

def test_an_overridden_backprop_runs_the_books_loop_with_the_activations(capsys):
    # The book's algorithm in Python around the override uses the network's activations
    # and softmax output: the same step as the compiled one, to rounding.
    class Counting(network2.Network):
        calls = 0

        def backprop(self, x, y):
            Counting.calls += 1
            return super().backprop(x, y)

    rng = np.random.default_rng(8)
    train = make_data(SIZES, 12, rng)
    results = []
    for cls in (network2.Network, Counting):
        np.random.seed(4)
        net = cls(SIZES, cost=network2.LogLikelihoodCost, activation="tanh")
        random.seed(4)
        with _no_check():
            net.SGD(list(train), 2, 4, 0.3, lmbda=0.5)
        results.append(net.weights + net.biases)
    assert Counting.calls == 24
    assert max_rel_diff(results[1], results[0]) < 1e-12


class _no_check:
    def __enter__(self):
        import warnings
        self.catch = warnings.catch_warnings()
        self.catch.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        self.catch.__exit__(*exc)


@pytest.mark.parametrize("kwargs", [dict(mu=0.5), dict(regularization="L1")])
def test_momentum_and_l1_with_an_overridden_step_say_so_before_anything_moves(kwargs):
    class Own(network2.Network):
        def update_mini_batch(self, mini_batch, eta, lmbda, n):
            return super().update_mini_batch(mini_batch, eta, lmbda, n)

    net = Own(SIZES)
    data = make_data(SIZES, 10, np.random.default_rng(0))
    before = [a.copy() for a in net.weights]
    with pytest.raises(ValueError, match="update_mini_batch"):
        net.SGD(list(data), 1, 5, 0.1, **kwargs)
    assert same(before, net.weights)
