# The loops: forward, backward and the SGD step, for one example or one
# mini-batch, over the parameters in the layout of _params.pxi and the packed
# inputs of _inputs.pxi.  Notation (the book's): a_0 = x is the input,
# a_{l+1} = f_l(z_{l+1}) with z_{l+1} = w_l a_l + b_l for the L weight layers
# l = 0 … L−1, and δ_l = ∂C/∂z_l; f_l is layer l+1's activation, kind[l] (σ in the
# book; tanh or ReLU; the softmax at the output).  An example's activations a_1 … a_L (and its
# errors δ_1 … δ_L) are one block of `width` reals, layer l+1's at off[l].
#
# Every layer is dense (fully connected); each loop over the layers calls one
# function per layer (dense_forward, dense_backward, step_layer), which is where
# another kind of layer (convolution, pooling) would get its own.
from cnet._kernels.real cimport real_t
from cnet._kernels.vec cimport (cnet_rows_forward, cnet_rows_update, cnet_dots, cnet_prefetch,
                                cnet_l1_decay, cnet_momentum)
from cnet._kernels.group cimport (CNET_GROUP_MAX, cnet_rows_forward_group, cnet_rows_update_group,
                                  cnet_rows_step_sums)


cdef enum:
    ROWS_AHEAD = 8      # input_sum: entries between asking for a row of wt_0 and reading it


cdef inline void prefetch_example(const Rows *X, Py_ssize_t e) noexcept nogil:
    # Ask the cache for example e's non-zero entries ahead of use: training visits
    # examples in shuffled order, so each one's entries start a fresh, unpredicted stream.
    cdef Py_ssize_t p
    for p in range(X.start[e], X.start[e + 1], 8):
        cnet_prefetch(&X.value[p])      # 8 or 16 values to a 64-byte line
    for p in range(X.start[e], X.start[e + 1], 16):
        cnet_prefetch(&X.index[p])      # 16 ints to a line


# ------------------------------------------------------------------ forward

cdef void input_sum(const Net *net, const Rows *X, Py_ssize_t e, Py_ssize_t q,
                    real_t *act) noexcept nogil:
    # z_1[j] = b_0[j] + Σ_{p : x_i ≠ 0} x_i · wt_0[i, j] for the columns j of panel q,
    # into act[j] (i = index[p], x_i = value[p]; b_0 is left out while layer 0 is
    # scaled, and added by finish_forward)
    # (the rows of entry p + ROWS_AHEAD asked for while adding entry p's)
    cdef Py_ssize_t j0 = net.col[q], j1 = net.col[q + 1]
    cnet_rows_forward(scaled_bias(net, 0) + j0, net.wt[0] + net.n[0] * j0, j1 - j0, j1 - j0,
                      X.index, X.value, X.start[e], X.start[e + 1], act + j0, ROWS_AHEAD)


cdef void input_sums(const Net *net, const Rows *X, const Py_ssize_t *batch, Py_ssize_t m,
                     Py_ssize_t q, real_t *act, Py_ssize_t stride) noexcept nogil:
    # input_sum for the examples batch[0 … m), example k's into act + k · stride: for
    # the columns j of panel q, z_{1,k}[j] = b_0[j] + Σ_{p : x_i ≠ 0} x_i · wt_0[i, j]
    # (x: example batch[k]'s input), the same bits as input_sum, the examples going
    # through wt_0's rows together (cnet_rows_forward_group: a block of rows is read
    # once for several examples)
    cdef Py_ssize_t j0 = net.col[q], j1 = net.col[q + 1]
    cnet_rows_forward_group(scaled_bias(net, 0) + j0, net.wt[0] + net.n[0] * j0, j1 - j0, j1 - j0,
                            net.n[0], X.index, X.value, X.start, batch, m, act + j0, stride)


cdef inline void dense_sums(const Net *net, Py_ssize_t l, real_t *act) noexcept nogil:
    # z_{l+1} = w_l a_l + b_l into act[off[l] …], for a dense layer l; for l = 0,
    # act[0 …] already holds the sums from input_sum
    cdef Py_ssize_t j, no = net.s[l + 1]
    cdef real_t *a = act + net.off[l]
    if l > 0:
        # z_{l+1} = b_l + Σ_i a_{l,i} · wt_l[i, :]
        cnet_rows_forward(scaled_bias(net, l), net.wt[l], no, no,
                          NULL, act + net.off[l - 1], 0, net.n[l], a, 0)
    if is_scaled(net, l):
        for j in range(net.n[l + 1]):
            a[j] = net.b[l][j] + net.scale[l] * a[j]     # z = b + scale · Σ …


