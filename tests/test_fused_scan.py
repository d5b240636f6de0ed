"""The scan of labels over the caller's columns (``pack(..., columns=True)``, then
``cost_and_predict`` on the ``Columns``: what ``evaluate`` and ``accuracy`` run), which
packs the inputs a block at a time as it scans, against packing the whole list first:
the same labels, bit for bit, for any number of threads; the same errors, naming the
same example; and the caller's arrays held while the scan reads them."""
import gc
import weakref

import numpy as np
import pytest

from cnet._kernels.spec import dense_chain
from cnet import network, network2

from test_pack import BAD, MODULES, error_of, sparse_data

pytestmark = pytest.mark.skipif(not MODULES, reason="the compiled kernels are not built")
IDS = lambda K: K.__name__.rsplit(".", 1)[1]  # noqa: E731


def random_net(K, sizes, rng):
    dtype = np.float32 if K.__name__.endswith("_f32") else np.float64
    weights = [(rng.standard_normal((m, n)) * 2).astype(dtype) for n, m in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal((m, 1)).astype(dtype) for m in sizes[1:]]
    return weights, biases


def packed_labels(K, weights, biases, data, n_out, **layers):
    X, T = K.pack("data", data, weights[0].shape[1], n_out, True)
    spec = dense_chain([weights[0].shape[1]] + [w.shape[0] for w in weights], **layers)
    return K.cost_and_predict(weights, biases, X, None, None, 1, spec=spec)[1], T


def column_labels(K, weights, biases, data, n_out, threads, **layers):
    C, T = K.pack("data", data, weights[0].shape[1], n_out, True, columns=True)
    assert (C.n_rows, C.n_cols) == (len(data), weights[0].shape[1])
    spec = dense_chain([weights[0].shape[1]] + [w.shape[0] for w in weights], **layers)
    return K.cost_and_predict(weights, biases, C, None, None, threads, spec=spec)[1], T


@pytest.mark.parametrize("K", MODULES, ids=IDS)
def test_the_labels_are_the_packed_scans_for_any_number_of_threads(K):
    rng = np.random.default_rng(11)
    cases = [([9, 5, 3], {}), ([784, 30, 10], {}), ([17, 12, 8, 4], {}),
             ([9, 6, 3], dict(activation="relu", output="softmax")), ([9, 6, 3], dict(activation="tanh"))]
    for sizes, layers in cases:
        n_in, n_out = sizes[0], sizes[-1]
        for n in (1, 15, 16, 17, 511, 512, 513, 1100):
            data = sparse_data(rng, n, n_in, n_out, True, [np.float32, np.float64][n % 2])
            # strided and float64 columns mixed in, as the caller's list may hold them
            data[0] = (np.repeat(data[0][0], 3, axis=1)[:, 1:2], data[0][1])
            data[-1] = (data[-1][0].astype(np.float64), data[-1][1])
            weights, biases = random_net(K, sizes, rng)
            want, want_T = packed_labels(K, weights, biases, data, n_out, **layers)
            for threads in (1, 2, 3):
                got, got_T = column_labels(K, weights, biases, data, n_out, threads, **layers)
                np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(got_T, want_T)
    assert column_labels(K, weights, biases, [], n_out, 2)[0].shape == (0,)


@pytest.mark.parametrize("K", MODULES, ids=IDS)
@pytest.mark.parametrize("density", [0.6, 1.0])
def test_dense_blocks_are_scanned_in_parts_with_the_same_labels(K, density):
    # a thread's rows hold 256 dense inputs' entries: a block of 512 denser ones is
    # packed and scanned in two or three parts, with a non-finite input in the second
    rng = np.random.default_rng(12)
    data = [((rng.standard_normal((40, 1)) * (rng.random((40, 1)) < density)).astype(np.float32), int(y))
            for y in rng.integers(0, 3, 1300)]
    weights, biases = random_net(K, [40, 7, 3], rng)
    want, _ = packed_labels(K, weights, biases, data, 3)
    for threads in (1, 2):
        np.testing.assert_array_equal(column_labels(K, weights, biases, data, 3, threads)[0], want)
    data[300] = (np.full((40, 1), np.inf, np.float32), data[300][1])
    data[900] = (np.full((40, 1), np.nan, np.float32), data[900][1])
    want = error_of(lambda: packed_labels(K, weights, biases, data, 3))
    assert "data[300][0]" in want[1]
    for threads in (1, 2):
        assert error_of(lambda t=threads: column_labels(K, weights, biases, data, 3, t)) == want


