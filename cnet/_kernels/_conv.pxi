# Chapter 6's layer arithmetic over NumPy arrays, the same functions as
# numpy_conv.py (conv_forward, conv_backward, pool_forward, pool_backward, matmul,
# moved, dropout_keep), each example's convolution as matrix products over its patches
# (conv.h, gemm.h).  Shapes are checked here, once, and every array allocated; the loops
# then run unchecked, cut into `threads` parts for the crew (_conv_parts.pxi).
include "_conv_parts.pxi"

from cnet._kernels.conv cimport cnet_dropout_keep
from libc.stdint cimport uint64_t

import threading

# multiply-adds below which a product runs as one part: a part costs the crew a few
# microseconds to hand out
PRODUCT_PART = 1 << 17

# each Python thread's scratch arrays, kept between calls: a new one of a few hundred
# kilobytes is fresh pages from the system on every call, their faults taken by all the
# crew's threads at once
_kept = threading.local()


def _maps(name, value, ndim=4):
    a = np.ascontiguousarray(value, dtype=DTYPE)
    if a.ndim != ndim:
        raise ValueError(f"{name} has shape {a.shape}; expected {ndim} dimensions")
    return a


cdef int _parts(threads, Py_ssize_t items):
    # how many parts a call over `items` examples (or runs of a filter row, rows) is cut into
    return <int> max(1, min(int(threads), items))


def _scratch(key, int parts, Py_ssize_t size):
    """A (≥ parts, size) array, zeros when new, this thread's and kept for the next call of
    the same key (a use and the shapes that lay it out).  What a loop reads from it
    without writing first (a row's padding past its last whole column) reaches only
    results that are never read."""
    a = getattr(_kept, "arrays", None)
    if a is None:
        a = _kept.arrays = {}
    array = a.get(key)
    if array is None or array.shape[0] < parts:
        array = a[key] = np.zeros((parts, size), dtype=DTYPE)
    return array


cdef real_t *_at(a):
    # the first real of the array a, C-ordered and of DTYPE (every caller's array is: made
    # by _maps, np.empty or _scratch, or a C-ordered reshape of one)
    return <real_t *> cnp.PyArray_DATA(<cnp.ndarray> a)


cdef ConvJob _conv_job(x, filters):
    # the shapes of a convolution of x (m, C, H, W) with filters (F, C, h, w)
    cdef ConvJob j
    j.m, j.C, j.H, j.W = x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    j.F, j.h, j.w = filters.shape[0], filters.shape[2], filters.shape[3]
    j.K, j.P = j.C * j.h * j.w, (j.H - j.h + 1) * (j.W - j.w + 1)
    j.Kw, j.Pw = _whole(j.K), _whole(j.P)
    return j


def conv_forward(x, filters, threads=1):
    """out[n, f, y, x] = Σ_c Σ_i Σ_j x[n, c, y + i, x + j] · filters[f, c, h − 1 − i, w − 1 − j]:
    Theano's valid, flipped convolution of each example's maps, the examples shared among
    ``threads`` threads."""
    x, filters = _maps("x", x), _maps("filters", filters)
    fits = 0 < filters.shape[2] <= x.shape[2] and 0 < filters.shape[3] <= x.shape[3]
    if filters.shape[1] != x.shape[1] or not fits:
        raise ValueError(f"filters of shape {filters.shape} do not fit maps of shape {x.shape[1:]}")
    cdef ConvJob j = _conv_job(x, filters)
    cdef int parts = _parts(threads, j.m)
    out = np.empty((j.m, j.F, j.Pw), dtype=DTYPE)       # every entry written
    if out.size == 0:
        return out.reshape(j.m, j.F, j.H - j.h + 1, j.W - j.w + 1)
    scratch = _scratch(("forward", j.F, j.K, j.Pw), parts, j.K * j.Pw + j.F * j.K)
    j.a, j.b, j.out, j.scratch, j.stride = _at(x), _at(filters), _at(out), _at(scratch), scratch.shape[1]
    with nogil:
        cnet_crew_run(_forward_part, &j, parts)
    return (out if j.Pw == j.P else np.ascontiguousarray(out[:, :, :j.P])).reshape(
        j.m, j.F, j.H - j.h + 1, j.W - j.w + 1)


