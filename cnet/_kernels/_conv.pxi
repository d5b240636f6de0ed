# Chapter 6's layer arithmetic over NumPy arrays, the same functions as
# numpy_conv.py (conv_forward, conv_backward, pool_forward, pool_backward,
# dropout_keep), each example's convolution as matrix products over its patches
# (conv.h).  Shapes are checked here, once; the loops then run unchecked.
from cnet._kernels.conv cimport (CNET_NV, CNET_W, cnet_col2im_add, cnet_dropout_keep, cnet_gemm, cnet_gemm_nt,
                                 cnet_im2col, cnet_im2row, cnet_maxpool, cnet_maxpool_grad)
from cnet._kernels.real cimport real_t
from libc.stdint cimport uint64_t
from libc.string cimport memset


def _maps(name, value, ndim=4):
    a = np.ascontiguousarray(value, dtype=DTYPE)
    if a.ndim != ndim:
        raise ValueError(f"{name} has shape {a.shape}; expected {ndim} dimensions")
    return a


cdef Py_ssize_t _whole(Py_ssize_t n):
    # n rounded up to whole vectors of the loops (conv.h's CNET_W reals): rows of that
    # stride, their ends zeros, go through cnet_gemm's vector tiles only
    return (n + CNET_W - 1) // CNET_W * CNET_W


cdef _flipped_rows(filters, bint transposed=False):
    # the filters turned by 180° in each map, one row of K = C·h·w per filter (F × K), or
    # with ``transposed`` one column per filter (K × F)
    cdef Py_ssize_t F = filters.shape[0], C = filters.shape[1], h = filters.shape[2], w = filters.shape[3]
    cdef Py_ssize_t K = C * h * w, f, c, i, j, k
    flipped = np.empty((K, F) if transposed else (F, K), dtype=DTYPE)
    cdef real_t[:, :, :, ::1] fv = filters
    cdef real_t[:, ::1] ov = flipped
    with nogil:
        for f in range(F):
            for c in range(C):
                for i in range(h):
                    for j in range(w):
                        k = (c * h + i) * w + j
                        if transposed:
                            ov[k, f] = fv[f, c, h - 1 - i, w - 1 - j]
                        else:
                            ov[f, k] = fv[f, c, h - 1 - i, w - 1 - j]
    return flipped


cdef _unflipped(grad_flipped, Py_ssize_t F, Py_ssize_t C, Py_ssize_t h, Py_ssize_t w):
    # the (F, C, h, w) filters whose _flipped_rows are the first C·h·w columns of grad_flipped
    out = np.empty((F, C, h, w), dtype=DTYPE)
    cdef real_t[:, ::1] gv = grad_flipped
    cdef real_t[:, :, :, ::1] ov = out
    cdef Py_ssize_t f, c, i, j
    with nogil:
        for f in range(F):
            for c in range(C):
                for i in range(h):
                    for j in range(w):
                        ov[f, c, i, j] = gv[f, (c * h + h - 1 - i) * w + w - 1 - j]
    return out


def conv_forward(x, filters):
    """out[n, f, y, x] = Σ_c Σ_i Σ_j x[n, c, y + i, x + j] · filters[f, c, h − 1 − i, w − 1 − j]:
    Theano's valid, flipped convolution of each example's maps."""
    x, filters = _maps("x", x), _maps("filters", filters)
    cdef Py_ssize_t m = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = filters.shape[0], h = filters.shape[2], w = filters.shape[3]
    if filters.shape[1] != C or not (0 < h <= H and 0 < w <= W):
        raise ValueError(f"filters of shape {filters.shape} do not fit maps of shape {x.shape[1:]}")
    cdef Py_ssize_t OH = H - h + 1, OW = W - w + 1, K = C * h * w, P = OH * OW, n
    cdef Py_ssize_t Pw = _whole(P)
    out = np.zeros((m, F, Pw), dtype=DTYPE)
    col = np.zeros((K, Pw), dtype=DTYPE)
    flipped = _flipped_rows(filters)
    cdef real_t[:, :, :, ::1] xv = x
    cdef real_t[:, :, ::1] ov = out
    cdef real_t[:, ::1] cv = col, fv = flipped
    with nogil:
        for n in range(m):
            cnet_im2col(&xv[n, 0, 0, 0], C, H, W, h, w, &cv[0, 0], Pw)
            cnet_gemm(0, F, Pw, K, &fv[0, 0], K, &cv[0, 0], Pw, &ov[n, 0, 0], Pw)
    return (out if Pw == P else np.ascontiguousarray(out[:, :, :P])).reshape(m, F, OH, OW)


