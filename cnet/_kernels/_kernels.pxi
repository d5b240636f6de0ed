# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The compiled kernels: feedforward, backpropagation and SGD over typed memory.

Notation (the book's): a_0 = x is the input, a_{l+1} = σ(z_{l+1}) with
z_{l+1} = w_l a_l + b_l for the L weight layers l = 0 … L−1, and δ_l = ∂C/∂z_l.

Layout.  ``Params`` copies the user's weights into one flat float64 buffer in
which each w_l is stored *transposed*: row i of ``wt[l]`` holds the weights
leaving neuron i of layer l.  Then both the forward pass (z += a_i · wt[l][i, :])
and the weight update (wt[l][i, :] −= c · a_i · δ) are contiguous loops over the
next layer's neurons that the compiler vectorises, and a zero input a_i -- 81%
of MNIST pixels -- skips its whole row exactly.

The ``def`` functions at the bottom are the kernel interface (the same as
``cnet._kernels.numpy_kernels``).  They receive arrays the engine has already
validated; they re-check only the cheap structural facts (shapes, index range)
so that no call, however wrong, can read or write out of bounds.  The ``cdef``
loops then run without bounds checks and without the GIL.
"""
cimport cython
from libc.float cimport DBL_MAX
from libc.math cimport exp, log, isnan, isinf
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset

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


cdef struct Net:
    Py_ssize_t L          # number of weight layers
    Py_ssize_t *n         # n[0 … L]: the layer widths
    double **wt           # wt[l][i * n[l+1] + j] = w_l[j, i]
    double **b            # b[l][j]: bias of neuron j of layer l+1
    Py_ssize_t *off       # a_{l+1} and δ_{l+1} start at off[l] in an example's block
    Py_ssize_t width      # n[1] + … + n[L]: the length of one example's block


cdef class Params:
    """The parameters in the kernels' layout (see the module docstring).

    ``Params(weights, biases)`` copies them in; ``write_back(weights, biases)``
    copies them out, in place, into arrays of the user's shapes.
    """
    cdef Net net
    cdef double[::1] theta
    cdef Py_ssize_t[::1] sizes, offsets

    def __cinit__(self, list weights, list biases):
        cdef Py_ssize_t L = len(weights), l, pos = 0
        if L < 1 or len(biases) != L:
            raise ValueError("expected at least one layer of weights, and one bias vector per layer")
        sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
        self.sizes = np.asarray(sizes, dtype=np.intp)
        self.offsets = np.cumsum([0] + sizes[1:], dtype=np.intp)
        self.theta = np.empty(sum(sizes[l] * sizes[l + 1] + sizes[l + 1] for l in range(L)))
        self.net.wt = <double **> malloc(L * sizeof(double *))
        self.net.b = <double **> malloc(L * sizeof(double *))
        if self.net.wt == NULL or self.net.b == NULL:
            raise MemoryError()
        self.net.L = L
        self.net.n = &self.sizes[0]
        self.net.off = &self.offsets[0]
        self.net.width = self.offsets[L]
        theta = np.asarray(self.theta)
        for l in range(L):
            if weights[l].shape != (sizes[l + 1], sizes[l]) or biases[l].shape != (sizes[l + 1], 1):
                raise ValueError("weights and biases do not chain")
            self.net.wt[l] = &self.theta[pos]
            theta[pos:pos + sizes[l] * sizes[l + 1]] = np.asarray(weights[l], dtype=np.float64).T.ravel()
            pos += sizes[l] * sizes[l + 1]
            self.net.b[l] = &self.theta[pos]
            theta[pos:pos + sizes[l + 1]] = np.asarray(biases[l], dtype=np.float64).ravel()
            pos += sizes[l + 1]

    def __dealloc__(self):
        free(self.net.wt)
        free(self.net.b)

    def write_back(self, list weights, list biases):
        """Copy the parameters into ``weights[l]`` (n[l+1], n[l]) and ``biases[l]`` (n[l+1], 1)."""
        cdef Py_ssize_t l, pos = 0
        theta = np.asarray(self.theta)
        n = self.sizes
        for l in range(self.net.L):
            weights[l][...] = theta[pos:pos + n[l] * n[l + 1]].reshape(n[l], n[l + 1]).T
            pos += n[l] * n[l + 1]
            biases[l][:, 0] = theta[pos:pos + n[l + 1]]
            pos += n[l + 1]


# ---------------------------------------------------------------- the loops

cdef inline double sigmoid(double z) noexcept nogil:
    # σ(z) = 1 / (1 + e^{−z})
    return 1.0 / (1.0 + exp(-z))


cdef inline void affine(const real_in *a, Py_ssize_t ni, const double *wt,
                        const double *b, Py_ssize_t no, double *z) noexcept nogil:
    # z = w a + b = b + Σ_{i : a_i ≠ 0} a_i · wt[i, :]   (zero inputs skipped: exact)
    cdef Py_ssize_t i, j
    cdef double ai
    cdef const double *row
    memcpy(z, b, no * sizeof(double))
    for i in range(ni):
        ai = a[i]
        if ai != 0.0:
            row = wt + i * no
            for j in range(no):
                z[j] += ai * row[j]


cdef void forward(const Net *net, const real_in *x, double *act) noexcept nogil:
    # a_{l+1} = σ(w_l a_l + b_l), l = 0 … L−1, into act[off[l] …]
    cdef Py_ssize_t l, j, no
    cdef double *a
    affine(x, net.n[0], net.wt[0], net.b[0], net.n[1], act)
    for l in range(net.L):
        no = net.n[l + 1]
        a = act + net.off[l]
        if l > 0:
            affine(<const double *> (act + net.off[l - 1]), net.n[l], net.wt[l], net.b[l], no, a)
        for j in range(no):
            a[j] = sigmoid(a[j])


cdef inline double dot(const double *u, const double *v, Py_ssize_t n) noexcept nogil:
    # Σ_j u_j v_j, with four partial sums so that the loop is not one long dependency chain
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t j = 0
    while j + 4 <= n:
        s0 += u[j] * v[j]
        s1 += u[j + 1] * v[j + 1]
        s2 += u[j + 2] * v[j + 2]
        s3 += u[j + 3] * v[j + 3]
        j += 4
    while j < n:
        s0 += u[j] * v[j]
        j += 1
    return (s0 + s1) + (s2 + s3)


cdef void backward(const Net *net, const double *act, const double *y, int cost,
                   double *delta) noexcept nogil:
    # Output error: δ_L = (a_L − y) ⊙ σ'(z_L) (quadratic) or a_L − y (cross-entropy),
    # with σ'(z) = σ(z)(1 − σ(z)) = a(1 − a).
    # Then backwards: δ_l = (w_lᵀ δ_{l+1}) ⊙ σ'(z_l), l = L−1 … 1.
    cdef Py_ssize_t L = net.L, l, i, no
    cdef const double *a = act + net.off[L - 1]
    cdef double *d = delta + net.off[L - 1]
    cdef const double *d_next
    for i in range(net.n[L]):
        d[i] = a[i] - y[i]
        if cost == QUADRATIC:
            d[i] = d[i] * (a[i] * (1.0 - a[i]))
    for l in range(L - 1, 0, -1):
        no = net.n[l + 1]
        a = act + net.off[l - 1]
        d = delta + net.off[l - 1]
        d_next = delta + net.off[l]
        for i in range(net.n[l]):
            # (w_lᵀ δ_{l+1})_i is row i of wt[l] dotted with δ_{l+1}
            d[i] = dot(net.wt[l] + i * no, d_next, no) * (a[i] * (1.0 - a[i]))


cdef inline void rank_one_update(const real_in *a, Py_ssize_t ni, const double *d,
                                 Py_ssize_t no, double c, double *wt) noexcept nogil:
    # w −= c δ aᵀ, i.e. wt[i, :] −= (c a_i) δ for every a_i ≠ 0
    cdef Py_ssize_t i, j
    cdef double ca
    cdef double *row
    for i in range(ni):
        if a[i] != 0.0:
            ca = c * a[i]
            row = wt + i * no
            for j in range(no):
                row[j] -= ca * d[j]


cdef void sgd_step(Net *net, const real_in *X, const Py_ssize_t *batch, Py_ssize_t m,
                   const double *act, const double *delta, double eta, double decay,
                   double *nabla_b) noexcept nogil:
    # One step over the m examples whose activations and errors are in act/delta:
    #   w_l ← decay · w_l − (η/m) Σ_k δ_{l+1,k} a_{l,k}ᵀ      (decay = 1 − ηλ/n)
    #   b_l ← b_l − (η/m) Σ_k δ_{l+1,k}
    # All δ were computed before any weight moves, so subtracting each example's
    # term straight from w is the same step as summing ∇w first.
    cdef Py_ssize_t l, k, j, no, size, W = net.width, n0 = net.n[0]
    cdef double c = eta / m
    cdef double *wt
    for l in range(net.L):
        no = net.n[l + 1]
        wt = net.wt[l]
        if decay != 1.0:
            size = net.n[l] * no
            for j in range(size):
                wt[j] = decay * wt[j]
        for k in range(m):
            if l == 0:
                rank_one_update(X + batch[k] * n0, n0, delta + k * W, no, c, wt)
            else:
                rank_one_update(<const double *> (act + k * W + net.off[l - 1]), net.n[l],
                                delta + k * W + net.off[l], no, c, wt)
        # ∇b_l = Σ_k δ_{l+1,k}, summed in example order, then b_l −= (η/m) ∇b_l
        memset(nabla_b, 0, no * sizeof(double))
        for k in range(m):
            for j in range(no):
                nabla_b[j] += delta[k * W + net.off[l] + j]
        for j in range(no):
            net.b[l][j] -= c * nabla_b[j]


cdef void train_loop(Net *net, const real_in *X, const double *Y, Py_ssize_t n_out,
                     const Py_ssize_t *order, Py_ssize_t count, Py_ssize_t mbs,
                     double eta, double decay, int cost,
                     double *act, double *delta, double *nabla_b) noexcept nogil:
    # The mini-batches are order[0:mbs], order[mbs:2·mbs], …; the last may be shorter.
    cdef Py_ssize_t start = 0, m, k, e, W = net.width, n0 = net.n[0]
    while start < count:
        m = mbs if count - start > mbs else count - start
        for k in range(m):
            e = order[start + k]
            forward(net, X + e * n0, act + k * W)
            backward(net, act + k * W, Y + e * n_out, cost, delta + k * W)
        sgd_step(net, X, order + start, m, act, delta, eta, decay, nabla_b)
        start += m


cdef inline double cost_fn(const double *a, const double *y, Py_ssize_t n, int cost) noexcept nogil:
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


cdef void check_rows(Params p, X, Py_ssize_t n_rows) except *:
    if X.ndim != 2 or X.shape[1] != p.net.n[0] or X.shape[0] != n_rows:
        raise ValueError(f"X has shape {X.shape}; expected ({n_rows}, {p.net.n[0]})")


cdef void check_targets(Params p, Y, Py_ssize_t n_rows) except *:
    if Y.ndim != 2 or Y.shape[1] != p.net.n[p.net.L] or Y.shape[0] != n_rows:
        raise ValueError(f"Y has shape {Y.shape}; expected ({n_rows}, {p.net.n[p.net.L]})")


cdef double *scratch(Py_ssize_t count) except NULL:
    cdef double *buf = <double *> malloc((count if count > 0 else 1) * sizeof(double))
    if buf == NULL:
        raise MemoryError()
    return buf


def _forward_all(Params p, const real_in[:, ::1] X):
    cdef Py_ssize_t k, m = X.shape[0], W = p.net.width
    out = np.empty((m, W))
    cdef double[:, ::1] act = out
    if m:
        with nogil:
            for k in range(m):
                forward(&p.net, &X[k, 0], &act[k, 0])
    return out


def feedforward(list weights, list biases, X):
    """The output activations a_L for each row of X: an (m, n_L) float64 array."""
    p = Params(weights, biases)
    check_rows(p, X, X.shape[0])
    return _forward_all(p, X)[:, p.net.off[p.net.L - 1]:]


def predict(list weights, list biases, X):
    """argmax of the output activations for each row of X (first maximum on ties)."""
    return np.argmax(feedforward(weights, biases, X), axis=1)


def backprop(list weights, list biases, x, y, cost):
    """(nabla_b, nabla_w) of the cost of one example, shaped like biases and weights."""
    p = Params(weights, biases)
    check_rows(p, x.reshape(1, -1), 1)
    check_targets(p, y.reshape(1, -1), 1)
    cdef int c = cost_id(cost)
    cdef Py_ssize_t W = p.net.width, L = p.net.L, l
    act = _forward_all(p, x.reshape(1, -1))[0]
    delta = np.empty(W)
    cdef double[::1] act_mv = act, delta_mv = delta
    cdef const double[::1] y_mv = np.ascontiguousarray(y, dtype=np.float64).ravel()
    backward(&p.net, &act_mv[0], &y_mv[0], c, &delta_mv[0])
    # ∂C/∂b_l = δ_{l+1},  ∂C/∂w_l = δ_{l+1} a_lᵀ
    inputs = [np.asarray(x, dtype=np.float64).ravel()] + [act[p.offsets[l]:p.offsets[l + 1]] for l in range(L - 1)]
    deltas = [delta[p.offsets[l]:p.offsets[l + 1]] for l in range(L)]
    return ([d.reshape(-1, 1).copy() for d in deltas],
            [np.outer(d, a) for d, a in zip(deltas, inputs)])


def train(list weights, list biases, const real_in[:, ::1] X, const double[:, ::1] Y,
          const Py_ssize_t[::1] order, Py_ssize_t mini_batch_size, double eta,
          double lmbda, double n, cost):
    """Run SGD over the mini-batches order[0:s], order[s:2s], … (s = mini_batch_size).

    Each step is w ← (1 − ηλ/n) w − (η/m) ∇w, b ← b − (η/m) ∇b over the m
    examples of the mini-batch.  Updates ``weights`` and ``biases`` in place.
    """
    p = Params(weights, biases)
    check_rows(p, np.asarray(X), X.shape[0])
    check_targets(p, np.asarray(Y), X.shape[0])
    cdef int c = cost_id(cost)
    cdef Py_ssize_t count = order.shape[0]
    if mini_batch_size < 1:
        raise ValueError("mini_batch_size must be at least 1")
    if count and (np.min(order) < 0 or np.max(order) >= X.shape[0]):
        raise ValueError("order indexes outside X")
    if count == 0:
        return
    cdef Py_ssize_t m = min(mini_batch_size, count), W = p.net.width
    cdef double decay = 1.0 - eta * (lmbda / n)
    cdef double *act = scratch(m * W)
    cdef double *delta = NULL
    cdef double *nabla_b = NULL
    try:
        delta = scratch(m * W)
        nabla_b = scratch(W)
        with nogil:
            train_loop(&p.net, &X[0, 0], &Y[0, 0], Y.shape[1], &order[0], count, m,
                       eta, decay, c, act, delta, nabla_b)
    finally:
        free(act)
        free(delta)
        free(nabla_b)
    p.write_back(weights, biases)


def cost_sum(list weights, list biases, const real_in[:, ::1] X, const double[:, ::1] Y, cost):
    """Σ over the rows of X of cost.fn(a_L, y): the unregularised total cost."""
    p = Params(weights, biases)
    check_rows(p, np.asarray(X), X.shape[0])
    check_targets(p, np.asarray(Y), X.shape[0])
    cdef int c = cost_id(cost)
    cdef Py_ssize_t k, m = X.shape[0], W = p.net.width, n_out = Y.shape[1]
    cdef Py_ssize_t out = p.net.off[p.net.L - 1]
    cdef double total = 0.0
    if m == 0:
        return 0.0
    cdef double *act = scratch(W)
    try:
        with nogil:
            for k in range(m):
                forward(&p.net, &X[k, 0], act)
                total += cost_fn(act + out, &Y[k, 0], n_out, c)
    finally:
        free(act)
    return total
