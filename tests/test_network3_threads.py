"""network3 on threads: the compiled kernels share each call among 1-3 threads
and give one thread's bits (the dropout masks too), also when two Python
threads train at once; the NumPy kernels, on one thread whatever the count,
give the same bits too; the thread count is checked.  (The kernels' thread
parts themselves: test_conv_kernels.py.)"""
import contextlib
import io
import threading

import numpy as np
import pytest

from cnet import _kernels, network3

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


def test_the_numpy_kernels_give_one_threads_bits_for_any_count():
    params, predictions = trained(1, "float64", backend="numpy")
    other, other_predictions = trained(3, "float64", backend="numpy")
    for a, b in zip(params, other):
        assert a.tobytes() == b.tobytes()
    np.testing.assert_array_equal(predictions, other_predictions)


@compiled
def test_two_python_threads_training_at_once_each_get_one_threads_bits():
    # one crew per process: a call made while the other thread's runs takes its parts in turn
    params, _ = trained(1, "float64", epochs=3)
    results = [None, None]

    def train(j):
        results[j] = trained(2, "float64", epochs=3)[0]

    threads = [threading.Thread(target=train, args=(j,)) for j in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in results:
        assert [a.tobytes() for a in other] == [a.tobytes() for a in params]


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
