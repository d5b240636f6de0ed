"""Chapter 6's NumPy layer arithmetic (cnet/_kernels/numpy_conv.py): convolution
against its direct formula and a hand-made flipped case, gradients against
finite differences, pooling's border and ties, and the dropout masks."""
import itertools

import numpy as np
import pytest

from cnet._kernels.numpy_conv import (conv_backward, conv_forward, dropout_keep, mix64, pool_backward,
                                      pool_forward)

from conftest import assert_matches_finite_differences


def direct_conv(x, filters):
    """out[n, f, y, x] = Σ_c Σ_i Σ_j x[n, c, y+i, x+j] · filters[f, c, h−1−i, w−1−j], loop by loop."""
    m, c, H, W = x.shape
    f, _, h, w = filters.shape
    out = np.zeros((m, f, H - h + 1, W - w + 1))
    for n, k, y, z in itertools.product(range(m), range(f), range(H - h + 1), range(W - w + 1)):
        out[n, k, y, z] = sum(x[n, ch, y + i, z + j] * filters[k, ch, h - 1 - i, w - 1 - j]
                              for ch in range(c) for i in range(h) for j in range(w))
    return out


def test_a_hand_made_case_flips_the_filter():
    # a 1 x 3 image [1, 2, 3] and the filter [10, 1]: a true convolution gives
    # 1·1 + 2·10 = 21 and 2·1 + 3·10 = 32 (a correlation would give 12 and 23)
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    filters = np.array([10.0, 1.0]).reshape(1, 1, 1, 2)
    np.testing.assert_array_equal(conv_forward(x, filters), [[[[21.0, 32.0]]]])


@pytest.mark.parametrize("m, c, H, W, f, h, w", [(2, 1, 6, 5, 3, 3, 2), (1, 3, 5, 5, 2, 5, 5), (3, 2, 7, 4, 1, 1, 3)])
def test_forward_is_the_direct_formula(m, c, H, W, f, h, w):
    rng = np.random.default_rng(m * 100 + H)
    x, filters = rng.standard_normal((m, c, H, W)), rng.standard_normal((f, c, h, w))
    np.testing.assert_allclose(conv_forward(x, filters), direct_conv(x, filters), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_keeps_the_dtype(dtype):
    x, filters = np.ones((1, 1, 4, 4), dtype), np.ones((2, 1, 3, 3), dtype)
    assert conv_forward(x, filters).dtype == dtype


@pytest.mark.parametrize("m, c, H, W, f, h, w", [(2, 2, 5, 6, 3, 3, 2), (1, 1, 4, 4, 2, 4, 1)])
def test_gradients_match_finite_differences(m, c, H, W, f, h, w):
    rng = np.random.default_rng(7)
    x, filters = rng.standard_normal((m, c, H, W)), rng.standard_normal((f, c, h, w))
    weights = rng.standard_normal((m, f, H - h + 1, W - w + 1))   # C = Σ weights · out

    def cost():
        return float(np.sum(weights * conv_forward(x, filters)))

    grad_filters, grad_x = conv_backward(x, filters, weights)
    assert_matches_finite_differences([filters], [x], [grad_filters], [grad_x], cost, abs=1e-7)
    assert conv_backward(x, filters, weights, need_input=False)[1] is None


def test_pooling_drops_the_border_and_takes_each_windows_maximum():
    a = np.arange(35, dtype=np.float64).reshape(1, 1, 5, 7)
    pooled = pool_forward(a, (2, 3))
    # windows rows 0-1 / 2-3 (row 4 dropped), columns 0-2 / 3-5 (column 6 dropped)
    np.testing.assert_array_equal(pooled, [[[[9.0, 12.0], [23.0, 26.0]]]])


def test_pooling_gradient_goes_to_every_maximum_of_a_window():
    a = np.array([[1.0, 5.0, 2.0, 2.0],
                  [5.0, 0.0, 2.0, 2.0],
                  [0.0, 0.0, 9.0, 1.0]]).reshape(1, 1, 3, 4)
    pooled = pool_forward(a, (2, 2))
    np.testing.assert_array_equal(pooled, [[[[5.0, 2.0]]]])
    grad = pool_backward(a, pooled, np.array([[[[1.5, 0.5]]]]), (2, 2))
    np.testing.assert_array_equal(grad[0, 0], [[0.0, 1.5, 0.5, 0.5],
                                               [1.5, 0.0, 0.5, 0.5],
                                               [0.0, 0.0, 0.0, 0.0]])   # the last row: border, dropped


def test_pooling_gradient_matches_finite_differences_without_ties():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 6, 5))
    weights = rng.standard_normal((2, 3, 3, 2))
    grad = pool_backward(a, pool_forward(a, (2, 2)), weights, (2, 2))
    assert_matches_finite_differences([a], [], [grad], [], lambda: float(np.sum(weights * pool_forward(a, (2, 2)))),
                                      abs=1e-8)


def test_mix64_is_splitmix64():
    # SplitMix64 seeded with 0: its first outputs, as its reference C code gives them
    state, outputs = 0, []
    for _ in range(3):
        outputs.append(int(mix64(np.uint64(state))))
        state = (state + 0x9E3779B97F4A7C15) % 2 ** 64
    assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_a_mask_bit_depends_on_seed_step_example_and_unit_only():
    whole = dropout_keep(5, 17, np.arange(10), 300, 0.5)
    part = dropout_keep(5, 17, np.array([7, 2]), 300, 0.5)
    np.testing.assert_array_equal(part, whole[[7, 2]])        # any subset, any order: the same bits
    assert not np.array_equal(dropout_keep(5, 18, np.arange(10), 300, 0.5), whole)
    assert not np.array_equal(dropout_keep(6, 17, np.arange(10), 300, 0.5), whole)
    np.testing.assert_array_equal(dropout_keep(5, 17, np.arange(10), 300, 0.5), whole)


@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 0.9])
def test_masks_keep_units_at_the_rate_one_minus_p(p):
    kept = dropout_keep(1, 0, np.arange(200), 1000, p)
    assert kept.shape == (200, 1000)
    assert abs(kept.mean() - (1 - p)) < 0.005
    if p == 0.0:
        assert kept.all()
