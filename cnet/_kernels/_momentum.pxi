# Momentum: the packed input layer's rows brought forward lazily, only when a step
# reads them (catch_up, catch_up_scaled), and the velocities of an interrupted call
# set back (undo_prepare).  See update_block (_loops.pxi) for the step itself.
from cnet._kernels.vec cimport cnet_momentum_map, cnet_add_scaled


# ------------------------------------------------------- momentum, lazily
# With momentum, every weight moves at every step, but the packed input layer's row i
# (the weights leaving pixel i) gets a gradient only at the steps whose
# examples have x_i ≠ 0 -- about half the rows of an MNIST mini-batch of 10.
# Between two such steps the row follows a linear map: a step without
# gradient is v ← μv − r w, w ← w + v, i.e. (w, v) ← M (w, v) with
# M = [[1 − r, μ], [−r, μ]] (r = ηλ/n for L2, 0 without).  So each row is left
# alone until a step reads it, and then brought forward by the product of
# those maps at once, from tables made before the call (one 2 × 2 matrix per
# number of steps skipped).  stamp[i] says where row i is: 0, as at the start
# of the call; s ≥ 1, w is w_{s−1} and v is v_s (step s's w ← w + v is yet to
# be done).  A row read by step t is taken to (w_{t−1}, μ v_{t−1} − r w_{t−1}),
# so that the gradient's terms then go into v and the forward pass reads
# w_{t−1}:  maps E_k = P M^k (from stamp 0, k = t − 1) and Q_k = P M^k A
# (from stamp s, k = t − 1 − s), with A = [[1, 1], [0, 1]] (w ← w + v) and
# P = [[1, 0], [−r, μ]] (v ← μv − r w).  At the end of the call every row is
# taken to (w_T, v_T): F_k = M^k (k = T) and G_k = M^k A (k = T − s).  The
# results equal the step-by-step ones up to rounding (the same for any number
# of threads, each row of a panel being its thread's).  Without a penalty (r = 0)
# catch_up_scaled below does the same with a pass over w alone (these maps then
# only when μ is too small for its scale: see momentum_powers).

cdef Py_ssize_t list_rows(const Net *net, const Rows *X, const Py_ssize_t *batch, Py_ssize_t m,
                          int *stamp, int *rows) noexcept nogil:
    # rows[0 … count) ← the rows of the packed input layer's wt that the examples batch[0 … m)
    # read, in increasing order; returns count.  stamp[n_in … 2 n_in) holds a mark per row (all 0 between
    # calls).  The rows read are marked (stores only: no load waits on an earlier store),
    # then listed without a branch (whether a pixel is read is a coin toss no branch
    # predictor learns).
    cdef Py_ssize_t k, p, i, e, count = 0, n0 = net.packed.n_in
    cdef int *mark = stamp + n0
    for k in range(m):
        e = batch[k]
        for p in range(X.start[e], X.start[e + 1]):
            mark[X.index[p]] = 1
    for i in range(n0):
        rows[count] = <int> i
        count += mark[i]
        mark[i] = 0
    return count


cdef void catch_up(Net *net, const Rows *X, const Py_ssize_t *batch, Py_ssize_t m,
                   Py_ssize_t q, int *stamp, int t, const real_t *maps, Py_ssize_t K) noexcept nogil:
    # the rows of panel q of the packed input layer's wt (and of its velocity) that the
    # examples batch[0 … m) read, brought to step t (maps: E, Q, F, G, each K + 1 matrices
    # of 4 reals).  stamp holds 3 · n_in ints: the stamps, the marks and the list of list_rows.
    cdef Py_ssize_t k, i, j0 = net.col[q], no = net.col[q + 1] - net.col[q], n0 = net.packed.n_in
    cdef real_t *wt = net.packed.wt + n0 * j0
    cdef real_t *vt = net.packed.vt + n0 * j0
    cdef int *rows = stamp + 2 * n0
    cdef int s
    for k in range(list_rows(net, X, batch, m, stamp, rows)):
        i = rows[k]
        s = stamp[i]
        stamp[i] = t
        cnet_momentum_map(wt + i * no, vt + i * no, no,
                          maps + 4 * ((t - 1) if s == 0 else (K + 1) + t - 1 - s))


cdef void catch_up_all(Net *net, Py_ssize_t q, const int *stamp, int T, const real_t *maps,
                       Py_ssize_t K, const Step *step) noexcept nogil:
    # every row of panel q brought to the end of the call, step T.  A row at T + 1 was
    # prepared for a step that an interruption stopped before it was taken: its
    # v ← μv − r w is undone, v ← (v + r w) / μ
    cdef Py_ssize_t i, j, j0 = net.col[q], no = net.col[q + 1] - net.col[q]
    cdef real_t *wt = net.packed.wt + net.packed.n_in * j0
    cdef real_t *vt = net.packed.vt + net.packed.n_in * j0
    for i in range(net.packed.n_in):
        if stamp[i] == T + 1:
            for j in range(i * no, (i + 1) * no):
                vt[j] = (vt[j] + step.penalty * wt[j]) / step.mu
        elif stamp[i] == 0:
            cnet_momentum_map(wt + i * no, vt + i * no, no, maps + 4 * (2 * (K + 1) + T))
        else:
            cnet_momentum_map(wt + i * no, vt + i * no, no, maps + 4 * (3 * (K + 1) + T - stamp[i]))


