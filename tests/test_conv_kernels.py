"""Chapter 6's compiled loops (conv.h, _conv.pxi) against the NumPy reference
(numpy_conv.py): convolution and its gradients over many shapes in both dtypes,
pooling with ties and borders, the dropout masks bit for bit; and every wider
build (AVX2, AVX-512) giving the baseline build's bits."""
import importlib

import numpy as np
import pytest

from cnet import _kernels
from cnet._kernels import numpy_conv

from conftest import wider_isas

pytestmark = pytest.mark.skipif(_kernels.compiled is None, reason="the compiled kernels are not built")

SUFFIX = {np.float64: "", np.float32: "_f32"}
# (examples, maps, height, width, filters, filter height, filter width): the book's two
# layers, and shapes whose sizes are not whole vectors, 1 x 1 filters, a filter as large as the map
SHAPES = [(2, 1, 28, 28, 20, 5, 5), (3, 20, 12, 12, 40, 5, 5), (1, 3, 7, 9, 5, 3, 2), (2, 2, 6, 5, 7, 1, 1),
          (2, 1, 9, 11, 3, 4, 3), (1, 2, 5, 5, 3, 5, 5), (4, 5, 10, 3, 9, 2, 3)]


def build(isa, dtype):
    name = {"baseline": "_cy_base", "avx2": "_cy_avx2", "avx512": "_cy_avx512"}[isa]
    return importlib.import_module("cnet._kernels." + name + SUFFIX[dtype])


def case(shape, dtype, seed):
    m, c, H, W, f, h, w = shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, c, H, W)).astype(dtype)
    filters = rng.standard_normal((f, c, h, w)).astype(dtype)
    delta = rng.standard_normal((m, f, H - h + 1, W - w + 1)).astype(dtype)
    return x, filters, delta


def close(got, want, dtype):
    assert got.dtype == dtype and got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1.0)
    tolerance = 1e-12 if dtype == np.float64 else 3e-6
    assert float(np.abs(got.astype(np.float64) - want).max()) <= tolerance * scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
def test_convolution_and_its_gradients_match_the_reference(shape, dtype):
    k = build("baseline", dtype)
    x, filters, delta = case(shape, dtype, seed=sum(shape))
    x64, f64, d64 = (a.astype(np.float64) for a in (x, filters, delta))
    close(k.conv_forward(x, filters), numpy_conv.conv_forward(x64, f64), dtype)
    grad_filters, grad_x = k.conv_backward(x, filters, delta)
    want_filters, want_x = numpy_conv.conv_backward(x64, f64, d64)
    close(grad_filters, want_filters, dtype)
    close(grad_x, want_x, dtype)
    only_filters, none = k.conv_backward(x, filters, delta, need_input=False)
    assert none is None
    np.testing.assert_array_equal(only_filters, grad_filters)


@pytest.mark.parametrize("isa", wider_isas())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_wider_builds_give_the_baselines_bits(isa, dtype):
    base, wide = build("baseline", dtype), build(isa, dtype)
    for shape in SHAPES:
        x, filters, delta = case(shape, dtype, seed=len(shape) + shape[0])
        np.testing.assert_array_equal(wide.conv_forward(x, filters), base.conv_forward(x, filters))
        for a, b in zip(wide.conv_backward(x, filters, delta), base.conv_backward(x, filters, delta)):
            np.testing.assert_array_equal(a, b)


def test_a_hand_made_case_flips_the_filter():
    k = build("baseline", np.float64)
    x = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 1, 3)
    filters = np.array([10.0, 1.0]).reshape(1, 1, 1, 2)
    np.testing.assert_array_equal(k.conv_forward(x, filters), [[[[21.0, 32.0]]]])


