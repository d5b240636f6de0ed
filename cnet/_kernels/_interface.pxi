# The compiled kernels: feedforward, backpropagation and SGD over typed memory.
#
# One source, compiled six times (setup.py): for float64 and float32 (the
# CNET_PRECISION define, real.h) and, on x86-64, for any CPU, with AVX2 and with
# AVX-512.  Each of _cy_base.pyx, _cy_avx2.pyx, _cy_avx512.pyx and their _f32
# twins includes this file, which includes the others, one concern each:
#
#   _functions.pxi   the costs and the activation
#   _inputs.pxi      the packed inputs (Inputs, prepare), the caller's columns (Columns)
#   _lists.pxi       a list of (x, y) pairs checked and packed in one pass (pack)
#   _params.pxi      the plan (a Layer per layer of the spec), the parameters in the
#                    kernels' layout, and the lazy L2 scale
#   _loops.pxi       forward, backward, the SGD step: the layer kinds and the update rule
#   _momentum.pxi    momentum's lazy catch-up of the packed input layer's rows
#   _team.pxi        sharing a call among threads; the training job
#   _scan.pxi        the scanning jobs (labels and costs)
#   _conv.pxi        chapter 6's convolution, pooling, products and dropout masks over arrays
#   this file        the interface: the def functions
#
# with the C they call in real headers (real.h, vec.h, group.h, team.h, alloc.h; declared in
# the .pxd of the same name).  The shuffle and the CPU check are in _common.pyx.
#
# The def functions below are the kernel interface (interface.Kernels, the same as
# cnet._kernels.numpy_kernels').  They receive arrays the engine has already
# validated; they check the spec against the weights (Params: spec.check) and
# re-check the cheap structural facts (shapes, index range) so that no call,
# however wrong, can read or write out of bounds.  The cdef loops then run without
# bounds checks and without the GIL.
include "_functions.pxi"
include "_inputs.pxi"
include "_lists.pxi"
include "_params.pxi"
include "_loops.pxi"
include "_momentum.pxi"
include "_team.pxi"
include "_scan.pxi"
include "_conv.pxi"

from cnet._kernels.alloc cimport cnet_alloc
from cnet._kernels.real cimport real_t

import numpy as np

# The shuffle and the CPU check, compiled once in _common.pyx; part of this interface.
from cnet._kernels._common import cpu_has_avx2, shuffle_permutation  # noqa: F401

NAME = "cython"
DTYPE = "float64" if sizeof(real_t) == 8 else "float32"


def supports(cost):
    """True when these kernels compute ``cost`` themselves (the built-in costs)."""
    return any(cost is known for known, _, _ in compiled_costs())


cdef void check_inputs(Params p, Py_ssize_t n_cols) except *:
    if n_cols != p.net.packed.n_in:
        raise ValueError(f"inputs have {n_cols} columns; the network takes {p.net.packed.n_in}")


cdef void check_targets(Params p, Y, Py_ssize_t n_rows) except *:
    cdef Py_ssize_t n_out = p.net.output.n_out
    if Y.ndim != 2 or Y.shape[1] != n_out or Y.shape[0] != n_rows:
        raise ValueError(f"Y has shape {Y.shape}; expected ({n_rows}, {n_out})")


cdef real_t *zeroed(Py_ssize_t count) except NULL:
    # count zero reals (from the one allocator; give back with cnet_free)
    cdef real_t *buf = <real_t *> cnet_alloc(count * sizeof(real_t))
    if buf == NULL:
        raise MemoryError()
    return buf


cdef object forward_all(Params p, Inputs X):
    # every example's activations a_1 … a_L, one row per example
    check_inputs(p, X.n_cols)
    cdef Py_ssize_t e, m = X.n_rows
    out = np.empty((m, p.net.width), dtype=DTYPE)
    cdef real_t[:, ::1] act = out
    cdef Rows rows = X.rows()
    if m:
        with nogil:
            for e in range(m):
                forward(&p.net, &rows, e, &act[e, 0])
    return out


def feedforward(list weights, list biases, Inputs X, *, spec):
    """The output activations a_L for each row of X: an (m, n_L) array of DTYPE."""
    p = Params(weights, biases, spec)
    cdef const Layer *output = p.net.output
    return forward_all(p, X)[:, output.out:output.out + output.n_out]


