"""cnet.network2 against the book's network2.py."""
import json
import random

import numpy as np
import pytest

from cnet import network2

import book
from conftest import make_data, max_rel_diff

SIZES = [12, 8, 4]


def pair(backend, cost_name="CrossEntropyCost", seed=3):
    np.random.seed(seed)
    ours = network2.Network(SIZES, cost=getattr(network2, cost_name), backend=backend)
    np.random.seed(seed)
    theirs = book.Network2(SIZES, cost=getattr(book, cost_name))
    return ours, theirs


def test_initialisers_are_the_books(backend):
    ours, theirs = pair(backend)
    for a, b in zip(ours.weights + ours.biases, theirs.weights + theirs.biases):
        np.testing.assert_array_equal(a, b)
    np.random.seed(0)
    ours.large_weight_initializer()
    np.random.seed(0)
    want = [np.random.randn(y, 1) for y in SIZES[1:]] + \
        [np.random.randn(y, x) for x, y in zip(SIZES[:-1], SIZES[1:])]
    for a, b in zip(ours.biases + ours.weights, want):
        np.testing.assert_array_equal(a, b)


def split_lines(out):
    """The printed lines, with each number parsed, so that costs compare to rounding."""
    rows = []
    for line in out.splitlines():
        head, _, tail = line.partition(": ")
        rows.append((head, [float(t) for t in tail.split(" / ")] if tail else []))
    return rows


@pytest.mark.parametrize("cost_name", ["CrossEntropyCost", "QuadraticCost"])
def test_sgd_with_all_monitors_is_the_books(backend, cost_name, capsys):
    rng = np.random.default_rng(0)
    train = make_data(SIZES, 50, rng)
    evaluation = make_data(SIZES, 20, rng, labels=True)
    ours, theirs = pair(backend, cost_name)
    flags = dict(monitor_evaluation_cost=True, monitor_evaluation_accuracy=True,
                 monitor_training_cost=True, monitor_training_accuracy=True)
    random.seed(5)
    got = ours.SGD(list(train), 3, 6, 0.5, lmbda=2.0, evaluation_data=evaluation, **flags)
    our_out = capsys.readouterr().out
    random.seed(5)
    want = theirs.SGD(list(train), 3, 6, 0.5, lmbda=2.0, evaluation_data=evaluation, **flags)
    their_out = capsys.readouterr().out
    assert len(got) == 4 and all(len(lst) == 3 for lst in got)
    for g, w in zip(got, want):
        assert g == pytest.approx(w, rel=1e-10)
    assert [type(a) for a in got[1] + got[3]] == [int] * 6
    ours_rows, theirs_rows = split_lines(our_out), split_lines(their_out)
    assert [h for h, _ in ours_rows] == [h for h, _ in theirs_rows]
    assert ours_rows[:6] == [("Epoch 0 training complete", []),
                             ("Cost on training data", [pytest.approx(theirs_rows[1][1][0], rel=1e-10)]),
                             ("Accuracy on training data", theirs_rows[2][1]),
                             ("Cost on evaluation data", [pytest.approx(theirs_rows[3][1][0], rel=1e-10)]),
                             ("Accuracy on evaluation data", theirs_rows[4][1]), ("", [])]
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) < 1e-11


def test_monitors_off_give_empty_lists_and_one_line_per_epoch(backend, capsys):
    ours, _ = pair(backend)
    result = ours.SGD(make_data(SIZES, 10, np.random.default_rng(0)), 2, 5, 0.5)
    assert result == ([], [], [], [])
    assert capsys.readouterr().out == "Epoch 0 training complete\n\nEpoch 1 training complete\n\n"


def test_early_stopping(backend, capsys):
    rng = np.random.default_rng(1)
    train = make_data(SIZES, 30, rng)
    evaluation = make_data(SIZES, 200, rng, labels=True)  # random labels: accuracy stalls
    ours, theirs = pair(backend)
    random.seed(2)
    got = ours.SGD(list(train), 40, 10, 0.1, evaluation_data=evaluation,
                   monitor_evaluation_accuracy=True, early_stopping_n=3)
    random.seed(2)
    want = theirs.SGD(list(train), 40, 10, 0.1, evaluation_data=evaluation,
                      monitor_evaluation_accuracy=True, early_stopping_n=3)
    assert got[1] == want[1]
    assert 3 <= len(got[1]) < 40


def test_early_stopping_needs_evaluation_data(backend):
    ours, _ = pair(backend)
    with pytest.raises(ValueError, match="evaluation_data"):
        ours.SGD(make_data(SIZES, 10, np.random.default_rng(0)), 2, 5, 0.5, early_stopping_n=2)


def test_update_accuracy_total_cost_are_the_books(backend):
    rng = np.random.default_rng(3)
    ours, theirs = pair(backend)
    batch = make_data(SIZES, 7, rng)
    ours.update_mini_batch(batch, 0.5, 3.0, 100)
    theirs.update_mini_batch(batch, 0.5, 3.0, 100)
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) < 1e-13
    onehot = make_data(SIZES, 40, rng)
    labelled = make_data(SIZES, 40, rng, labels=True)
    assert ours.accuracy(onehot, convert=True) == theirs.accuracy(onehot, convert=True)
    assert ours.accuracy(labelled) == theirs.accuracy(labelled)
    assert ours.total_cost(onehot, 2.0) == pytest.approx(theirs.total_cost(onehot, 2.0), rel=1e-12)
    assert ours.total_cost(labelled, 2.0, convert=True) == pytest.approx(
        theirs.total_cost(labelled, 2.0, convert=True), rel=1e-12)
    np.testing.assert_array_equal(network2.vectorized_result(3), book.vectorized_result(3))


