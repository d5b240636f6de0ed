"""network3 on threads: a step's examples, then its weights' rows, shared among
1-3 threads give the same bits as one thread with the compiled kernels (the
dropout masks too); the NumPy kernels agree to rounding; the thread count is
checked; the parts really run on other threads."""
import contextlib
import io
import threading

import numpy as np
import pytest

from cnet import _kernels, _workers, network3

compiled = pytest.mark.skipif(_kernels.compiled is None, reason="the compiled kernels are not built")


pytestmark = pytest.mark.usefixtures("restore_floatx")


def layers(m):
    # 9x9 images; 3 filters 2x2 pooled 2x2 to 4x4; a dropout FC layer; a dropout softmax
    return [network3.ConvPoolLayer(filter_shape=(3, 1, 2, 2), image_shape=(m, 1, 9, 9), poolsize=(2, 2),
                                   activation_fn=network3.ReLU),
            network3.FullyConnectedLayer(n_in=3 * 4 * 4, n_out=7, activation_fn=network3.sigmoid, p_dropout=0.3),
            network3.SoftmaxLayer(n_in=7, n_out=4, p_dropout=0.2)]


def trained(threads, dtype, m=5, backend="cython", epochs=2):
    """The parameters (as bytes) and test predictions of a net trained on ``threads``."""
    network3.floatX = dtype
    rng = np.random.default_rng(7)
    x, y = rng.random((23, 81)), rng.integers(0, 4, 23)
    np.random.seed(3)
    net = network3.Network(layers(m), m, seed=11, backend=backend, num_threads=threads)
    with contextlib.redirect_stdout(io.StringIO()):
        net.SGD((x, y), epochs, m, 0.5, (x[:10], y[:10]), (x[10:], y[10:]), lmbda=0.3)
    return [p.get_value().copy() for p in net.params], net.predict(x)


@compiled
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m", [5, 2])
def test_any_thread_count_gives_one_threads_bits(dtype, m):
    # mini-batch 5 splits unevenly; mini-batch 2 leaves a third thread without examples
    params, predictions = trained(1, dtype, m)
    for threads in (2, 3):
        other, other_predictions = trained(threads, dtype, m)
        for l, (a, b) in enumerate(zip(params, other)):
            assert a.dtype == b.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8),
                                          err_msg="params[{}], {} threads".format(l, threads))
        np.testing.assert_array_equal(predictions, other_predictions)


def test_the_numpy_kernels_on_threads_agree_with_one_thread():
    params, predictions = trained(1, "float64", backend="numpy")
    other, other_predictions = trained(3, "float64", backend="numpy")
    for a, b in zip(params, other):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(predictions, other_predictions)


def test_training_moves_the_weights():
    # the comparisons above would hold for a net that never trained
    network3.floatX = "float64"
    np.random.seed(3)
    before = [p.get_value().copy() for p in network3.Network(layers(5), 5).params]
    after, _ = trained(2, "float64", backend="numpy")
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("bad, error, match", [
    (0, ValueError, r"num_threads must be at least 1, got 0"),
    (2.5, TypeError, r"num_threads must be an integer"),
    ("2", TypeError, r"num_threads must be an integer")])
def test_a_bad_thread_count_is_refused_naming_it(bad, error, match):
    network3.floatX = "float64"
    with pytest.raises(error, match=match):
        network3.Network(layers(5), 5, num_threads=bad)


def test_the_thread_count_defaults_to_cnet_num_threads(monkeypatch):
    network3.floatX = "float64"
    monkeypatch.setenv("CNET_NUM_THREADS", "3")
    assert network3.Network(layers(5), 5).num_threads == 3
    monkeypatch.delenv("CNET_NUM_THREADS")
    assert network3.Network(layers(5), 5).num_threads == 1


def test_parts_run_at_once_on_other_threads_in_order():
    barrier = threading.Barrier(3, timeout=10)   # only passes if all three parts run at once

    def part(j):
        barrier.wait()
        return j, threading.current_thread().name

    results = _workers.run(part, [(0,), (1,), (2,)])
    assert [j for j, _ in results] == [0, 1, 2]
    assert results[0][1] == threading.current_thread().name
    assert len({name for _, name in results}) == 3


def test_a_failing_part_raises_after_every_part_is_done():
    done = []

    def part(j):
        if j == 1:
            raise ValueError("part 1 failed")
        threading.Event().wait(0.05)
        done.append(j)

    with pytest.raises(ValueError, match="part 1 failed"):
        _workers.run(part, [(0,), (1,), (2,)])
    assert sorted(done) == [0, 2]


@pytest.mark.parametrize("n, parts", [(10, 1), (10, 3), (2, 3), (0, 2), (7, 7)])
def test_spans_cover_the_items_in_order_evenly(n, parts):
    spans = _workers.spans(n, parts)
    assert [i for a, b in spans for i in range(a, b)] == list(range(n))
    assert len(spans) == max(1, min(parts, n))
    assert max(b - a for a, b in spans) - min(b - a for a, b in spans) <= 1