cdef inline void dense_forward(const Net *net, Py_ssize_t l, real_t *act) noexcept nogil:
    # a_{l+1} = f_l(w_l a_l + b_l) into act[off[l] …], for a dense layer l
    dense_sums(net, l, act)
    activate(act + net.off[l], net.n[l + 1], net.kind[l])


cdef void finish_forward(const Net *net, real_t *act) noexcept nogil:
    # Given z_1 from input_sum in act[0 …]: a_1 = σ(z_1), then
    # a_{l+1} = σ(w_l a_l + b_l), l = 1 … L−1, into act[off[l] …]
    cdef Py_ssize_t l
    for l in range(net.L):
        dense_forward(net, l, act)


cdef void forward(const Net *net, const Rows *X, Py_ssize_t e, real_t *act) noexcept nogil:
    # a_{l+1} = σ(w_l a_l + b_l), l = 0 … L−1, into act[off[l] …]
    cdef Py_ssize_t q
    for q in range(net.panels):
        input_sum(net, X, e, q, act)
    finish_forward(net, act)


# ----------------------------------------------------------------- backward

cdef inline void dense_backward(const Net *net, Py_ssize_t l, const real_t *act,
                                real_t *delta) noexcept nogil:
    # δ_l = (w_lᵀ δ_{l+1}) ⊙ f'(z_l) into delta[off[l−1] …], for a dense layer l ≥ 1
    # (f = f_{l−1}, layer l's activation, f'(z_l) computed from a_l)
    cdef Py_ssize_t i, no = net.s[l + 1]
    cdef const real_t *a = act + net.off[l - 1]
    cdef real_t *d = delta + net.off[l - 1]
    cdef const real_t *d_next = delta + net.off[l]
    cdef int kind = net.kind[l - 1]
    # (w_lᵀ δ_{l+1})_i is row i of wt[l] dotted with δ_{l+1} (zero in the padding), into d[i]
    cnet_dots(net.wt[l], no, net.n[l], d_next, no, d)
    for i in range(net.n[l]):
        if is_scaled(net, l):
            d[i] = (net.scale[l] * d[i]) * derivative(a[i], kind)
        else:
            d[i] = d[i] * derivative(a[i], kind)


cdef void backward(const Net *net, const real_t *act, const double *y, int cost,
                   real_t *delta) noexcept nogil:
    # δ_L from the cost (output_error), then backwards:
    # δ_l = (w_lᵀ δ_{l+1}) ⊙ f'(z_l), l = L−1 … 1
    cdef Py_ssize_t L = net.L, l
    output_error(act + net.off[L - 1], y, net.n[L], cost, delta + net.off[L - 1])
    for l in range(L - 1, 0, -1):
        dense_backward(net, l, act, delta)


# ---------------------------------------------------------------- the step

cdef struct Step:
    # what one SGD step does besides the gradient (see step_layer)
    real_t c            # η/m
    real_t mu           # μ > 0: momentum, with the velocities net.vt, net.vb
    real_t penalty      # ηλ/n when the lazy scale does not apply it (L1, or with momentum)
    bint l1             # the penalty's gradient is (λ/n) sgn(w), else (λ/n) w
    bint first, last    # the first / the last step of this call
    bint lazy           # momentum with L2 or none: layer 0's rows are caught up by catch_up
    #                     (or catch_up_scaled)
    real_t sigma        # momentum without a penalty: layer 0's velocity is σ ṽ, ṽ stored
    #                     (catch_up_scaled), σ this step's; else 1