def predict(list weights, list biases, Inputs X, *, spec):
    """argmax of the output activations for each row of X (first maximum on ties)."""
    return cost_and_predict(weights, biases, X, None, None, 1, spec=spec)[1]


def backprop(list weights, list biases, x, y, cost, *, spec):
    """(nabla_b, nabla_w) of the cost of one example, shaped like biases and weights."""
    p = Params(weights, biases, spec)
    check_targets(p, y.reshape(1, -1), 1)
    cdef int c = cost_id(cost, p.net.output.activation)
    cdef Py_ssize_t W = p.net.width, L = p.net.n_layers, l
    act = forward_all(p, prepare(np.ascontiguousarray(x.reshape(1, -1))))[0]
    delta = np.zeros(W, dtype=DTYPE)
    cdef real_t[::1] act_mv = act, delta_mv = delta
    cdef const double[::1] y_mv = np.ascontiguousarray(y, dtype=np.float64).ravel()
    backward(&p.net, &act_mv[0], &y_mv[0], c, &delta_mv[0])
    # a dense layer's gradient (Params takes no other kind): ∂C/∂b = δ_out,  ∂C/∂w = δ_out a_inᵀ
    outputs = [(p.net.layer[l].out, p.net.layer[l].out + p.net.layer[l].n_out) for l in range(L)]
    inputs = [np.asarray(x, dtype=DTYPE).ravel()] + [act[i:j] for i, j in outputs[:L - 1]]
    deltas = [delta[i:j] for i, j in outputs]
    return ([d.reshape(-1, 1).copy() for d in deltas],
            [np.outer(d, a) for d, a in zip(deltas, inputs)])


