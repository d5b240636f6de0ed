"""The labels of a scan without targets (``cost_and_predict(..., None, ...)``, what
``evaluate`` and ``predict`` call) against those of the full scan with targets: with a
sigmoid output layer the former computes σ(z_L[j]) only for the j that can be the first
maximum (sigmoid_argmax, _functions.pxi), and must find the same label -- the first
maximum of the sigmoids, also where they round to equal values -- in every compiled
module."""
import numpy as np
import pytest

from cnet._kernels.spec import dense_chain
from cnet.functions import QuadraticCost

from test_pack import MODULES

pytestmark = pytest.mark.skipif(not MODULES, reason="the compiled kernels are not built")


def dtype_of(K):
    return np.float32 if K.__name__.endswith("_f32") else np.float64


def both_labels(K, weights, biases, X, threads=1):
    # (labels without targets, labels of the full scan with targets)
    P = K.prepare(X)
    Y = np.zeros((len(X), weights[-1].shape[0]))
    spec = dense_chain([weights[0].shape[1]] + [w.shape[0] for w in weights])
    return (K.cost_and_predict(weights, biases, P, None, None, threads, spec=spec)[1],
            K.cost_and_predict(weights, biases, P, Y, QuadraticCost, threads, spec=spec)[1])


def output_sums(K, Z):
    # a one-layer network whose z_L is row e of Z for input e: w = I, b = 0, x = Z[e]
    # (z_j = 0 + Z[e, j] · 1, the other inputs' terms being 0)
    dtype = dtype_of(K)
    n = Z.shape[1]
    return [np.eye(n, dtype=dtype)], [np.zeros((n, 1), dtype=dtype)], np.ascontiguousarray(Z, dtype=dtype)


def designed_rows(dtype):
    rng = np.random.default_rng(5)
    big = 60.0                       # σ rounds to 1 in both precisions
    rows = [
        [big, big + 1, big + 2, 0, -1, 1, 2, 3, 4, 5],          # all of the first three σ = 1: label 0
        [0, 1, big + 5, 2, big, big + 9, -3, big + 1, 0, 0],    # σ = 1 at 2, 4, 5, 7: label 2
        [19.5, 19.75, 20.0, 20.5, 21, -5, 0, 0, 0, 0],          # around the bound m ≤ 20
        [-19.5, -20.0, -20.5, -21, -30, -40, -19.9, -25, -50, -60],   # around m ≥ −20
        [-800, -900, -750, -710, -1e30, -760, -800, -720, -1e5, -1e4],  # every σ underflows to 0
        [5, -1e30, -800, -90, -700, 4.999, 0, 0, 0, 0],         # underflowing σ next to a large one
        [3, 3, 3, 3, 3, 3, 3, 3, 3, 3],                         # exact ties: label 0
        [-2, -2, -2, -2, -2, -2, -2, -2, -2, -1.9999],
    ]
    rows = np.array(rows, dtype=dtype)
    # near ties: values a few ulps apart, whose sigmoids may or may not round apart
    base = rng.standard_normal((200, 1)) * np.array([[1, 4, 16]])[:, rng.integers(0, 3, 200)].T
    near = np.repeat(base, 10, axis=1).astype(dtype)
    steps = rng.integers(-3, 4, near.shape)
    for k in range(3):
        up = steps > k
        down = steps < -k
        near[up] = np.nextafter(near[up], dtype(np.inf))
        near[down] = np.nextafter(near[down], dtype(-np.inf))
    spread = (rng.standard_normal((300, 10)) * rng.choice([0.5, 3, 10, 30], (300, 1))).astype(dtype)
    return np.concatenate([rows, near, spread])


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[-1])
def test_labels_without_targets_are_the_first_maximum_of_the_sigmoids(K):
    Z = designed_rows(dtype_of(K))
    weights, biases, X = output_sums(K, Z)
    fast, full = both_labels(K, weights, biases, X)
    np.testing.assert_array_equal(fast, full)
    # row 2: σ(21) rounds to 1 in float32, not in float64
    assert list(fast[:8]) == [0, 2, 0 if dtype_of(K) is np.float32 else 4, 0, 0, 0, 0, 9]
    # where the sigmoids are far from equal (a relative 10^-4), the first maximum of z is theirs
    with np.errstate(over="ignore"):
        a = np.sort(1 / (1 + np.exp(-Z.astype(np.float64))), axis=1)
    distinct = np.all(a[:, 1:] > a[:, :-1] * (1 + 1e-4), axis=1)
    assert distinct.sum() > 150
    np.testing.assert_array_equal(fast[distinct], np.argmax(Z[distinct], axis=1))


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[-1])
@pytest.mark.parametrize("z", [[np.nan, 1, 2], [1, np.nan, 2], [np.inf, 1, np.inf], [-np.inf, -np.inf, 3],
                               [-np.inf, -np.inf, -np.inf], [np.nan, np.inf, 0], [30, np.inf, -np.inf]],
                         ids=str)
def test_labels_without_targets_with_nan_and_inf_sums(K, z):
    # z_L = b for an input of zeros, whatever b holds
    dtype = dtype_of(K)
    weights = [np.ones((3, 4), dtype=dtype)]
    biases = [np.array(z, dtype=dtype).reshape(3, 1)]
    X = np.zeros((2, 4), dtype=dtype)
    with np.errstate(all="ignore"):
        fast, full = both_labels(K, weights, biases, X)
    np.testing.assert_array_equal(fast, full)


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[-1])
@pytest.mark.parametrize("sizes", [[784, 30, 10], [20, 7, 3], [30, 100, 30, 10], [12, 1]], ids=str)
def test_labels_without_targets_on_networks(K, sizes):
    dtype = dtype_of(K)
    rng = np.random.default_rng(sum(sizes))
    weights = [(rng.standard_normal((y, x)) * 3).astype(dtype) for x, y in zip(sizes[:-1], sizes[1:])]
    biases = [(rng.standard_normal((y, 1)) * 3).astype(dtype) for y in sizes[1:]]
    X = rng.random((600, sizes[0])) * (rng.random((600, sizes[0])) < 0.3)
    for threads in (1, 2):
        fast, full = both_labels(K, weights, biases, X.astype(dtype), threads)
        np.testing.assert_array_equal(fast, full)