@pytest.mark.parametrize("isa", ["baseline"] + wider_isas())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pool", [(2, 2), (3, 2), (2, 3), (1, 1), (5, 4)])
@pytest.mark.parametrize("shape", [(3, 4, 11, 9), (2, 3, 24, 24), (2, 40, 8, 8), (1, 2, 5, 37)])
def test_pooling_matches_the_reference_with_ties_and_borders(shape, pool, dtype, isa):
    # the values the reference's; and byte for byte the baseline build's, signed zeros
    # and NaN included (the first maximum of a window in its order)
    k, base = build(isa, dtype), build("baseline", dtype)
    rng = np.random.default_rng(pool[0] * 10 + pool[1])
    a = rng.integers(-1, 2, shape).astype(dtype)          # small integers: many ties
    pooled = k.pool_forward(a, pool)
    np.testing.assert_array_equal(pooled, numpy_conv.pool_forward(a, pool))
    delta = rng.standard_normal(pooled.shape).astype(dtype)
    np.testing.assert_array_equal(k.pool_backward(a, pooled, delta, pool),
                                  numpy_conv.pool_backward(a, pooled, delta, pool))
    a[a == 0] *= rng.choice(np.array([-1, 1], dtype=dtype), size=int((a == 0).sum()))
    a.reshape(-1)[rng.integers(0, a.size, 5)] = np.nan
    pooled = k.pool_forward(a, pool)
    assert pooled.tobytes() == base.pool_forward(a, pool).tobytes()
    assert k.pool_backward(a, pooled, delta, pool).tobytes() == base.pool_backward(a, pooled, delta, pool).tobytes()


@pytest.mark.parametrize("isa", ["baseline"] + wider_isas())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_step_of_descent_is_the_references_bit_for_bit(isa, dtype):
    # the four operations in numpy_conv.moved's order (a fused multiply-add, or
    # p·(1 − step·decay) − step·grad, would change the last bits), special values included
    k = build(isa, dtype)
    rng = np.random.default_rng(3)
    step, decay = dtype(0.03), dtype(0.1 / 5000)
    for shape in [(40, 20, 5, 5), (100,), (640, 100), (7, 1)]:
        p, grad = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
        p.reshape(-1)[:4] = [np.nan, np.inf, -0.0, np.finfo(dtype).tiny / 8]
        grad.reshape(-1)[4:6] = [-np.inf, -0.0]
        for d in (decay, None):
            with np.errstate(invalid="ignore"):         # inf − inf
                want = numpy_conv.moved(p, grad, step, d)
            got = k.moved(p, grad, step, d)
            assert got.dtype == dtype and got.shape == p.shape
            assert got.tobytes() == want.tobytes()
    assert not np.shares_memory(k.moved(p, grad, step), p)
    with pytest.raises(ValueError, match=r"grad has shape \(7,\); expected p's \(7, 1\)"):
        k.moved(p, grad.reshape(7), step)


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.999])
def test_dropout_masks_are_the_references_bit_for_bit(p):
    k = build("baseline", np.float32)
    for seed, step in [(0, 0), (12345, 7), (2 ** 63 + 5, 2 ** 40)]:
        examples = np.array([0, 3, 1, 9])
        np.testing.assert_array_equal(k.dropout_keep(seed, step, examples, 257, p),
                                      numpy_conv.dropout_keep(seed, step, examples, 257, p))


def test_shapes_that_do_not_fit_are_refused_before_any_loop():
    k = build("baseline", np.float64)
    with pytest.raises(ValueError, match=r"filters of shape \(2, 3, 3, 3\) do not fit maps of shape \(2, 5, 5\)"):
        k.conv_forward(np.zeros((1, 2, 5, 5)), np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"do not fit maps of shape \(1, 2, 2\)"):
        k.conv_forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 1)))
    with pytest.raises(ValueError, match=r"a pool of 3x1 does not fit maps of 2x2"):
        k.pool_forward(np.zeros((1, 1, 2, 2)), (3, 1))
    with pytest.raises(ValueError, match=r"delta \(1, 1, 3, 3\)"):
        k.conv_backward(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)))


@pytest.mark.parametrize("isa", ["baseline"] + wider_isas())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("M, K, N", [(10, 1000, 1000), (10, 640, 100), (3, 17, 70), (1, 1, 1), (5, 33, 129)])
def test_matmul_reads_a_transposed_b_in_place_with_the_same_bits(isa, dtype, M, K, N):
    # B = W.T for a C-ordered W (N, K): cnet_gemm_nt's packed panels give the bits of
    # cnet_gemm over a transposed copy, and the product the reference's
    k = build(isa, dtype)
    rng = np.random.default_rng(M * K + N)
    A = rng.standard_normal((M, K)).astype(dtype)
    W = rng.standard_normal((N, K)).astype(dtype)
    in_place = k.matmul(A, W.T)
    np.testing.assert_array_equal(in_place.view(np.uint8), k.matmul(A, np.ascontiguousarray(W.T)).view(np.uint8))
    close(in_place, numpy_conv.matmul(A.astype(np.float64), W.T.astype(np.float64)), dtype)
    with pytest.raises(ValueError, match=r"A \(2, 3\) and B \(4, 5\) do not multiply"):
        k.matmul(np.zeros((2, 3), dtype), np.zeros((5, 4), dtype).T)