@pytest.mark.parametrize("K", MODULES, ids=IDS)
@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_the_errors_are_packs(K, case):
    # every spoiled list of test_pack's, its examples (x, label) pairs
    data = sparse_data(np.random.default_rng(5), 12, 9, 3, True)
    case[2](data)
    weights, biases = random_net(K, [9, 4, 3], np.random.default_rng(1))
    want = packed = error_of(lambda: packed_labels(K, weights, biases, data, 3))
    if want is None:
        packed = packed_labels(K, weights, biases, data, 3)[0]
    for threads in (1, 2):
        got = error_of(lambda t=threads: column_labels(K, weights, biases, data, 3, t))
        assert got == want
        if want is None:
            np.testing.assert_array_equal(column_labels(K, weights, biases, data, 3, threads)[0], packed)


@pytest.mark.parametrize("K", MODULES, ids=IDS)
@pytest.mark.parametrize("bad", [[0], [15], [16], [600], [1100], [511, 1030], [1030, 511, 512], [512, 5]])
def test_a_non_finite_input_is_named_by_the_first_in_list_order(K, bad):
    # 1,101 examples: three blocks of 512 rows, each packed and scanned by the thread that takes it
    data = sparse_data(np.random.default_rng(2), 1101, 9, 3, True)
    for k in bad:
        data[k] = (np.full((9, 1), [np.nan, np.inf][k % 2], [np.float32, np.float64][k % 3 % 2]), data[k][1])
    weights, biases = random_net(K, [9, 4, 3], np.random.default_rng(1))
    want = error_of(lambda: packed_labels(K, weights, biases, data, 3))
    assert want is not None and "data[{}][0]".format(min(bad)) in want[1]
    for threads in (1, 2, 3):
        assert error_of(lambda t=threads: column_labels(K, weights, biases, data, 3, t)) == want


@pytest.mark.parametrize("K", MODULES, ids=IDS)
def test_the_columns_hold_the_callers_arrays(K):
    data = sparse_data(np.random.default_rng(4), 40, 9, 3, True)
    weights, biases = random_net(K, [9, 4, 3], np.random.default_rng(1))
    want = packed_labels(K, weights, biases, data, 3)[0]
    C, _ = K.pack("data", data, 9, 3, True, columns=True)
    refs = [weakref.ref(x) for x, _ in data]
    del data
    gc.collect()
    assert all(r() is not None for r in refs)
    np.testing.assert_array_equal(K.cost_and_predict(weights, biases, C, None, None, 2,
                                                     spec=dense_chain([9, 4, 3]))[1], want)
    del C
    gc.collect()
    assert all(r() is None for r in refs)


@pytest.mark.parametrize("module", [network, network2])
@pytest.mark.parametrize("threads", [1, 2])
def test_evaluate_counts_and_raises_as_the_packed_path(module, threads):
    rng = np.random.default_rng(8)
    data = sparse_data(rng, 600, 20, 4, True, np.float32)
    net = module.Network([20, 8, 4])
    net.num_threads = threads
    count = net.correct_counter(data)       # packs the list, once
    score = net.evaluate if module is network else net.accuracy
    assert score(data) == count()
    data[400] = (np.full((20, 1), np.nan, np.float32), data[400][1])
    name = "test_data" if module is network else "data"
    with pytest.raises(ValueError, match=r"{}\[400\]\[0\] contains NaN or infinity".format(name)):
        score(data)


@pytest.mark.parametrize("module", [network, network2])
def test_evaluate_makes_no_packed_copy_of_the_list(module):
    # 3,000 inputs with ~550 non-zero pixels each: a packed copy is 3000 · 550 · 12 bytes,
    # about 20 MB; the scan of the columns holds one block of 512 rows per thread
    import tracemalloc
    rng = np.random.default_rng(9)
    data = sparse_data(rng, 3000, 784, 10, True, np.float32)
    data = [(np.where(x != 0, x, rng.random(x.shape, dtype=np.float32) * (rng.random(x.shape) < 0.5)), y)
            for x, y in data]
    nonzero = sum(int(np.count_nonzero(x)) for x, _ in data)
    net = module.Network([784, 30, 10])
    score = net.evaluate if module is network else net.accuracy
    want = net.correct_counter(data)()
    tracemalloc.start()
    try:
        got = score(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got == want
    assert peak < nonzero * 12 / 3