cdef void step_layer(Net *net, const Rows *X, const Py_ssize_t *batch, Py_ssize_t m,
                     const real_t *act, const real_t *delta, const Step *step,
                     Py_ssize_t l, Py_ssize_t q, Py_ssize_t parts, real_t *nabla_b,
                     const Py_ssize_t *next, Py_ssize_t next_m, real_t *next_act) noexcept nogil:
    # Layer l's share of one SGD step over the m examples whose activations and errors
    # are in act/delta: panel q of wt_0 when l = 0 (neurons j0 ≤ j < j1 of layer 1),
    # else part q of `parts` of wt_l's rows (inputs i0 ≤ i < i1), the last with the biases
    # (c = η/m, r = ηλ/n); and, with next_m > 0 (l = 0, and fusable(step, m, next_m)), the next
    # step's input_sums for next[0 … next_m) into next_act, each block of rows read while in L1:
    #   L2:       w_l ← (1 − r) · w_l − c Σ_k δ_{l+1,k} a_{l,k}ᵀ,   b_l ← b_l − c Σ_k δ_{l+1,k}
    #   L1:       w_l ← w_l − r sgn(w_l) − c Σ_k δ_{l+1,k} a_{l,k}ᵀ
    #   momentum: v_l ← μ v_l − r w_l (or r sgn(w_l)) − c Σ_k δ_{l+1,k} a_{l,k}ᵀ,  w_l ← w_l + v_l,
    #             (layer 0 without a penalty: v_0 = σ ṽ_0, and ṽ_0 ← ṽ_0 − (c/σ) Σ_k …)
    #             u_l ← μ u_l − c Σ_k δ_{l+1,k},  b_l ← b_l + u_l   (u: the biases' velocity)
    # All δ were computed before any weight moves, so subtracting each example's
    # term straight from w (or v) is the same step as summing ∇w first (up to the
    # order of the additions).  L2 without momentum: the decay was applied to the
    # layer's scale before (by scale_decay), and the step moves wt by c / scale.
    # L1 and momentum pass over every weight; with momentum, a step's last pass
    # also starts the next step (v ← μv − r w), so that each step passes once.
    cdef Py_ssize_t k, j, j0 = 0, j1 = net.s[l + 1], bj1, no, W = net.width, i0 = 0, i1 = net.n[l]
    cdef real_t *wt
    cdef real_t *target
    cdef real_t cl, c = step.c
    if l == 0:
        j0 = net.col[q]
        j1 = net.col[q + 1]
    else:
        i0 = net.n[l] * q // parts
        i1 = net.n[l] * (q + 1) // parts
    no = j1 - j0                      # the row length of wt_l's panel
    wt = net.wt[l] + net.n[l] * j0 + i0 * no     # its rows i0 … i1 − 1
    scale_fold(net, l, wt, i1 - i0, no)
    cl = unscaled_step(net, l, c)
    if l == 0 and step.sigma != 1:
        cl = c / step.sigma           # ṽ ← ṽ − (c/σ) Σ …:  v ← v − c Σ …
    target = wt                       # what the gradient's terms go into: w, or v
    # ∇b_l = Σ_k δ_{l+1,k}, summed in example order, then b_l −= c ∇b_l (or by momentum);
    # before the weights, so that the next step's sums start from the new b_0
    bj1 = j1 if l == 0 or q == parts - 1 else j0      # the biases: the last part's
    for j in range(j0, bj1):
        nabla_b[j] = 0
    for k in range(m):
        for j in range(j0, bj1):
            nabla_b[j] += delta[k * W + net.off[l] + j]
    if step.mu != 0:
        for j in range(j0, min(bj1, net.n[l + 1])):
            net.vb[l][j] = step.mu * net.vb[l][j] - c * nabla_b[j]
            net.b[l][j] += net.vb[l][j]
    else:
        for j in range(j0, min(bj1, net.n[l + 1])):
            net.b[l][j] -= c * nabla_b[j]
    if step.mu != 0:
        target = net.vt[l] + net.n[l] * j0 + i0 * no
        if step.lazy and l == 0:
            pass                      # catch_up prepared the rows this step changes
        elif step.first:
            cnet_momentum(wt, target, (i1 - i0) * no, step.mu, step.penalty, step.l1, 0, 1)
    elif step.penalty != 0:
        cnet_l1_decay(wt, (i1 - i0) * no, step.penalty)
    # target_l[i, j0:j1] −= (cl a_{l,i}) δ_{l+1}[j0:j1] for each example k in order, over the
    # non-zero inputs when l = 0 (the examples together, a block of rows at a time, and
    # then the next examples' z_1[j0:j1] over the block: input_sums)
    if l == 0 and next_m > 0:
        cnet_rows_step_sums(target, no, no, net.n[0], X.index, X.value, X.start, batch, m, cl,
                            delta + net.off[0] + j0, W, scaled_bias(net, 0) + j0,
                            next, next_m, next_act + j0, W)
    elif l == 0:
        cnet_rows_update_group(target, no, no, net.n[0], X.index, X.value, X.start, batch, m, cl,
                               delta + net.off[0] + j0, W)
    else:       # (target − i0 · no: row i is input i; each row once, the examples in order)
        cnet_rows_update(target - i0 * no, no, no, i0, i1, act + net.off[l - 1], W, m, cl,
                         delta + net.off[l] + j0, W)
    if step.mu != 0 and not (step.lazy and l == 0):
        cnet_momentum(wt, target, (i1 - i0) * no, step.mu, step.penalty, step.l1, 1, not step.last)


cdef inline bint fusable(const Step *step, Py_ssize_t m, Py_ssize_t next_m) noexcept nogil:
    # whether step_layer may compute the next step's input_sums with layer 0's update:
    # the step moves no weight of layer 0 after the update (no momentum), and both
    # mini-batches fit one group
    return step.mu == 0 and m <= CNET_GROUP_MAX and 0 < next_m <= CNET_GROUP_MAX