def test_user_defined_cost_runs_through_numpy_with_one_notice(backend, recwarn):
    class HalfCrossEntropy:
        @staticmethod
        def fn(a, y):
            return 0.5 * book.CrossEntropyCost.fn(a, y)

        @staticmethod
        def delta(z, a, y):
            return 0.5 * (a - y)

    np.random.seed(1)
    ours = network2.Network(SIZES, cost=HalfCrossEntropy, backend=backend)
    np.random.seed(1)
    theirs = book.Network2(SIZES, cost=HalfCrossEntropy)
    data = make_data(SIZES, 20, np.random.default_rng(0))
    random.seed(0)
    ours.SGD(list(data), 2, 5, 0.5, lmbda=1.0)
    random.seed(0)
    theirs.SGD(list(data), 2, 5, 0.5, lmbda=1.0)
    assert max_rel_diff(ours.weights + ours.biases, theirs.weights + theirs.biases) < 1e-12
    assert ours.total_cost(data, 1.0) == pytest.approx(theirs.total_cost(data, 1.0), rel=1e-12)
    notices = [w for w in recwarn if "not compiled" in str(w.message)]
    assert len(notices) == (1 if backend == "cython" else 0)


def test_save_load_round_trip(backend, tmp_path):
    ours, _ = pair(backend, "QuadraticCost")
    path = tmp_path / "net.json"
    ours.save(str(path))
    loaded = network2.load(str(path))
    assert loaded.sizes == SIZES and loaded.cost is network2.QuadraticCost
    for a, b in zip(loaded.weights + loaded.biases, ours.weights + ours.biases):
        np.testing.assert_array_equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]  # no temporary left behind


def test_files_of_the_book_load_and_ours_load_in_the_book(backend, tmp_path):
    _, theirs = pair(backend)
    path = tmp_path / "book.json"
    theirs.save(str(path))
    loaded = network2.load(str(path))
    assert loaded.cost is network2.CrossEntropyCost
    for a, b in zip(loaded.weights + loaded.biases, theirs.weights + theirs.biases):
        np.testing.assert_array_equal(a, b)
    # and the reverse: the book's load() reads the same four keys
    ours_path = tmp_path / "ours.json"
    loaded.save(str(ours_path))
    data = json.loads(ours_path.read_text())
    assert set(data) == {"sizes", "weights", "biases", "cost"} and data["cost"] == "CrossEntropyCost"
    assert np.array(data["weights"][0]).shape == (8, 12) and np.array(data["biases"][1]).shape == (4, 1)


def test_a_hand_written_file_in_the_books_format(tmp_path):
    path = tmp_path / "hand.json"
    path.write_text('{"sizes": [2, 1], "weights": [[[0.5, -1]]], "biases": [[[2]]], '
                    '"cost": "QuadraticCost"}')
    net = network2.load(str(path))
    np.testing.assert_array_equal(net.weights[0], [[0.5, -1.0]])
    assert net.feedforward(np.array([[2.0], [1.0]]))[0, 0] == pytest.approx(1 / (1 + np.exp(-2.0)))


GOOD = {"sizes": [2, 1], "weights": [[[0.5, -1]]], "biases": [[[2]]], "cost": "QuadraticCost"}


@pytest.mark.parametrize("text, message", [
    ("not json at all", "invalid JSON"),
    ("[1, 2]", "JSON object"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "biases"}), "no 'biases' key"),
    (json.dumps(dict(GOOD, cost="os.system")), "unknown cost"),
    (json.dumps(dict(GOOD, cost="__import__")), "unknown cost"),
    (json.dumps(dict(GOOD, sizes=[3, 1])), r"weights\[0\] has shape \(1, 2\); expected \(1, 3\)"),
    (json.dumps(dict(GOOD, sizes=[2])), "sizes"),
    (json.dumps(dict(GOOD, weights=[[[0.5, "x"]]])), "not numbers"),
    (json.dumps(dict(GOOD, weights=[[[0.5, True]]])), "not numbers"),
    (json.dumps(dict(GOOD, weights=[[[0.5], [1, 2]]])), "rectangular"),
    (json.dumps(dict(GOOD, biases=[[[2]], [[1]]])), "biases must be a list of 1"),
    ('{"sizes": [2, 1], "weights": [[[NaN, 1]]], "biases": [[[2]]], "cost": "QuadraticCost"}', "finite"),
    (b"\xff\xfe\x00garbage", "invalid JSON"),
    (json.dumps(dict(GOOD, weights=[[[10 ** 400, 1]]])), "too large"),
    ("[" * 100000 + "]" * 100000, "invalid JSON"),
])
def test_bad_files(tmp_path, text, message):
    path = tmp_path / "bad.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(ValueError, match=message):
        network2.load(str(path))


def test_monitoring_the_cost_of_nothing_is_refused_up_front(backend):
    ours, _ = pair(backend)
    before = [a.copy() for a in ours.weights]
    with pytest.raises(ValueError, match="training_data is empty"):
        ours.SGD([], 1, 5, 0.5, monitor_training_cost=True)
    with pytest.raises(ValueError, match="evaluation_data is empty"):
        ours.SGD(make_data(SIZES, 10, np.random.default_rng(0)), 1, 5, 0.5, evaluation_data=[],
                 monitor_evaluation_cost=True)
    for a, b in zip(ours.weights, before):
        np.testing.assert_array_equal(a, b)
