"""Threads share the step of a wide layer after the input layer (train_part,
_team.pxi): each steps a part of its rows, the last thread also its biases, and the
result is the one thread's to the bit -- for every option, with the lazy L2 scale
folding back into the weights, and on a network whose later layer is too small to be
shared (the last thread steps it whole)."""
import numpy as np
import pytest

from cnet._kernels.spec import dense_chain
from cnet import _kernels
from cnet.functions import CrossEntropyCost, LogLikelihoodCost, QuadraticCost

from conftest import make_data
from test_chapter3 import output_of, params, stacked

MODULES = [K for K in (_kernels.compiled, _kernels.compiled_f32) if K is not None]
pytestmark = pytest.mark.skipif(not MODULES, reason="the compiled kernels are not built")
SIZES = [16, 80, 40, 10]     # wt_1: 80 rows of 40+ (over 2,048 weights: shared); wt_2: 40 x 10 (not)


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
@pytest.mark.parametrize("mu", [0.0, 0.6])
@pytest.mark.parametrize("regularization", ["L2", "L1"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
@pytest.mark.parametrize("cost", [QuadraticCost, CrossEntropyCost, LogLikelihoodCost], ids=lambda c: c.__name__)
def test_threads_sharing_a_wide_layers_step_give_one_threads_bits(K, cost, activation, regularization, mu):
    dtype = K.DTYPE
    rng = np.random.default_rng(7)
    weights, biases = params(SIZES, rng, scale=0.3)
    weights, biases = [a.astype(dtype) for a in weights], [a.astype(dtype) for a in biases]
    X, Y = stacked(make_data(SIZES, 23, rng, dtype=dtype))
    # 40 epochs of 23 in mini-batches of 4: 240 steps, λ = 5 makes the L2 scale fold
    order = np.concatenate([rng.permutation(23) for _ in range(40)]).astype(np.intp)
    options = dict(spec=dense_chain(SIZES, activation, output_of(cost)), regularization=regularization, mu=mu)
    results = []
    for threads in (1, 2, 3):
        w, b = [a.copy() for a in weights], [a.copy() for a in biases]
        v = ([np.zeros_like(a) for a in w], [np.zeros_like(a) for a in b]) if mu else None
        K.train(w, b, K.prepare(X), Y, order, 4, 0.05, 5.0, 23, cost, threads, velocities=v, **options)
        results.append(w + b + (v[0] + v[1] if mu else []))
        assert all(np.all(np.isfinite(a)) for a in results[-1])
    for got in results[1:]:
        for g, want in zip(got, results[0]):
            np.testing.assert_array_equal(g, want)
    assert not np.array_equal(results[0][1], weights[1])     # the shared layer moved