def in_order(A, B):
    """A @ B with each entry summed from +0 over k in order, a multiply then an add of the
    arrays' dtype per term: the sums gemm.h defines, computed by NumPy"""
    C = np.zeros((A.shape[0], B.shape[1]), A.dtype)
    for k in range(A.shape[1]):
        C = C + A[:, k:k + 1] * B[k:k + 1, :]
    return C


@pytest.mark.parametrize("isa", ["baseline"] + wider_isas())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_products_are_sums_in_the_order_of_k_for_any_shape(isa, dtype):
    # whole tiles, the columns after them as one padded vector (fewer than a vector, and
    # over more than one panel of K), and a transposed B with fewer rows than a vector
    k = build(isa, dtype)
    rng = np.random.default_rng(11)
    for M, K, N in [(10, 640, 100), (640, 10, 100), (10, 100, 640), (7, 600, 3), (13, 257, 21), (9, 0, 5),
                    (100, 10, 10), (10, 10, 10), (1, 1, 1), (3, 70, 130), (129, 33, 5), (17, 5, 64)]:
        A, W = rng.standard_normal((M, K)).astype(dtype), rng.standard_normal((N, K)).astype(dtype)
        want = in_order(A, np.ascontiguousarray(W.T))
        for threads in (1, 2):
            assert k.matmul(A, np.ascontiguousarray(W.T), threads=threads).tobytes() == want.tobytes(), (M, K, N)
            assert k.matmul(A, W.T, threads=threads).tobytes() == want.tobytes(), (M, K, N)


@pytest.mark.parametrize("isa", ["baseline"] + wider_isas())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_any_thread_count_gives_one_threads_bits(dtype, isa):
    # the crew's parts: examples (forward, input gradient, pooling), filters (their
    # gradient), rows or columns (products); 5 threads leave some parts without work
    k = build(isa, dtype)
    for shape in SHAPES:
        x, filters, delta = case(shape, dtype, seed=sum(shape))
        out = k.conv_forward(x, filters)
        grad, grad_x = k.conv_backward(x, filters, delta)
        pool = (min(2, out.shape[2]), min(2, out.shape[3]))
        pooled = k.pool_forward(out, pool)
        d_pooled = pooled[::-1].copy()
        d_out = k.pool_backward(out, pooled, d_pooled, pool)
        for threads in (2, 3, 5):
            assert k.conv_forward(x, filters, threads=threads).tobytes() == out.tobytes()
            g, gx = k.conv_backward(x, filters, delta, threads=threads)
            assert g.tobytes() == grad.tobytes() and gx.tobytes() == grad_x.tobytes()
            g, none = k.conv_backward(x, filters, delta, need_input=False, threads=threads)
            assert g.tobytes() == grad.tobytes() and none is None
            assert k.pool_forward(out, pool, threads=threads).tobytes() == pooled.tobytes()
            assert k.pool_backward(out, pooled, d_pooled, pool, threads=threads).tobytes() == d_out.tobytes()
    rng = np.random.default_rng(5)
    for M, K, N in [(10, 640, 100), (640, 10, 100), (10, 100, 640), (3, 70, 130), (129, 33, 5)]:
        A, B = rng.standard_normal((M, K)).astype(dtype), rng.standard_normal((K, N)).astype(dtype)
        BT = np.ascontiguousarray(B.T)
        one, one_t = k.matmul(A, B), k.matmul(A, BT.T)
        close(one, A.astype(np.float64) @ B.astype(np.float64), dtype)
        for threads in (2, 3, 5):
            assert k.matmul(A, B, threads=threads).tobytes() == one.tobytes()
            assert k.matmul(A, BT.T, threads=threads).tobytes() == one_t.tobytes()


@pytest.mark.skipif(_kernels.compiled is None or not _kernels.compiled.threads_supported(),
                    reason="this build runs a call's parts one after another")
def test_the_crews_parts_run_at_once_and_again_after_a_fork():
    # each part waits for all the others: they meet only if they run at the same time
    import multiprocessing
    k = _kernels.compiled
    assert k.crew_meet(1) == 1
    assert k.crew_meet(3) == 3
    assert k.crew_meet(2) == 2
    # a fork's child has none of its parent's threads: its crew starts its own
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(k.crew_meet, (3,)) == 3
