# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The compiled kernels: feedforward, backpropagation and SGD over typed memory.

Notation (the book's): a_0 = x is the input, a_{l+1} = σ(z_{l+1}) with
z_{l+1} = w_l a_l + b_l for the L weight layers l = 0 … L−1, and δ_l = ∂C/∂z_l.

Precision.  The module that includes this file sets ``real_t`` (double or
float: the type of weights, activations and errors), ``DTYPE`` (its NumPy
name) and ``BLOCK`` (four vectors of it); cnet builds a float64 and a float32
module from it.

Layout.  ``Params`` copies the user's weights into one flat ``real_t`` buffer in
which each w_l is stored *transposed*: row i of ``wt[l]`` holds the weights
leaving neuron i of layer l.  Then both the forward pass (z += a_i · wt[l][i, :])
and the weight update (wt[l][i, :] −= c · a_i · δ) are contiguous loops over the
next layer's neurons that the compiler vectorises, and a zero input a_i -- 81%
of MNIST pixels -- skips its whole row exactly.  The inputs themselves are
kept as compressed rows (``Inputs``: each example's non-zero pixels and their
indices), so that the input layer's loops run over the non-zero pixels only,
with no test per pixel.

Threads.  ``train`` and ``cost_and_predict`` can share a call among
``num_threads`` threads (see "threads" below): training splits the input
layer's weights between them by the neurons of layer 1, evaluation splits the
rows.  Each number is still computed by one thread in one order, so the
results are the same bits for any number of threads.

The ``def`` functions at the bottom are the kernel interface (the same as
``cnet._kernels.numpy_kernels``).  They receive arrays the engine has already
validated; they re-check only the cheap structural facts (shapes, index range)
so that no call, however wrong, can read or write out of bounds.  The ``cdef``
loops then run without bounds checks and without the GIL.
"""
cimport cython
from libc.float cimport DBL_MAX
from libc.math cimport log, isnan, isinf
from cpython.mem cimport PyMem_RawCalloc, PyMem_RawFree, PyMem_RawRealloc
from libc.stdlib cimport calloc, malloc, free
from libc.string cimport memcpy, memset

import threading

import numpy as np

NAME = "cython"

ctypedef fused real_in:
    float
    double


# The costs the loops compute (see cost_id below).
cdef enum:
    QUADRATIC = 0
    CROSS_ENTROPY = 1


cdef extern from *:
    """
    static int cnet_cpu_has_avx2(void) {
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    #else
        return 0;
    #endif
    }
    """
    int cnet_cpu_has_avx2() nogil


# The two loops over a layer's inputs -- for the input layer, 81% of the
# arithmetic -- in C with GCC's vector extensions, so that a slice of 8·V
# neurons of z (forward) or of δ (update) stays in eight V-wide registers while
# the loop runs over the inputs: an example's non-zero pixels (index[p] is the
# pixel), or all of a hidden layer's activations (index is NULL: input p).
# V = 4 doubles or 8 floats (real_t, set by the module that includes this file).
# Plain loops for compilers without the extensions.  Both compute exactly what
# the comments say, in the same order, so results do not depend on which is
# compiled.
cdef extern from *:
    """
    #define CNET_ROW(p) ((Py_ssize_t) (index ? index[p] : (p)))
    #if defined(__GNUC__)
    typedef CNET_REAL cnet_vec __attribute__((vector_size(32)));
    #define CNET_V ((Py_ssize_t) (sizeof(cnet_vec) / sizeof(CNET_REAL)))
    #define CNET_LOAD(v, p) __builtin_memcpy(&(v), (p), sizeof(cnet_vec))
    #define CNET_STORE(p, v) __builtin_memcpy((p), &(v), sizeof(cnet_vec))
    /* acc_k += x · wt_row[k·V …], k < K */
    #define CNET_FORWARD(K) do { \
            cnet_vec acc[K], w; int k; \
            for (k = 0; k < K; k++) CNET_LOAD(acc[k], b + jb + k * CNET_V); \
            for (p = p0; p < p1; p++) { \
                const CNET_REAL *r = wt + CNET_ROW(p) * s + jb; \
                CNET_REAL x = value[p]; \
                for (k = 0; k < K; k++) { CNET_LOAD(w, r + k * CNET_V); acc[k] += x * w; } \
            } \
            for (k = 0; k < K; k++) CNET_STORE(z + jb + k * CNET_V, acc[k]); \
            jb += K * CNET_V; \
        } while (0)
    /* wt_row[k·V …] += (−c · x) · d[k·V …], k < K */
    #define CNET_UPDATE(K) do { \
            cnet_vec dv[K], w; int k; \
            for (k = 0; k < K; k++) CNET_LOAD(dv[k], d + jb + k * CNET_V); \
            for (p = p0; p < p1; p++) { \
                CNET_REAL *r = wt + CNET_ROW(p) * s + jb; \
                CNET_REAL a = -(c * value[p]); \
                for (k = 0; k < K; k++) { \
                    CNET_LOAD(w, r + k * CNET_V); w += a * dv[k]; CNET_STORE(r + k * CNET_V, w); \
                } \
            } \
            jb += K * CNET_V; \
        } while (0)
    #endif

    /* z[j] = b[j] + Σ_{p0 ≤ p < p1} value[p] · wt[row(p)·s + j], for j < n */
    static void cnet_rows_forward(const CNET_REAL *b, const CNET_REAL *wt, Py_ssize_t s,
                                  Py_ssize_t n, const int *index, const CNET_REAL *value,
                                  Py_ssize_t p0, Py_ssize_t p1, CNET_REAL *z)
    {
        Py_ssize_t jb = 0, p;
    #if defined(__GNUC__)
        while (jb + 8 * CNET_V <= n) CNET_FORWARD(8);
        while (jb + 4 * CNET_V <= n) CNET_FORWARD(4);
    #endif
        for (; jb < n; jb++) {
            z[jb] = b[jb];
            for (p = p0; p < p1; p++)
                z[jb] += value[p] * wt[CNET_ROW(p) * s + jb];
        }
    }

    /* wt[row(p)·s + j] += (−c · value[p]) · d[j], for p0 ≤ p < p1 in order, j < n */
    static void cnet_rows_update(CNET_REAL *wt, Py_ssize_t s, Py_ssize_t n, const int *index,
                                 const CNET_REAL *value, Py_ssize_t p0, Py_ssize_t p1,
                                 CNET_REAL c, const CNET_REAL *d)
    {
        Py_ssize_t jb = 0, p;
    #if defined(__GNUC__)
        while (jb + 8 * CNET_V <= n) CNET_UPDATE(8);
        while (jb + 4 * CNET_V <= n) CNET_UPDATE(4);
    #endif
        for (; jb < n; jb++)
            for (p = p0; p < p1; p++)
                wt[CNET_ROW(p) * s + jb] += -(c * value[p]) * d[jb];
    }
    """
    void cnet_rows_forward(const real_t *b, const real_t *wt, Py_ssize_t s, Py_ssize_t n,
                           const int *index, const real_t *value, Py_ssize_t p0, Py_ssize_t p1,
                           real_t *z) nogil
    void cnet_rows_update(real_t *wt, Py_ssize_t s, Py_ssize_t n, const int *index,
                          const real_t *value, Py_ssize_t p0, Py_ssize_t p1, real_t c,
                          const real_t *d) nogil


# Layers after the input are stored BLOCK wide (BLOCK = 4·V, set by the module
# that includes this file): a layer of n neurons takes s = ⌈n / BLOCK⌉·BLOCK
# slots, the extra ones holding zero weights, zero biases and zero errors.
# Every loop over a layer's neurons then runs over whole vectors.


cdef struct Net:
    Py_ssize_t L          # number of weight layers
    Py_ssize_t *n         # n[0 … L]: the layer widths
    Py_ssize_t *s         # s[l]: the stored width of layer l ≥ 1 (n[l] rounded up to BLOCK)
    real_t **wt           # wt[l][i * s[l+1] + j] = w_l[j, i] / scale[l]  (n[l] rows), l ≥ 1
    Py_ssize_t panels     # wt[0] is cut by columns into panels: panel q holds columns
    # panel q (col[q] ≤ j < col[q+1]) is an n[0] × (col[q+1] − col[q]) matrix at
    # wt[0] + n[0] · col[q] (one panel: the layout above)
    Py_ssize_t *col
    real_t *scale         # scale[l]: w_l = scale[l] · wt[l]ᵀ (lazy L2 decay; 1 without it)
    real_t **b            # b[l][j]: bias of neuron j of layer l+1  (s[l+1] entries)
    real_t *zeros         # s_max zeros: the bias of a scaled layer's unscaled sum
    Py_ssize_t *off       # a_{l+1} and δ_{l+1} start at off[l] in an example's block
    Py_ssize_t width      # s[1] + … + s[L]: the length of one example's block


cdef struct Rows:
    # Row e's non-zero entries are x[e, index[p]] = value[p], start[e] <= p < start[e + 1]
    const Py_ssize_t *start
    const int *index
    const real_t *value


cdef class Inputs:
    """A matrix of inputs, one example per row, as compressed rows: for each row,
    its non-zero entries and their column indices.  Made by ``prepare``."""
    cdef readonly Py_ssize_t n_rows, n_cols
    cdef Py_ssize_t *start       # n_rows + 1 entries
    cdef int *index              # capacity entries, start[n_rows] of them used
    cdef real_t *value
    cdef Py_ssize_t capacity

    # The buffers come from Python's raw allocator, so that tracemalloc counts them.
    def __dealloc__(self):
        PyMem_RawFree(self.start)
        PyMem_RawFree(self.index)
        PyMem_RawFree(self.value)

    cdef Rows rows(self) noexcept:
        cdef Rows r
        r.start = self.start
        r.index = self.index
        r.value = self.value
        return r

    cdef int reserve(self, Py_ssize_t entries) except -1:
        # room for exactly `entries` non-zero entries (realloc moves large blocks by
        # remapping pages rather than copying them)
        cdef void *grown
        if entries == self.capacity:
            return 0
        entries = max(entries, 1)
        grown = PyMem_RawRealloc(self.index, entries * sizeof(int))
        if grown == NULL:
            raise MemoryError()
        self.index = <int *> grown
        grown = PyMem_RawRealloc(self.value, entries * sizeof(real_t))
        if grown == NULL:
            raise MemoryError()
        self.value = <real_t *> grown
        self.capacity = entries
        return 0


cdef Py_ssize_t count_nonzero(const real_in[:, ::1] X) noexcept nogil:
    # #{(e, i) : X[e, i] ≠ 0}, counted without a branch (a fifth of MNIST's pixels
    # are non-zero, in no pattern a branch predictor could learn)
    cdef Py_ssize_t e, i, count = 0
    cdef const real_in *row
    for e in range(X.shape[0]):
        row = &X[e, 0]
        for i in range(X.shape[1]):
            count += row[i] != 0
    return count


cdef void gather_nonzero(const real_in[:, ::1] X, Py_ssize_t *start, int *index,
                         real_t *value) noexcept nogil:
    # (index, value)[start[0] …] ← the non-zero X[e, i], row after row;
    # start[e + 1] = where row e's entries end.  Without a branch: every entry is
    # written at p, and p moves on only past a non-zero one (so the buffers need
    # room for one entry more than they keep).
    cdef Py_ssize_t e, i, p = start[0]
    cdef const real_in *row
    cdef real_in x
    for e in range(X.shape[0]):
        row = &X[e, 0]
        for i in range(X.shape[1]):
            x = row[i]
            index[p] = <int> i
            value[p] = <real_t> x
            p += x != 0
        start[e + 1] = p


def _append_block(Inputs out, const real_in[:, ::1] X, Py_ssize_t first):
    # the compressed rows first … first + len(X) − 1, from the dense block X
    cdef Py_ssize_t count, needed, done = first + X.shape[0]
    if X.shape[0] == 0:
        return
    with nogil:
        count = count_nonzero(X)
    needed = out.start[first] + count + 1     # + 1: see gather_nonzero
    if needed > out.capacity:
        # room for what the rows so far project for the whole set, plus 5%
        out.reserve(max(needed, <Py_ssize_t> (1.05 * needed * out.n_rows / done)))
    with nogil:
        gather_nonzero(X, out.start + first, out.index, out.value)


def prepare(X):
    """The inputs in the form the other kernels take: an ``Inputs`` holding each
    example's non-zero entries.  ``X`` is an (m, n_in) float32 or float64 array,
    one example per row, or a ``cnet._checks.InputRows`` (a list of checked examples
    read block by block, so that no dense copy of a whole data set is made)."""
    blocks = [(0, X)] if isinstance(X, np.ndarray) else X.blocks()
    n_rows, n_cols = X.shape
    if n_cols >= 2**31:
        raise ValueError("inputs wider than 2**31 - 1 are not supported")
    out = Inputs()
    out.n_rows, out.n_cols = n_rows, n_cols
    out.start = <Py_ssize_t *> PyMem_RawCalloc(n_rows + 1, sizeof(Py_ssize_t))
    if out.start == NULL:
        raise MemoryError()
    for first, block in blocks:
        _append_block(out, block, first)
    out.reserve(out.start[n_rows])  # give back what the projection over-reserved
    return out


cdef class Params:
    """The parameters in the kernels' layout (see the module docstring).

    ``Params(weights, biases)`` copies them in; ``write_back(weights, biases)``
    copies them out, in place, into arrays of the user's shapes.
    """
    cdef Net net
    cdef real_t[::1] theta, scales, zeros
    cdef Py_ssize_t[::1] sizes, stored, offsets, cols
    cdef list layers   # ([(j0, panel of w_l transposed), …], b_l): views of theta

    def __cinit__(self, list weights, list biases, Py_ssize_t panels=1):
        # panels: how many panels to cut wt_0 into (at most one per BLOCK of layer 1)
        cdef Py_ssize_t L = len(weights), l, pos = 0, q
        if L < 1 or len(biases) != L:
            raise ValueError("expected at least one layer of weights, and one bias vector per layer")
        n = [weights[0].shape[1]] + [w.shape[0] for w in weights]
        s = [n[0]] + [-(-w // BLOCK) * BLOCK for w in n[1:]]
        self.sizes = np.asarray(n, dtype=np.intp)
        self.stored = np.asarray(s, dtype=np.intp)
        self.offsets = np.cumsum([0] + s[1:], dtype=np.intp)
        size = sum(n[l] * s[l + 1] + s[l + 1] for l in range(L))
        # at a multiple of 64 bytes, so that each BLOCK of a row of wt is whole cache lines
        # (threads update different blocks)
        raw = np.zeros(size + 64 // sizeof(real_t), dtype=DTYPE)
        skip = (-raw.ctypes.data % 64) // sizeof(real_t)
        theta = raw[skip:skip + size]
        self.theta = theta
        self.net.wt = <real_t **> malloc(L * sizeof(real_t *))
        self.net.b = <real_t **> malloc(L * sizeof(real_t *))
        if self.net.wt == NULL or self.net.b == NULL:
            raise MemoryError()
        self.scales = np.ones(L, dtype=DTYPE)
        self.zeros = np.zeros(max(s[1:]), dtype=DTYPE)
        self.net.scale = &self.scales[0]
        self.net.zeros = &self.zeros[0]
        self.net.L = L
        self.net.n = &self.sizes[0]
        self.net.s = &self.stored[0]
        self.net.off = &self.offsets[0]
        self.net.width = self.offsets[L]
        blocks = s[1] // BLOCK
        panels = max(1, min(panels, blocks))
        self.cols = np.asarray([q * blocks // panels * BLOCK for q in range(panels + 1)],
                               dtype=np.intp)
        self.net.panels = panels
        self.net.col = &self.cols[0]
        self.layers = []
        for l in range(L):
            if weights[l].shape != (n[l + 1], n[l]) or biases[l].shape != (n[l + 1], 1):
                raise ValueError("weights and biases do not chain")
            cuts = list(self.cols) if l == 0 else [0, s[1 + l]]
            wts = []
            for q in range(len(cuts) - 1):
                j0, j1 = cuts[q], cuts[q + 1]
                wt = theta[pos + n[l] * j0:pos + n[l] * j1].reshape(n[l], j1 - j0)
                wt[:, :max(0, min(j1, n[l + 1]) - j0)] = weights[l][j0:j1].T
                wts.append((j0, wt))
            self.net.wt[l] = &self.theta[pos]
            pos += n[l] * s[l + 1]
            b = theta[pos:pos + s[l + 1]]
            b[:n[l + 1]] = biases[l][:, 0]
            self.net.b[l] = &self.theta[pos]
            pos += s[l + 1]
            self.layers.append((wts, b))

    def __dealloc__(self):
        free(self.net.wt)
        free(self.net.b)

    def write_back(self, list weights, list biases):
        """Copy the parameters into ``weights[l]`` (n[l+1], n[l]) and ``biases[l]`` (n[l+1], 1)."""
        for l, (wts, b) in enumerate(self.layers):
            out = weights[l].shape[0]
            for j0, wt in wts:
                if self.scales[l] != 1:
                    wt *= self.scales[l]     # w_l = scale · wt: the lazy decay, applied
                j1 = min(out, j0 + wt.shape[1])
                if j1 > j0:
                    weights[l][j0:j1] = wt[:, :j1 - j0].T
            self.scales[l] = 1
            biases[l][:, 0] = b[:out]


# ---------------------------------------------------------------- the loops

cdef inline real_t sigmoid(real_t z) noexcept nogil:
    # σ(z) = 1 / (1 + e^{−z})
    return 1 / (1 + real_exp(-z))


cdef void input_sum(const Net *net, const Rows *X, Py_ssize_t e, Py_ssize_t q,
                    real_t *act) noexcept nogil:
    # z_1[j] = b_0[j] + Σ_{p : x_i ≠ 0} x_i · wt_0[i, j] for the columns j of panel q,
    # into act[j] (i = index[p], x_i = value[p]; b_0 is left out while layer 0 has a
    # scale ≠ 1, and added by finish_forward)
    cdef Py_ssize_t j0 = net.col[q], j1 = net.col[q + 1]
    cnet_rows_forward((net.b[0] if net.scale[0] == 1 else net.zeros) + j0,
                      net.wt[0] + net.n[0] * j0, j1 - j0, j1 - j0,
                      X.index, X.value, X.start[e], X.start[e + 1], act + j0)


cdef void finish_forward(const Net *net, real_t *act) noexcept nogil:
    # Given z_1 from input_sum in act[0 …]: a_1 = σ(z_1), then
    # a_{l+1} = σ(w_l a_l + b_l), l = 1 … L−1, into act[off[l] …]
    cdef Py_ssize_t l, j, no
    cdef real_t *a
    cdef real_t sc
    for l in range(net.L):
        no = net.s[l + 1]
        a = act + net.off[l]
        sc = net.scale[l]
        if l > 0:
            # z_{l+1} = b_l + Σ_i a_{l,i} · wt_l[i, :]
            cnet_rows_forward(net.b[l] if sc == 1 else net.zeros, net.wt[l], no, no,
                              NULL, act + net.off[l - 1], 0, net.n[l], a)
        if sc != 1:
            for j in range(net.n[l + 1]):
                a[j] = net.b[l][j] + sc * a[j]     # z = b + scale · Σ …
        for j in range(net.n[l + 1]):
            a[j] = sigmoid(a[j])


cdef void forward(const Net *net, const Rows *X, Py_ssize_t e, real_t *act) noexcept nogil:
    # a_{l+1} = σ(w_l a_l + b_l), l = 0 … L−1, into act[off[l] …]
    cdef Py_ssize_t q
    for q in range(net.panels):
        input_sum(net, X, e, q, act)
    finish_forward(net, act)


cdef extern from *:
    """
    #define CNET_LANES ((Py_ssize_t) (32 / sizeof(CNET_REAL)))   /* V: 4 doubles, 8 floats */
    /* Σ_j u_j v_j for n a multiple of V, as V partial sums -- sum k over j ≡ k (mod V),
       so that the loop is not one long dependency chain -- added pairwise:
       (s0 + s1) + (s2 + s3) for V = 4.  One V-wide register with GCC's vector
       extensions, an array elsewhere: the same additions in the same order. */
    static CNET_REAL cnet_dot(const CNET_REAL *u, const CNET_REAL *v, Py_ssize_t n)
    {
        CNET_REAL r[32 / sizeof(CNET_REAL)];
        Py_ssize_t j, k, w;
    #if defined(__GNUC__)
        cnet_vec acc = {0}, a, b;
        for (j = 0; j < n; j += CNET_LANES) {
            CNET_LOAD(a, u + j);
            CNET_LOAD(b, v + j);
            acc += a * b;
        }
        __builtin_memcpy(r, &acc, sizeof(r));
    #else
        for (k = 0; k < CNET_LANES; k++) r[k] = 0;
        for (j = 0; j < n; j += CNET_LANES)
            for (k = 0; k < CNET_LANES; k++) r[k] += u[j + k] * v[j + k];
    #endif
        for (w = CNET_LANES / 2; w >= 1; w /= 2)
            for (k = 0; k < w; k++) r[k] = r[2 * k] + r[2 * k + 1];
        return r[0];
    }
    """
    real_t cnet_dot(const real_t *u, const real_t *v, Py_ssize_t n) nogil


cdef void backward(const Net *net, const real_t *act, const double *y, int cost,
                   real_t *delta) noexcept nogil:
    # Output error: δ_L = (a_L − y) ⊙ σ'(z_L) (quadratic) or a_L − y (cross-entropy),
    # with σ'(z) = σ(z)(1 − σ(z)) = a(1 − a).
    # Then backwards: δ_l = (w_lᵀ δ_{l+1}) ⊙ σ'(z_l), l = L−1 … 1.
    cdef Py_ssize_t L = net.L, l, i, no
    cdef const real_t *a = act + net.off[L - 1]
    cdef real_t *d = delta + net.off[L - 1]
    cdef const real_t *d_next
    for i in range(net.n[L]):
        d[i] = a[i] - <real_t> y[i]
        if cost == QUADRATIC:
            d[i] = d[i] * (a[i] * (1 - a[i]))
    for l in range(L - 1, 0, -1):
        no = net.s[l + 1]
        a = act + net.off[l - 1]
        d = delta + net.off[l - 1]
        d_next = delta + net.off[l]
        for i in range(net.n[l]):
            # (w_lᵀ δ_{l+1})_i is row i of wt[l] dotted with δ_{l+1} (zero in the padding)
            if net.scale[l] == 1:
                d[i] = cnet_dot(net.wt[l] + i * no, d_next, no) * (a[i] * (1 - a[i]))
            else:
                d[i] = (net.scale[l] * cnet_dot(net.wt[l] + i * no, d_next, no)) * (a[i] * (1 - a[i]))


cdef void step_layer(Net *net, const Rows *X, const Py_ssize_t *batch, Py_ssize_t m,
                     const real_t *act, const real_t *delta, real_t c, real_t fold,
                     Py_ssize_t l, Py_ssize_t q, real_t *nabla_b) noexcept nogil:
    # Layer l's share of one SGD step over the m examples whose activations and errors
    # are in act/delta: panel q of wt_0 when l = 0 (neurons j0 ≤ j < j1 of layer 1),
    # else all of layer l+1 (c = η/m):
    #   w_l ← decay · w_l − c Σ_k δ_{l+1,k} a_{l,k}ᵀ      (decay = 1 − ηλ/n)
    #   b_l ← b_l − c Σ_k δ_{l+1,k}
    # All δ were computed before any weight moves, so subtracting each example's
    # term straight from w is the same step as summing ∇w first (up to the order
    # of the additions).  The decay is lazy, as in scikit-learn's SGD: with
    # w = scale · wt, it is scale ← decay · scale (done before, by decay_scales),
    # and the step subtracts (c / scale) a δᵀ from wt -- O(1) instead of a pass
    # over every weight.  fold ≠ 0: the scale was folded back into wt at this step.
    cdef Py_ssize_t i, k, j, e, j0 = 0, j1 = net.s[l + 1], no, W = net.width
    cdef real_t *wt
    cdef real_t cl
    cdef const real_t *d
    if l == 0:
        j0 = net.col[q]
        j1 = net.col[q + 1]
    no = j1 - j0                      # the row length of wt_l's panel
    wt = net.wt[l] + net.n[l] * j0
    if fold != 0:
        for i in range(net.n[l]):
            for j in range(no):
                wt[i * no + j] = fold * wt[i * no + j]
    cl = c if net.scale[l] == 1 else c / net.scale[l]
    for k in range(m):
        # wt_l[i, j0:j1] −= (cl a_{l,i}) δ_{l+1}[j0:j1], over the non-zero inputs when l = 0
        d = delta + k * W + net.off[l] + j0
        if l == 0:
            e = batch[k]
            cnet_rows_update(wt, no, no, X.index, X.value, X.start[e], X.start[e + 1], cl, d)
        else:
            cnet_rows_update(wt, no, no, NULL, act + k * W + net.off[l - 1], 0, net.n[l], cl, d)
    # ∇b_l = Σ_k δ_{l+1,k}, summed in example order, then b_l −= c ∇b_l
    for j in range(j0, j1):
        nabla_b[j] = 0
    for k in range(m):
        for j in range(j0, j1):
            nabla_b[j] += delta[k * W + net.off[l] + j]
    for j in range(j0, min(j1, net.n[l + 1])):
        net.b[l][j] -= c * nabla_b[j]


cdef void decay_scales(Net *net, real_t decay, real_t *fold) noexcept nogil:
    # scale_l ← decay · scale_l; when that falls below 1e-3, fold[l] ← scale_l and
    # scale_l ← 1 (step_layer then multiplies wt_l by fold[l] before wt_l grows large);
    # else fold[l] ← 0
    cdef Py_ssize_t l
    for l in range(net.L):
        fold[l] = 0
        if decay != 1:
            net.scale[l] = decay * net.scale[l]
            if net.scale[l] < 1e-3:
                fold[l] = net.scale[l]
                net.scale[l] = 1


cdef extern from *:
    """
    #if defined(__GNUC__)
    #define cnet_prefetch(p) __builtin_prefetch((p), 0, 2)
    #else
    #define cnet_prefetch(p) ((void) 0)
    #endif
    """
    void cnet_prefetch(const void *p) nogil


cdef enum:
    AHEAD = 4   # examples between a prefetch and the use of what it fetched


cdef inline void prefetch_example(const Rows *X, Py_ssize_t e) noexcept nogil:
    # Ask the cache for example e's non-zero entries ahead of use: training visits
    # examples in shuffled order, so each one's entries start a fresh, unpredicted stream.
    cdef Py_ssize_t p
    for p in range(X.start[e], X.start[e + 1], 8):
        cnet_prefetch(&X.value[p])      # 8 or 16 values to a 64-byte line
    for p in range(X.start[e], X.start[e + 1], 16):
        cnet_prefetch(&X.index[p])      # 16 ints to a line


# ----------------------------------------------------------------- threads
# A call can share its work among T threads (num_threads): Python threads that
# each run the same nogil loop with their own t, meeting at a barrier.  Every
# weight and every sum is computed by exactly one thread, in the same order as
# with one thread, so the results are the same bits whatever T is.

cdef extern from *:
    """
    #if defined(__GNUC__) && !defined(_WIN32)
    #include <sched.h>
    #define CNET_THREADS 1
    #else
    #define CNET_THREADS 0
    #endif
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #define cnet_pause() __builtin_ia32_pause()
    #else
    #define cnet_pause() ((void) 0)
    #endif
    /* n threads; count of them at the barrier; gen: how often it has opened;
       go: set once the team is complete (n is final); stop: leave at once */
    typedef struct { int n, count, gen, go, stop; } cnet_team;

    static void cnet_wait_while_equal(const int *what, int value) {
    #if CNET_THREADS
        int spins = 0;
        while (__atomic_load_n(what, __ATOMIC_ACQUIRE) == value) {
            if (++spins < 2000) cnet_pause(); else sched_yield();
        }
    #endif
    }
    /* 1 in the last of the n threads to arrive, which must then call cnet_release;
       the others return 0 once it has */
    static int cnet_arrive(cnet_team *t) {
    #if CNET_THREADS
        int gen;
        if (t->n == 1) return 1;
        gen = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
        if (__atomic_add_fetch(&t->count, 1, __ATOMIC_ACQ_REL) == t->n) return 1;
        cnet_wait_while_equal(&t->gen, gen);
        return 0;
    #else
        return 1;
    #endif
    }
    static void cnet_release(cnet_team *t) {
    #if CNET_THREADS
        if (t->n == 1) return;
        __atomic_store_n(&t->count, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&t->gen, 1, __ATOMIC_RELEASE);
    #endif
    }
    static void cnet_barrier(cnet_team *t) { if (cnet_arrive(t)) cnet_release(t); }
    /* the team is complete: n threads (stop: none of them is to work) */
    static void cnet_go(cnet_team *t, int n, int stop) {
        t->n = n;
        t->stop = stop;
    #if CNET_THREADS
        __atomic_store_n(&t->go, 1, __ATOMIC_RELEASE);
    #endif
    }
    /* wait for cnet_go; 1 if thread `me` is to work */
    static int cnet_join(cnet_team *t, int me) {
        cnet_wait_while_equal(&t->go, 0);
        return !t->stop && me < t->n;
    }
    """
    ctypedef struct cnet_team:
        int n
    int CNET_THREADS
    int cnet_arrive(cnet_team *t) nogil
    void cnet_release(cnet_team *t) nogil
    void cnet_barrier(cnet_team *t) nogil
    void cnet_go(cnet_team *t, int n, int stop) nogil
    int cnet_join(cnet_team *t, int me) nogil


def threads_supported():
    """True when this build can share a call among several threads."""
    return bool(CNET_THREADS)


cdef object start_team(cnet_team *team, target, holder, Py_ssize_t wanted):
    # Start target(holder, t) for t = 1 … wanted − 1 on new threads, fewer if the
    # system refuses one, and complete the team; returns the started threads.
    # If the caller is interrupted here, the team is told to stop.
    threads = []
    complete = False
    try:
        for t in range(1, wanted if CNET_THREADS else 1):
            thread = threading.Thread(target=target, args=(holder, t), daemon=True)
            try:
                thread.start()
            except RuntimeError:        # "can't start new thread": go on with fewer
                break
            threads.append(thread)
        complete = True
    finally:
        cnet_go(team, len(threads) + 1, not complete)
    return threads


cdef struct Job:
    # one call to train, shared by its threads
    Net *net
    const Rows *X
    const double *Y
    Py_ssize_t n_out
    const Py_ssize_t *order
    Py_ssize_t count, mbs
    real_t eta, decay
    int cost
    real_t *act         # 2 · mbs rows of `width`: one mini-batch's activations, the next's
    real_t *delta       # mbs rows of `width`: the errors
    real_t *nabla_b     # width: ∇b of every layer (at off[l])
    real_t *fold        # L: see decay_scales
    cnet_team team


cdef void train_part(Job *job, int t) noexcept nogil:
    # Thread t's part of SGD over the mini-batches order[0:mbs], order[mbs:2·mbs], …
    # (the last may be shorter).  Layer 0 -- nearly all the work -- is split by the
    # neurons of layer 1: thread t owns the panels q ≡ t mod T of wt_0 (each its own
    # block of memory, so that threads never share a cache line) and those columns
    # of b_0.  Per mini-batch:
    #   1. z_1 on those columns, for each example;
    #   2. (after all threads) the rest of the forward pass and δ of examples k ≡ t mod T;
    #   3. (after all) the step of layer 0 on those panels, and of layers ≥ 1 by the last thread.
    cdef Net *net = job.net
    cdef Py_ssize_t T = job.team.n, W = net.width, start = 0, m, k, e, l, q, batch = 0
    cdef real_t *act
    while start < job.count:
        m = job.mbs if job.count - start > job.mbs else job.count - start
        # the other half of act from the last mini-batch's, which the last thread may still be reading
        act = job.act + (batch % 2) * job.mbs * W
        for k in range(m):
            if t < net.panels and start + k + AHEAD < job.count:
                prefetch_example(job.X, job.order[start + k + AHEAD])
            q = t
            while q < net.panels:
                input_sum(net, job.X, job.order[start + k], q, act + k * W)
                q += T
        cnet_barrier(&job.team)
        k = t
        while k < m:
            e = job.order[start + k]
            finish_forward(net, act + k * W)
            backward(net, act + k * W, job.Y + e * job.n_out, job.cost, job.delta + k * W)
            k += T
        if cnet_arrive(&job.team):
            decay_scales(net, job.decay, job.fold)
            cnet_release(&job.team)
        q = t
        while q < net.panels:
            step_layer(net, job.X, job.order + start, m, act, job.delta, job.eta / m,
                       job.fold[0], 0, q, job.nabla_b)
            q += T
        if t == T - 1:
            for l in range(1, net.L):
                step_layer(net, job.X, job.order + start, m, act, job.delta, job.eta / m,
                           job.fold[l], l, 0, job.nabla_b + net.off[l])
        start += m
        batch += 1


cdef class TrainJob:
    # A Job and what it points into, alive as long as any of its threads
    cdef Job job
    cdef Rows rows
    cdef object keep

    def __dealloc__(self):
        cnet_free64(self.job.act)
        cnet_free64(self.job.delta)
        cnet_free64(self.job.nabla_b)
        cnet_free64(self.job.fold)


def _train_thread(TrainJob h, int t):
    with nogil:
        if cnet_join(&h.job.team, t):
            train_part(&h.job, t)


cdef inline double cost_fn(const real_t *a, const double *y, Py_ssize_t n, int cost) noexcept nogil:
    # quadratic: ½‖a − y‖²;  cross-entropy: Σ_j nan_to_num(−y_j ln a_j − (1 − y_j) ln(1 − a_j))
    cdef Py_ssize_t j
    cdef double s = 0.0, t
    for j in range(n):
        if cost == QUADRATIC:
            t = a[j] - y[j]
            s += t * t
        else:
            t = -y[j] * log(a[j]) - (1.0 - y[j]) * log(1.0 - a[j])
            if isnan(t):
                t = 0.0
            elif isinf(t):
                t = DBL_MAX if t > 0 else -DBL_MAX
            s += t
    return 0.5 * s if cost == QUADRATIC else s


# ---------------------------------------------------------- the interface

def cpu_has_avx2():
    """True when this CPU runs AVX2 and FMA instructions."""
    return bool(cnet_cpu_has_avx2())


cdef int cost_id(cost) except -1:
    from cnet.functions import CrossEntropyCost, QuadraticCost
    if cost is QuadraticCost:
        return QUADRATIC
    if cost is CrossEntropyCost:
        return CROSS_ENTROPY
    raise TypeError(f"the compiled kernels have no cost {cost!r}")


def supports(cost):
    """True when these kernels compute ``cost`` themselves (the two built-in costs)."""
    from cnet.functions import CrossEntropyCost, QuadraticCost
    return cost is QuadraticCost or cost is CrossEntropyCost


cdef void check_inputs(Params p, Inputs X) except *:
    if X.n_cols != p.net.n[0]:
        raise ValueError(f"inputs have {X.n_cols} columns; the network takes {p.net.n[0]}")


cdef void check_targets(Params p, Y, Py_ssize_t n_rows) except *:
    if Y.ndim != 2 or Y.shape[1] != p.net.n[p.net.L] or Y.shape[0] != n_rows:
        raise ValueError(f"Y has shape {Y.shape}; expected ({n_rows}, {p.net.n[p.net.L]})")


cdef real_t *scratch(Py_ssize_t count) except NULL:
    # zeroed, so that the padding of every layer's errors stays zero
    cdef real_t *buf = <real_t *> calloc(count if count > 0 else 1, sizeof(real_t))
    if buf == NULL:
        raise MemoryError()
    return buf


cdef extern from *:
    """
    #include <stdint.h>
    /* n zero bytes at an address that is a multiple of 64 (a cache line), so that
       threads writing different lines of one buffer never share a line */
    static void *cnet_calloc64(size_t n) {
        char *raw = (char *) calloc(n + 64 + sizeof(void *), 1), *p;
        if (raw == NULL) return NULL;
        p = (char *) (((uintptr_t) (raw + sizeof(void *)) + 63) & ~(uintptr_t) 63);
        ((void **) p)[-1] = raw;
        return p;
    }
    static void cnet_free64(void *p) { if (p != NULL) free(((void **) p)[-1]); }
    """
    void *cnet_calloc64(size_t n) nogil
    void cnet_free64(void *p) nogil


cdef real_t *scratch64(Py_ssize_t count) except NULL:
    # as scratch, at a multiple of 64 bytes; give back with cnet_free64
    cdef real_t *buf = <real_t *> cnet_calloc64(max(count, 1) * sizeof(real_t))
    if buf == NULL:
        raise MemoryError()
    return buf


cdef object forward_all(Params p, Inputs X):
    # every example's activations a_1 … a_L, one row per example
    check_inputs(p, X)
    cdef Py_ssize_t e, m = X.n_rows
    out = np.empty((m, p.net.width), dtype=DTYPE)
    cdef real_t[:, ::1] act = out
    cdef Rows rows = X.rows()
    if m:
        with nogil:
            for e in range(m):
                forward(&p.net, &rows, e, &act[e, 0])
    return out


def feedforward(list weights, list biases, Inputs X):
    """The output activations a_L for each row of X: an (m, n_L) array of DTYPE."""
    p = Params(weights, biases)
    cdef Py_ssize_t out = p.net.off[p.net.L - 1]
    return forward_all(p, X)[:, out:out + p.net.n[p.net.L]]


def predict(list weights, list biases, Inputs X):
    """argmax of the output activations for each row of X (first maximum on ties)."""
    return cost_and_predict(weights, biases, X, None, None)[1]


def backprop(list weights, list biases, x, y, cost):
    """(nabla_b, nabla_w) of the cost of one example, shaped like biases and weights."""
    p = Params(weights, biases)
    check_targets(p, y.reshape(1, -1), 1)
    cdef int c = cost_id(cost)
    cdef Py_ssize_t W = p.net.width, L = p.net.L, l
    act = forward_all(p, prepare(np.ascontiguousarray(x.reshape(1, -1))))[0]
    delta = np.zeros(W, dtype=DTYPE)
    cdef real_t[::1] act_mv = act, delta_mv = delta
    cdef const double[::1] y_mv = np.ascontiguousarray(y, dtype=np.float64).ravel()
    backward(&p.net, &act_mv[0], &y_mv[0], c, &delta_mv[0])
    # ∂C/∂b_l = δ_{l+1},  ∂C/∂w_l = δ_{l+1} a_lᵀ
    layer = [(p.offsets[l], p.offsets[l] + p.sizes[l + 1]) for l in range(L)]
    inputs = [np.asarray(x, dtype=DTYPE).ravel()] + [act[i:j] for i, j in layer[:-1]]
    deltas = [delta[i:j] for i, j in layer]
    return ([d.reshape(-1, 1).copy() for d in deltas],
            [np.outer(d, a) for d, a in zip(deltas, inputs)])


def train(list weights, list biases, Inputs X, const double[:, ::1] Y,
          const Py_ssize_t[::1] order, Py_ssize_t mini_batch_size, double eta,
          double lmbda, double n, cost, Py_ssize_t num_threads=1):
    """Run SGD over the mini-batches order[0:s], order[s:2s], … (s = mini_batch_size).

    Each step is w ← (1 − ηλ/n) w − (η/m) ∇w, b ← b − (η/m) ∇b over the m
    examples of the mini-batch.  Updates ``weights`` and ``biases`` in place.
    ``num_threads`` threads share the work; the result does not depend on it.
    """
    if num_threads < 1:
        raise ValueError("num_threads must be at least 1")
    p = Params(weights, biases, num_threads)
    check_inputs(p, X)
    check_targets(p, np.asarray(Y), X.n_rows)
    cdef int c = cost_id(cost)
    cdef Py_ssize_t count = order.shape[0]
    if mini_batch_size < 1:
        raise ValueError("mini_batch_size must be at least 1")
    if count and (np.min(order) < 0 or np.max(order) >= X.n_rows):
        raise ValueError("order indexes outside X")
    if count == 0:
        return
    cdef Py_ssize_t m = min(mini_batch_size, count), W = p.net.width
    cdef Rows rows = X.rows()
    cdef TrainJob h = TrainJob()
    h.keep = (p, X, Y, order)
    h.job.net = &p.net
    h.job.X = &h.rows
    h.rows = rows
    h.job.Y = &Y[0, 0]
    h.job.n_out = Y.shape[1]
    h.job.order = &order[0]
    h.job.count = count
    h.job.mbs = m
    h.job.eta = <real_t> eta
    h.job.decay = 1.0 - eta * (lmbda / n)
    h.job.cost = c
    h.job.act = scratch64(2 * m * W)
    h.job.delta = scratch64(m * W)
    h.job.nabla_b = scratch64(W)
    h.job.fold = scratch64(p.net.L)
    # one thread per panel: more would have nothing to do
    threads = start_team(&h.job.team, _train_thread, h, p.net.panels)
    with nogil:
        train_part(&h.job, 0)
    for thread in threads:
        thread.join()
    p.write_back(weights, biases)


cdef enum:
    SCAN_BLOCK = 256    # rows whose costs are summed together, in order


cdef struct Scan:
    # one forward pass over the rows of X, shared by its threads
    const Net *net
    const Rows *X
    Py_ssize_t m
    const double *Y     # NULL: no costs
    int cost
    Py_ssize_t *labels  # NULL: no labels
    double *partial     # ⌈m / SCAN_BLOCK⌉ sums of costs
    real_t *act         # a row of `width` for each thread
    cnet_team team


cdef void scan_part(Scan *job, int t) noexcept nogil:
    # Thread t's blocks of rows, b ≡ t mod T: partial[b] = Σ_{e in block b} cost.fn(a_L, y_e)
    # when Y is given, and labels[e] = argmax_j a_L[j] (the first maximum) when given.
    cdef const Net *net = job.net
    cdef Py_ssize_t T = job.team.n, b, e, e0, e1, j, best
    cdef Py_ssize_t blocks = (job.m + SCAN_BLOCK - 1) // SCAN_BLOCK, n_out = net.n[net.L]
    cdef real_t *act = job.act + t * net.width
    cdef real_t *a = act + net.off[net.L - 1]
    cdef double total
    b = t
    while b < blocks:
        e0 = b * SCAN_BLOCK
        e1 = min(job.m, e0 + SCAN_BLOCK)
        total = 0.0
        for e in range(e0, e1):
            if e + AHEAD < e1:
                prefetch_example(job.X, e + AHEAD)
            forward(net, job.X, e, act)
            if job.Y != NULL:
                total += cost_fn(a, job.Y + e * n_out, n_out, job.cost)
            if job.labels != NULL:
                best = 0
                for j in range(1, n_out):
                    if a[j] > a[best]:
                        best = j
                job.labels[e] = best
        job.partial[b] = total
        b += T


cdef class ScanJob:
    # A Scan and what it points into, alive as long as any of its threads
    cdef Scan job
    cdef Rows rows
    cdef object keep

    def __dealloc__(self):
        free(self.job.partial)
        cnet_free64(self.job.act)


def _scan_thread(ScanJob h, int t):
    with nogil:
        if cnet_join(&h.job.team, t):
            scan_part(&h.job, t)


def cost_and_predict(list weights, list biases, Inputs X, Y, cost, Py_ssize_t num_threads=1):
    """``(Σ over the rows of X of cost.fn(a_L, y), the argmax of each row's a_L)`` from
    one forward pass; with ``Y`` None, the sum is 0.0.  ``num_threads`` threads
    share the rows; the costs are summed in blocks of rows, in order, so the
    result does not depend on it."""
    if num_threads < 1:
        raise ValueError("num_threads must be at least 1")
    p = Params(weights, biases)
    check_inputs(p, X)
    labels = np.zeros(X.n_rows, dtype=np.intp)
    cdef Py_ssize_t[::1] labels_mv = labels
    cdef const double[:, ::1] Y_mv
    cdef ScanJob h = ScanJob()
    cdef Py_ssize_t b, blocks = (X.n_rows + SCAN_BLOCK - 1) // SCAN_BLOCK
    cdef double total = 0.0
    if Y is not None:
        check_targets(p, np.asarray(Y), X.n_rows)
        h.job.cost = cost_id(cost)
        Y_mv = Y
    if X.n_rows == 0:
        return 0.0, labels
    h.keep = (p, X, Y, labels)
    h.rows = X.rows()
    h.job.net = &p.net
    h.job.X = &h.rows
    h.job.m = X.n_rows
    h.job.Y = &Y_mv[0, 0] if Y is not None else NULL
    h.job.labels = &labels_mv[0]
    h.job.partial = <double *> calloc(blocks, sizeof(double))
    if h.job.partial == NULL:
        raise MemoryError()
    num_threads = min(num_threads, blocks)
    h.job.act = scratch64(num_threads * p.net.width)
    threads = start_team(&h.job.team, _scan_thread, h, num_threads)
    with nogil:
        scan_part(&h.job, 0)
    for thread in threads:
        thread.join()
    for b in range(blocks):
        total += h.job.partial[b]
    return total, labels


def cost_sum(list weights, list biases, Inputs X, const double[:, ::1] Y, cost):
    """Σ over the rows of X of cost.fn(a_L, y): the unregularised total cost."""
    return cost_and_predict(weights, biases, X, Y, cost)[0]


# ------------------------------------------------------------- the shuffle
# random.shuffle(list(range(n))), computed in C from the state of Python's
# `random` module: the same Mersenne Twister draws, the same rejection
# sampling (_randbelow_with_getrandbits), the same swaps -- so the book's
# per-epoch shuffle costs microseconds instead of a Python loop.

cdef enum:
    MT_N = 624
    MT_M = 397


cdef unsigned int mt_next(unsigned int *mt, Py_ssize_t *mti) noexcept nogil:
    # genrand_uint32 of CPython's _randommodule.c (MT19937)
    cdef unsigned int y
    cdef Py_ssize_t kk
    if mti[0] >= MT_N:
        for kk in range(MT_N):
            y = (mt[kk] & 0x80000000U) | (mt[(kk + 1) % MT_N] & 0x7fffffffU)
            mt[kk] = mt[(kk + MT_M) % MT_N] ^ (y >> 1) ^ (0x9908b0dfU if y & 1 else 0U)
        mti[0] = 0
    y = mt[mti[0]]
    mti[0] += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9d2c5680U
    y ^= (y << 15) & 0xefc60000U
    y ^= y >> 18
    return y


def shuffle_permutation(Py_ssize_t n, state):
    """``(perm, new_state)``: ``perm`` is ``list(range(n))`` as ``random.shuffle``
    leaves it when Python's ``random`` module is in ``state``
    (``random.getstate()``), and ``new_state`` is the state it leaves behind."""
    version, internal, gauss_next = state
    if version != 3 or len(internal) != MT_N + 1 or not 0 <= n < 2 ** 32:
        raise ValueError("not a Mersenne Twister state of Python's random module")
    cdef unsigned int[::1] mt = np.asarray(internal[:MT_N], dtype=np.uint32)
    cdef Py_ssize_t mti = internal[MT_N], i, j, t
    if not 0 <= mti <= MT_N:
        raise ValueError("not a Mersenne Twister state of Python's random module")
    perm = np.arange(n, dtype=np.intp)
    cdef Py_ssize_t[::1] p = perm
    cdef unsigned int bound, k, r
    with nogil:
        # for i = n−1 … 1: j = randbelow(i + 1); swap p[i], p[j]
        for i in range(n - 1, 0, -1):
            bound = <unsigned int> (i + 1)
            k = 0
            while (bound >> k) != 0:
                k += 1                      # k = bound.bit_length()
            r = mt_next(&mt[0], &mti) >> (32 - k)
            while r >= bound:
                r = mt_next(&mt[0], &mti) >> (32 - k)
            j = r
            t = p[i]
            p[i] = p[j]
            p[j] = t
    new_internal = tuple(int(v) for v in np.asarray(mt)) + (int(mti),)
    return perm, (version, new_internal, gauss_next)