def conv_backward(x, filters, delta, need_input=True, threads=1):
    """(∂C/∂filters summed over the examples, ∂C/∂x or None) given delta = ∂C/∂out, on
    ``threads`` threads (the filters' gradient shared by its entries, the input's by examples)."""
    x, filters, delta = _maps("x", x), _maps("filters", filters), _maps("delta", delta)
    cdef ConvJob j = _conv_job(x, filters)
    if filters.shape[1] != j.C or delta.shape != (j.m, j.F, j.H - j.h + 1, j.W - j.w + 1):
        raise ValueError(f"delta {delta.shape}, filters {filters.shape} and x {x.shape} do not agree")
    if j.m == 0 or j.F == 0:
        return np.zeros(filters.shape, dtype=DTYPE), np.zeros(x.shape, dtype=DTYPE) if need_input else None
    if j.Pw == j.P:
        padded_delta = delta.reshape(j.m, j.F, j.P)
    else:
        padded_delta = np.zeros((j.m, j.F, j.Pw), dtype=DTYPE)
        padded_delta[:, :, :j.P] = delta.reshape(j.m, j.F, j.P)
    # every entry of these is written by the parts (the parts zero what they add to)
    grad_x = np.empty((j.m, j.C, j.H, j.W), dtype=DTYPE) if need_input else None
    grad = np.empty(filters.shape, dtype=DTYPE)
    cdef int parts = _parts(threads, j.C * j.h)
    # the filters' gradient: each part's entries of the patches as rows, and their sums
    scratch = _scratch(("filters", j.P, j.F, j.Kw), parts, (j.P + j.F) * j.Kw)
    j.a, j.b, j.delta, j.out = _at(x), _at(filters), _at(padded_delta), _at(grad)
    j.scratch, j.stride = _at(scratch), scratch.shape[1]
    with nogil:
        cnet_crew_run(_filters_part, &j, parts)
    if need_input:
        # the input's gradient: each part's gradient of the patches as columns, and its
        # flipped filters' transpose
        parts = _parts(threads, j.m)
        scratch = _scratch(("input", j.F, j.K, j.Pw), parts, j.K * j.Pw + j.K * j.F)
        j.out, j.scratch, j.stride = _at(grad_x), _at(scratch), scratch.shape[1]
        with nogil:
            cnet_crew_run(_input_part, &j, parts)
    return grad, grad_x


cdef ConvJob _pool_job(a, pool):
    cdef ConvJob j
    j.m, j.F, j.H, j.W = a.shape[0], a.shape[1], a.shape[2], a.shape[3]
    j.ph, j.pw = pool[0], pool[1]
    return j