# ------------------------------------------- momentum without a penalty, lazily
# With r = 0 a step without gradient is v ← μv, w ← w + v: the velocity only
# shrinks.  So, as with the lazy L2 scale, the packed input layer's velocity is kept as
# v = σ_u ṽ at step u, σ_u = μ^(u − base), and such a step changes no ṽ; the
# gradient's terms go into ṽ divided by σ_t (update_block).  Row i's stamp s then
# says: w is w_{s−1}, and ṽ has not changed since step s (stamps start at 1:
# w_0, and v_0 = σ_0 ṽ = ṽ).  A row read by step t is taken to w_{t−1} =
# w_{s−1} + Σ_{u=s…t−1} σ_u ṽ = w_{s−1} + σ_s g_{t−s} ṽ, g_k = 1 + μ + … + μ^{k−1}
# (g_0 = 0): a pass over w alone, reading ṽ.  powers holds μ^k, then g_k, for
# k = 0 … period; at the start of each step t with t − 1 − base = period every row is
# caught up and ṽ ← σ_{t−1} ṽ, base ← t − 1 (a fold, so that σ stays ≥ μ^period, well
# inside the reals' range).  The results equal the step-by-step ones up to rounding
# (the same for any number of threads, each row of a panel being its thread's).

cdef inline int fold_base(int t, Py_ssize_t period) noexcept nogil:
    # the step of the last fold at the start of step t or before (0: none)
    return <int> (period * ((t - 1) // period))


cdef void catch_up_scaled(Net *net, const Rows *X, const Py_ssize_t *batch, Py_ssize_t m,
                          Py_ssize_t q, int *stamp, int t, const real_t *powers,
                          Py_ssize_t period) noexcept nogil:
    # the rows of panel q of the packed input layer's wt that the examples batch[0 … m) read,
    # brought to step t
    # (all of them, and ṽ folded, when step t starts a fold): w ← w + σ_s g_{t−s} ṽ
    cdef Py_ssize_t k, i, j0 = net.col[q], no = net.col[q + 1] - net.col[q], n0 = net.packed.n_in
    cdef real_t *wt = net.packed.wt + n0 * j0
    cdef real_t *vt = net.packed.vt + n0 * j0
    cdef int *rows = stamp + 2 * n0
    cdef int s, base = fold_base(t, period)
    cdef const real_t *sums = powers + period + 1
    cdef real_t fold[4]
    if t > 1 and base == t - 1:
        base -= <int> period                # the stamps count from the last fold
        fold[0] = 1
        fold[2] = 0
        fold[3] = powers[period]            # σ_{t−1}
        for i in range(n0):
            s = stamp[i]
            fold[1] = powers[s - base] * sums[t - s]
            cnet_momentum_map(wt + i * no, vt + i * no, no, fold)
            stamp[i] = t
        return
    for k in range(list_rows(net, X, batch, m, stamp, rows)):
        i = rows[k]
        s = stamp[i]
        stamp[i] = t
        cnet_add_scaled(wt + i * no, vt + i * no, no, powers[s - base] * sums[t - s])


cdef void catch_up_all_scaled(Net *net, Py_ssize_t q, int *stamp, int T, int last,
                              const real_t *powers, Py_ssize_t period) noexcept nogil:
    # every row of panel q brought to the end of the call, step T (the last catch-up was
    # step last's: T, or T + 1 when an interruption stopped the call before that step),
    # and its velocity to v_T = σ_T ṽ: w ← w + σ_s g_{T+1−s} ṽ, ṽ ← σ_T ṽ.  A row at
    # T + 1 already has w_T (g_0 = 0).
    cdef Py_ssize_t i, j0 = net.col[q], no = net.col[q + 1] - net.col[q], n0 = net.packed.n_in
    cdef real_t *wt = net.packed.wt + n0 * j0
    cdef real_t *vt = net.packed.vt + n0 * j0
    cdef int s, base = fold_base(last, period)
    cdef const real_t *sums = powers + period + 1
    cdef real_t end[4]
    end[0] = 1
    end[2] = 0
    end[3] = powers[T - base]
    for i in range(n0):
        s = stamp[i]
        end[1] = powers[s - base] * sums[T + 1 - s]
        cnet_momentum_map(wt + i * no, vt + i * no, no, end)


cdef void undo_prepare(const Net *net, const Layer *layer, Py_ssize_t q, const Step *step) noexcept nogil:
    # Momentum, when an interruption stops a call before the step that the last pass
    # prepared (v ← μv − r w, or r sgn(w)): undo it on the layer's panel q (all of its
    # weights unless it is the packed input layer), v ← (v + r w) / μ, so that v is the
    # last step's velocity again
    cdef Py_ssize_t i, j0 = 0, j1 = layer.stored
    cdef real_t *wt
    cdef real_t *vt
    cdef real_t g
    if layer.packed_input:
        j0 = net.col[q]
        j1 = net.col[q + 1]
    wt = layer.wt + layer.n_in * j0
    vt = layer.vt + layer.n_in * j0
    for i in range(layer.n_in * (j1 - j0)):
        g = wt[i]
        if step.l1:
            g = (g > 0) - (g < 0)
        vt[i] = (vt[i] + step.penalty * g) / step.mu