def train(list weights, list biases, Inputs X, const double[:, ::1] Y,
          const Py_ssize_t[::1] order, Py_ssize_t mini_batch_size, double eta,
          double lmbda, double n, cost, Py_ssize_t num_threads=1, *, spec,
          regularization="L2", double mu=0.0, velocities=None):
    """Run SGD over the mini-batches order[0:s], order[s:2s], … (s = mini_batch_size).

    Each step is w ← (1 − ηλ/n) w − (η/m) ∇w, b ← b − (η/m) ∇b over the m
    examples of the mini-batch (L1: w ← w − (ηλ/n) sgn(w) − (η/m) ∇w; momentum
    μ > 0: v ← μv − η∇C, w ← w + v, as in numpy_kernels.train).  Updates
    ``weights`` and ``biases`` (and ``velocities``) in place.  ``num_threads``
    threads share the work; the result does not depend on it.
    """
    if num_threads < 1:
        raise ValueError("num_threads must be at least 1")
    if regularization not in ("L2", "L1"):
        raise ValueError(f"regularization must be 'L2' or 'L1', got {regularization!r}")
    if not 0 <= mu < 1:
        raise ValueError(f"mu must be in [0, 1), got {mu!r}")
    p = Params(weights, biases, spec, num_threads)
    if mu > 0:
        if velocities is None:
            raise ValueError("momentum (mu > 0) needs velocities shaped like the weights and biases")
        vw, vb = velocities
        if ([v.shape for v in vw] != [a.shape for a in weights]
                or [v.shape for v in vb] != [a.shape for a in biases]):
            raise ValueError("velocities must be shaped like the weights and the biases")
        p.with_velocities(list(vw), list(vb))
    check_inputs(p, X.n_cols)
    check_targets(p, np.asarray(Y), X.n_rows)
    cdef int c = cost_id(cost, p.net.output.activation)
    cdef Py_ssize_t count = order.shape[0]
    if mini_batch_size < 1:
        raise ValueError("mini_batch_size must be at least 1")
    if count and (np.min(order) < 0 or np.max(order) >= X.n_rows):
        raise ValueError("order indexes outside X")
    if count == 0:
        return
    cdef Py_ssize_t m = min(mini_batch_size, count), W = p.net.width, steps
    cdef TrainWork w = TrainWork()
    cdef real_t[::1] maps_mv
    cdef int[::1] stamp_mv
    w.keep = (p, X, Y, order)
    w.rows = X.rows()
    w.job.part = train_part
    w.job.net = &p.net
    w.job.X = &w.rows
    w.job.Y = &Y[0, 0]
    w.job.n_out = Y.shape[1]
    w.job.cost = c
    w.train.order = &order[0]
    w.job.count = count
    w.train.mbs = m
    w.train.eta = <real_t> eta
    if mu > 0 or regularization == "L1":
        # the step applies the penalty itself (the lazy scale cannot: see _params.pxi)
        w.train.decay = 1
        w.train.mu = <real_t> mu
        w.train.penalty = <real_t> (eta * (lmbda / n))
        w.train.l1 = regularization == "L1"
        if mu > 0 and regularization == "L2":
            stamp_mv = np.zeros(p.net.panels * 3 * p.net.packed.n_in, dtype=np.intc)
            tables = momentum_powers(mu) if w.train.penalty == 0 else None
            if tables is not None and len(tables) >= 2 * (MIN_PERIOD + 1):
                # without a penalty: catch_up_scaled, its stamps starting at 1
                maps_mv = tables
                w.train.powers = &maps_mv[0]
                w.train.period = len(maps_mv) // 2 - 1
                np.asarray(stamp_mv).reshape(p.net.panels, 3, -1)[:, 0] = 1
            else:
                steps = -(-count // m)
                maps_mv = momentum_maps(mu, float(w.train.penalty), steps)
                w.train.maps = &maps_mv[0]
                w.train.steps = steps
            w.keep = w.keep + (maps_mv, stamp_mv)
            w.train.stamp = &stamp_mv[0]
    else:
        w.train.decay = 1.0 - eta * (lmbda / n)
    w.job.act = zeroed(2 * m * W)
    w.train.delta = zeroed(m * W)      # zeroed: the padding of every layer's errors stays zero
    w.train.nabla_b = zeroed(W)
    try:
        run_on_threads(w, p.net.panels)  # one thread per panel: more would have nothing to do
    finally:    # also when a signal's exception stopped it between mini-batches
        p.write_back(weights, biases)
        if mu > 0:
            p.write_back_velocities(list(vw), list(vb))


def momentum_maps(double mu, double r, Py_ssize_t steps):
    """The maps of catch_up (_momentum.pxi) for up to ``steps`` steps, as one flat array of
    DTYPE: E_k = P M^k, Q_k = P M^k A, F_k = M^k, G_k = M^k A for k = 0 … steps, each
    a 2 × 2 matrix [[a, b], [c, d]] stored as a, b, c, d (w ← a w + b v, v ← c w + d v);
    entries below the smallest normal number of DTYPE are 0."""
    M = np.array([[1 - r, mu], [-r, mu]])
    A = np.array([[1.0, 1.0], [0.0, 1.0]])
    P = np.array([[1.0, 0.0], [-r, mu]])
    powers = np.empty((steps + 1, 2, 2))
    powers[0] = np.eye(2)
    for k in range(1, steps + 1):
        powers[k] = M @ powers[k - 1]
    maps = np.concatenate([P @ powers, P @ powers @ A, powers, powers @ A]).reshape(-1)
    maps[np.abs(maps) < np.finfo(DTYPE).tiny] = 0
    return maps.astype(DTYPE)


MIN_PERIOD = 8         # catch_up_scaled's folds are at most this often (else catch_up's maps)
MAX_PERIOD = 4096      # and at least this often
SMALLEST_SIGMA = 2.0 ** -60     # the smallest scale of its velocities, μ^period


def momentum_powers(double mu):
    """The tables of catch_up_scaled (_momentum.pxi), one flat array of DTYPE: μ^k for
    k = 0 … period, then g_k = 1 + μ + … + μ^{k−1} (g_0 = 0) for the same k, where
    period is the largest k with μ^k ≥ SMALLEST_SIGMA, at most MAX_PERIOD (0 < μ < 1)."""
    period = min(MAX_PERIOD, int(np.log(SMALLEST_SIGMA) / np.log(mu)))
    while period > 0 and mu ** period < SMALLEST_SIGMA:
        period -= 1
    powers = mu ** np.arange(period + 1, dtype=np.float64)
    sums = np.concatenate([[0.0], np.cumsum(powers[:period])])
    return np.concatenate([powers, sums]).astype(DTYPE)


def cost_and_predict(list weights, list biases, X, Y, cost, Py_ssize_t num_threads=1, *, spec):
    """``(Σ over the rows of X of cost.fn(a_L, y), the argmax of each row's a_L)`` from
    one forward pass; with ``Y`` None, the sum is 0.0.  ``num_threads`` threads
    share the rows; the costs are summed in blocks of rows, in order, so the
    result does not depend on it.  X is ``Inputs``, or ``Columns`` (from ``pack``)
    with Y None: the inputs are then packed a block at a time as the scan goes, the
    same labels, and the error ``pack`` would raise for the first (in X's order)
    that is not finite is raised after it."""
    if num_threads < 1:
        raise ValueError("num_threads must be at least 1")
    p = Params(weights, biases, spec)
    cdef Inputs inputs
    if isinstance(X, Columns):
        return 0.0, scan_columns(p, X, Y, num_threads)
    inputs = X
    check_inputs(p, inputs.n_cols)
    labels = np.zeros(inputs.n_rows, dtype=np.intp)
    cdef Py_ssize_t[::1] labels_mv = labels
    cdef const double[:, ::1] Y_mv
    cdef ScanWork w = ScanWork()
    cdef Py_ssize_t b, blocks = (inputs.n_rows + SCAN_BLOCK - 1) // SCAN_BLOCK
    cdef double total = 0.0
    if Y is not None:
        check_targets(p, np.asarray(Y), inputs.n_rows)
        w.job.cost = cost_id(cost, p.net.output.activation)
        Y_mv = Y
    if inputs.n_rows == 0:
        return 0.0, labels
    w.keep = (p, inputs, Y, labels)
    w.rows = inputs.rows()
    w.job.part = scan_part
    w.job.net = &p.net
    w.job.X = &w.rows
    w.job.count = inputs.n_rows
    w.job.Y = &Y_mv[0, 0] if Y is not None else NULL
    w.scan.labels = &labels_mv[0]
    w.scan.partial = <double *> cnet_alloc(blocks * sizeof(double))
    if w.scan.partial == NULL:
        raise MemoryError()
    num_threads = min(num_threads, blocks)
    w.job.act = zeroed(num_threads * SCAN_GROUP * p.net.width)
    run_on_threads(w, num_threads)
    for b in range(blocks):
        total += w.scan.partial[b]
    return total, labels


cdef object scan_columns(Params p, Columns X, Y, Py_ssize_t num_threads):
    # cost_and_predict's labels for X in Columns
    check_inputs(p, X.n_cols)
    if Y is not None:
        raise ValueError("the inputs as Columns are for labels only (Y None)")
    labels = np.zeros(X.n_rows, dtype=np.intp)
    if X.n_rows == 0:
        return labels
    cdef Py_ssize_t[::1] labels_mv = labels
    cdef ScanWork w = ScanWork()
    cdef Py_ssize_t t, bad = X.n_rows
    num_threads = min(num_threads, (X.n_rows + COLUMNS_BLOCK - 1) // COLUMNS_BLOCK)
    w.keep = (p, X, labels)
    w.job.part = columns_part
    w.job.net = &p.net
    w.job.count = X.n_rows
    w.scan.labels = &labels_mv[0]
    w.scan.columns = X.col
    w.scan.first_bad = <Py_ssize_t *> cnet_alloc(num_threads * sizeof(Py_ssize_t))
    w.scan.buffer = <Py_ssize_t *> cnet_alloc(num_threads * block_buffer_size(X.n_cols) * sizeof(Py_ssize_t))
    if w.scan.first_bad == NULL or w.scan.buffer == NULL:
        raise MemoryError()
    for t in range(num_threads):
        w.scan.first_bad[t] = bad
    w.job.act = zeroed(num_threads * SCAN_GROUP * p.net.width)
    run_on_threads(w, num_threads)
    for t in range(num_threads):
        bad = min(bad, w.scan.first_bad[t])
    if bad < X.n_rows:
        from cnet import _checks
        raise _checks.not_finite(X.name, bad, 0)
    return labels


def cost_sum(list weights, list biases, Inputs X, const double[:, ::1] Y, cost, *, spec):
    """Σ over the rows of X of cost.fn(a_L, y): the unregularised total cost."""
    return cost_and_predict(weights, biases, X, Y, cost, 1, spec=spec)[0]