def conv_backward(x, filters, delta, need_input=True, span=None):
    """(∂C/∂filters summed over the examples, ∂C/∂x or None) given delta = ∂C/∂out; with
    span = (f0, f1), the gradient of filters f0 ≤ f < f1 only (f1 − f0 of them)."""
    x, filters, delta = _maps("x", x), _maps("filters", filters), _maps("delta", delta)
    cdef Py_ssize_t m = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = filters.shape[0], h = filters.shape[2], w = filters.shape[3]
    cdef Py_ssize_t OH = H - h + 1, OW = W - w + 1, K = C * h * w, P = OH * OW, n
    if filters.shape[1] != C or delta.shape != (m, F, OH, OW):
        raise ValueError(f"delta {delta.shape}, filters {filters.shape} and x {x.shape} do not agree")
    cdef Py_ssize_t f0 = 0 if span is None else span[0], f1 = F if span is None else span[1]
    if not 0 <= f0 <= f1 <= F:
        raise ValueError(f"span {span} is not a range of the {F} filters")
    cdef Py_ssize_t Kw = _whole(K), Pw = _whole(P)
    cdef bint want_input = bool(need_input)
    grad_flipped = np.zeros((max(f1 - f0, 1), Kw), dtype=DTYPE)
    # scratch for the filters' gradient (each example's patches as rows) and for the input's
    colT = np.zeros((P if f1 > f0 else 1, Kw), dtype=DTYPE)
    dcol = np.zeros((K if want_input else 1, Pw), dtype=DTYPE)
    if Pw == P:
        padded_delta = delta.reshape(m, F, P)
    else:
        padded_delta = np.zeros((m, F, Pw), dtype=DTYPE)
        padded_delta[:, :, :P] = delta.reshape(m, F, P)
    grad_x = np.zeros((m, C, H, W), dtype=DTYPE) if want_input else None
    flippedT = _flipped_rows(filters, True) if want_input else np.zeros((1, 1), dtype=DTYPE)
    cdef real_t[:, :, :, ::1] xv = x
    cdef real_t[:, :, ::1] dv = padded_delta
    cdef real_t[:, :, :, ::1] gx = grad_x if want_input else np.zeros((1, 1, 1, 1), dtype=DTYPE)
    cdef real_t[:, ::1] gv = grad_flipped, tv = colT, dc = dcol, ftv = flippedT
    with nogil:
        for n in range(m):
            if f1 > f0:
                # ∂C/∂flipped[f][k] += Σ_p delta[n][f][p] · col[k][p], f0 ≤ f < f1
                cnet_im2row(&xv[n, 0, 0, 0], C, H, W, h, w, &tv[0, 0], Kw)
                cnet_gemm(0, f1 - f0, Kw, P, &dv[n, f0, 0], Pw, &tv[0, 0], Kw, &gv[0, 0], Kw)
            if want_input:
                # ∂C/∂col[k][p] = Σ_f flipped[f][k] · delta[n][f][p], added back onto the maps
                memset(&dc[0, 0], 0, K * Pw * sizeof(real_t))
                cnet_gemm(0, K, Pw, F, &ftv[0, 0], F, &dv[n, 0, 0], Pw, &dc[0, 0], Pw)
                cnet_col2im_add(&dc[0, 0], Pw, C, H, W, h, w, &gx[n, 0, 0, 0])
    return _unflipped(grad_flipped, f1 - f0, C, h, w), grad_x