def pool_forward(a, pool, threads=1):
    """The maximum of each non-overlapping pool = (ph, pw) window of a (m, f, Y, X); the rows
    and columns that fill no window are left out.  The examples are shared among ``threads``
    threads."""
    a = _maps("a", a)
    cdef ConvJob j = _pool_job(a, pool)
    if not (0 < j.ph <= j.H and 0 < j.pw <= j.W):
        raise ValueError(f"a pool of {j.ph}x{j.pw} does not fit maps of {j.H}x{j.W}")
    out = np.empty((j.m, j.F, j.H // j.ph, j.W // j.pw), dtype=DTYPE)
    if out.size == 0:
        return out
    cdef int parts = _parts(threads, j.m)
    j.a, j.out = _at(a), _at(out)
    with nogil:
        cnet_crew_run(_pool_part, &j, parts)
    return out


def pool_backward(a, pooled, delta, pool, threads=1):
    """∂C/∂a given delta = ∂C/∂pooled: each window's gradient to every input equal to its
    maximum, zero elsewhere and in the border.  The examples are shared among ``threads``
    threads."""
    a, pooled, delta = _maps("a", a), _maps("pooled", pooled), _maps("delta", delta)
    cdef ConvJob j = _pool_job(a, pool)
    if pooled.shape != (j.m, j.F, j.H // j.ph, j.W // j.pw) or delta.shape != pooled.shape:
        raise ValueError(f"pooled {pooled.shape} and delta {delta.shape} do not match a {a.shape}")
    grad = np.empty_like(a)
    if pooled.size == 0:
        grad[...] = 0
        return grad
    cdef int parts = _parts(threads, j.m)
    j.a, j.b, j.delta, j.out = _at(a), _at(pooled), _at(delta), _at(grad)
    with nogil:
        cnet_crew_run(_pool_grad_part, &j, parts)
    return grad


def dropout_keep(seed, step, examples, Py_ssize_t units, double p):
    """The (len(examples), units) mask of the units kept at ``step``: numpy_conv.dropout_keep's bits."""
    ex = np.ascontiguousarray(examples, dtype=np.uint64)
    keep = np.empty((len(ex), units), dtype=np.uint8)
    cdef unsigned char[:, ::1] kv = keep
    cdef uint64_t[::1] ev = ex
    cdef uint64_t s = <uint64_t> (int(seed) & 0xFFFFFFFFFFFFFFFF), t = <uint64_t> int(step)
    cdef Py_ssize_t e
    if units:
        with nogil:
            for e in range(len(ev)):
                cnet_dropout_keep(s, t, ev[e], units, p, &kv[e, 0])
    return keep.view(bool)


def matmul(A, B, threads=1):
    """A @ B for 2-D arrays (M, K) and (K, N): each entry Σ_k A[i, k] · B[k, j] summed in
    the order of k (gemm.h's cnet_gemm), so that every build and thread count gives the
    same bits.  A B that is the transpose of a C-ordered array (``W.T``) is read in place
    (cnet_gemm_nt).  The rows (or, when fewer, the columns) are shared among ``threads``
    threads when the product is large enough to pay for them."""
    A = _maps("A", A, 2)
    B = np.asarray(B)
    transposed = B.ndim == 2 and B.dtype == DTYPE and B.T.flags.c_contiguous and not B.flags.c_contiguous
    B = B.T if transposed else _maps("B", B, 2)       # transposed: B holds the (N, K) array
    cdef ConvJob j
    j.m, j.K = A.shape[0], A.shape[1]
    j.F = B.shape[0] if transposed else B.shape[1]
    if (B.shape[1] if transposed else B.shape[0]) != j.K:
        raise ValueError(f"A {A.shape} and B {B.T.shape if transposed else B.shape} do not multiply")
    if j.m == 0 or j.F == 0 or j.K == 0:
        return np.zeros((j.m, j.F), dtype=DTYPE)
    out = np.empty((j.m, j.F), dtype=DTYPE)      # every entry written
    # the parts' units: MR rows, or NV·W columns
    cdef Py_ssize_t tiles = ((j.m + CNET_MR - 1) // CNET_MR if j.m >= j.F
                             else (j.F + CNET_NV * CNET_W - 1) // (CNET_NV * CNET_W))
    cdef int parts = _parts(threads, min(tiles, max(1, j.m * j.F * j.K // PRODUCT_PART)))
    j.transposed = transposed
    # a transposed B's scratch, one per part (the other products need none)
    j.stride = cnet_gemm_nt_scratch(j.m, j.F, j.K) if transposed else 1
    scratch = np.empty((parts if transposed else 1, j.stride), dtype=DTYPE)
    j.a, j.b, j.out, j.scratch = _at(A), _at(B), _at(out), _at(scratch)
    with nogil:
        cnet_crew_run(_product_part, &j, parts)
    return out


def moved(p, grad, step, decay=None):
    """A new array p − step · (grad + decay · p), or p − step · grad without ``decay``,
    in one loop over the entries: numpy_conv.moved's bits (the same four operations per
    entry, in the same order)."""
    p, grad = np.ascontiguousarray(p, dtype=DTYPE), np.ascontiguousarray(grad, dtype=DTYPE)
    if p.shape != grad.shape:
        raise ValueError(f"grad has shape {grad.shape}; expected p's {p.shape}")
    out = np.empty_like(p)
    cdef real_t *at_p = _at(p)
    cdef real_t *at_grad = _at(grad)
    cdef real_t *at_out = _at(out)
    cdef real_t s = step, d = 0 if decay is None else decay
    cdef Py_ssize_t i, n = p.size
    with nogil:
        if decay is None:
            for i in range(n):
                at_out[i] = at_p[i] - at_grad[i] * s
        else:
            for i in range(n):
                at_out[i] = at_p[i] - (at_p[i] * d + at_grad[i]) * s
    return out