def pool_forward(a, pool):
    """The maximum of each non-overlapping pool = (ph, pw) window of a (m, f, Y, X); the rows
    and columns that fill no window are left out."""
    a = _maps("a", a)
    cdef Py_ssize_t ph = pool[0], pw = pool[1], m = a.shape[0], F = a.shape[1], n
    cdef Py_ssize_t OH = a.shape[2], OW = a.shape[3]
    if not (0 < ph <= OH and 0 < pw <= OW):
        raise ValueError(f"a pool of {ph}x{pw} does not fit maps of {OH}x{OW}")
    out = np.empty((m, F, OH // ph, OW // pw), dtype=DTYPE)
    cdef real_t[:, :, :, ::1] av = a, ov = out
    with nogil:
        for n in range(m):
            cnet_maxpool(&av[n, 0, 0, 0], F, OH, OW, ph, pw, &ov[n, 0, 0, 0])
    return out


def pool_backward(a, pooled, delta, pool):
    """∂C/∂a given delta = ∂C/∂pooled: each window's gradient to every input equal to its
    maximum, zero elsewhere and in the border."""
    a, pooled, delta = _maps("a", a), _maps("pooled", pooled), _maps("delta", delta)
    cdef Py_ssize_t ph = pool[0], pw = pool[1], m = a.shape[0], F = a.shape[1], n
    cdef Py_ssize_t OH = a.shape[2], OW = a.shape[3]
    if pooled.shape != (m, F, OH // ph, OW // pw) or delta.shape != pooled.shape:
        raise ValueError(f"pooled {pooled.shape} and delta {delta.shape} do not match a {a.shape}")
    grad = np.empty_like(a)
    cdef real_t[:, :, :, ::1] av = a, pv = pooled, dv = delta, gv = grad
    with nogil:
        for n in range(m):
            cnet_maxpool_grad(&av[n, 0, 0, 0], &pv[n, 0, 0, 0], &dv[n, 0, 0, 0], F, OH, OW, ph, pw,
                              &gv[n, 0, 0, 0])
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


def matmul(A, B):
    """A @ B for 2-D arrays (M, K) and (K, N): each entry Σ_k A[i, k] · B[k, j] summed in
    the order of k (conv.h's cnet_gemm), so that every build gives the same bits.  A B
    that is the transpose of a C-ordered array (``W.T``) is read in place (cnet_gemm_nt)."""
    A = _maps("A", A, 2)
    B = np.asarray(B)
    transposed = B.ndim == 2 and B.dtype == DTYPE and B.T.flags.c_contiguous and not B.flags.c_contiguous
    B = B.T if transposed else _maps("B", B, 2)       # transposed: B holds the (N, K) array
    cdef Py_ssize_t M = A.shape[0], K = A.shape[1], N = B.shape[0] if transposed else B.shape[1]
    if (B.shape[1] if transposed else B.shape[0]) != K:
        raise ValueError(f"A {A.shape} and B {B.T.shape if transposed else B.shape} do not multiply")
    out = np.zeros((M, N), dtype=DTYPE)
    if M == 0 or N == 0 or K == 0:
        return out
    cdef real_t[:, ::1] av = A, bv = B, ov = out
    cdef real_t[::1] panel
    if transposed:
        panel = np.empty(K * CNET_NV * CNET_W, dtype=DTYPE)
        with nogil:
            cnet_gemm_nt(M, N, K, &av[0, 0], K, &bv[0, 0], K, &ov[0, 0], N, &panel[0])
    else:
        with nogil:
            cnet_gemm(0, M, N, K, &av[0, 0], K, &bv[0, 0], N, &ov[0, 0], N)
    return out
