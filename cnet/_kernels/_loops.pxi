# The loops: forward, backward and the SGD step, for one example or one
# mini-batch, over the plan and the parameters of _params.pxi and the packed
# inputs of _inputs.pxi.  Notation (the book's): a_0 = x is the input, layer l
# (l = 0 … L−1, the plan's layer[l]) computes a_{l+1} = f(z_{l+1}) from a_l, f its
# activation (σ in the book; tanh or ReLU; the softmax at the output), and
# δ_{l+1} = ∂C/∂z_{l+1}.  An example's outputs a_1 … a_L (and its errors δ_1 … δ_L) are
# one block of `width` reals, layer l's at its `out`, its inputs at its `inp`.
#
# The passes over the layers call forward_layer, backward_layer and step_layer, the
# one switch on a layer's kind ("the layer kinds" below); each kind's step moves its
# parameters through the one update rule, update_block.
from cnet._kernels.real cimport real_t
from cnet._kernels.vec cimport (cnet_rows_forward, cnet_rows_update, cnet_dots, cnet_prefetch,
                                cnet_l1_decay, cnet_momentum)
from cnet._kernels.group cimport (CNET_GROUP_MAX, cnet_rows_forward_group, cnet_rows_update_group,
                                  cnet_rows_step_sums)


cdef enum:
    ROWS_AHEAD = 8      # input_sum: entries between asking for a row of wt and reading it


cdef inline void prefetch_example(const Rows *X, Py_ssize_t e) noexcept nogil:
    # Ask the cache for example e's non-zero entries ahead of use: training visits
    # examples in shuffled order, so each one's entries start a fresh, unpredicted stream.
    cdef Py_ssize_t p
    for p in range(X.start[e], X.start[e + 1], 8):
        cnet_prefetch(&X.value[p])      # 8 or 16 values to a 64-byte line
    for p in range(X.start[e], X.start[e + 1], 16):
        cnet_prefetch(&X.index[p])      # 16 ints to a line


# ------------------------------------------------- a dense layer's forward and backward

cdef void input_sum(const Net *net, const Rows *X, Py_ssize_t e, Py_ssize_t q,
                    real_t *act) noexcept nogil:
    # z[j] = b[j] + Σ_{p : x_i ≠ 0} x_i · wt[i, j] for the columns j of panel q of the packed
    # input layer, into act[j] (i = index[p], x_i = value[p]; b is left out while the layer
    # is scaled, and added by dense_sums)
    # (the rows of entry p + ROWS_AHEAD asked for while adding entry p's)
    cdef const Layer *layer = net.packed
    cdef Py_ssize_t j0 = net.col[q], j1 = net.col[q + 1]
    cnet_rows_forward(scaled_bias(net, layer) + j0, layer.wt + layer.n_in * j0, j1 - j0, j1 - j0,
                      X.index, X.value, X.start[e], X.start[e + 1], act + layer.out + j0, ROWS_AHEAD)


cdef void input_sums(const Net *net, const Rows *X, const Py_ssize_t *batch, Py_ssize_t m,
                     Py_ssize_t q, real_t *act, Py_ssize_t stride) noexcept nogil:
    # input_sum for the examples batch[0 … m), example k's into act + k · stride: for
    # the columns j of panel q, z_k[j] = b[j] + Σ_{p : x_i ≠ 0} x_i · wt[i, j]
    # (x: example batch[k]'s input), the same bits as input_sum, the examples going
    # through wt's rows together (cnet_rows_forward_group: a block of rows is read
    # once for several examples)
    cdef const Layer *layer = net.packed
    cdef Py_ssize_t j0 = net.col[q], j1 = net.col[q + 1]
    cnet_rows_forward_group(scaled_bias(net, layer) + j0, layer.wt + layer.n_in * j0, j1 - j0, j1 - j0,
                            layer.n_in, X.index, X.value, X.start, batch, m, act + layer.out + j0, stride)


cdef inline void dense_sums(const Net *net, const Layer *layer, real_t *act) noexcept nogil:
    # z = w a + b into act[out …], for a dense layer; for the packed input layer,
    # act[out …] already holds the sums from input_sum(s)
    cdef Py_ssize_t j
    cdef real_t *z = act + layer.out
    if not layer.packed_input:
        # z = b + Σ_i a_i · wt[i, :]
        cnet_rows_forward(scaled_bias(net, layer), layer.wt, layer.stored, layer.stored,
                          NULL, act + layer.inp, 0, layer.n_in, z, 0)
    if is_scaled(layer):
        for j in range(layer.n_out):
            z[j] = layer.bias[j] + layer.lazy.scale * z[j]     # z = b + scale · Σ …


cdef inline void dense_backward(const Layer *layer, int in_activation, const real_t *act,
                                real_t *delta) noexcept nogil:
    # δ of the layer's inputs, (wᵀ δ_out) ⊙ f'(z_in), into delta[inp …], for a dense layer
    # that is not the first (f: in_activation, the activation of the layer its inputs
    # come from, f'(z_in) computed from its outputs a_in)
    cdef Py_ssize_t i
    cdef const real_t *a = act + layer.inp
    cdef real_t *d = delta + layer.inp
    # (wᵀ δ_out)_i is row i of wt dotted with δ_out (zero in the padding), into d[i]
    cnet_dots(layer.wt, layer.stored, layer.n_in, delta + layer.out, layer.stored, d)
    for i in range(layer.n_in):
        if is_scaled(layer):
            d[i] = (layer.lazy.scale * d[i]) * derivative(a[i], in_activation)
        else:
            d[i] = d[i] * derivative(a[i], in_activation)


# ---------------------------------------------------------------- the step

cdef struct Step:
    # what one SGD step does besides the gradient (see update_block)
    real_t c            # η/m
    real_t mu           # μ > 0: momentum, with the layers' velocities vt, vb
    real_t penalty      # ηλ/n when the lazy scale does not apply it (L1, or with momentum)
    bint l1             # the penalty's gradient is (λ/n) sgn(w), else (λ/n) w
    bint first, last    # the first / the last step of this call
    bint lazy           # momentum with L2 or none: the packed input layer's rows are caught
    #                     up by catch_up (or catch_up_scaled)
    real_t sigma        # momentum without a penalty: the packed input layer's velocity is
    #                     σ ṽ, ṽ stored (catch_up_scaled), σ this step's; else 1


cdef struct Block:
    # The part of a layer's parameters that one thread updates in one step: the columns
    # j0 ≤ j < j1 of the rows i0 ≤ i < i1 of its wt (rows of length no = j1 − j0, the
    # panel's for the packed input layer, at wt + n_in · j0 + i0 · no), and its biases
    # j0 ≤ j < bj1 (bj1 = j0: none)
    Py_ssize_t i0, i1, j0, j1, bj1


ctypedef void (*AddTerms)(const void *terms, const Block *block, real_t *target,
                          real_t c) noexcept nogil


cdef inline void update_block(Layer *layer, const Block *block, const Step *step, const real_t *nabla_b,
                              AddTerms add_terms, const void *terms) noexcept nogil:
    # The update rule, the same for every kind of layer: one SGD step of the block of
    # the layer's weights w, biases b (velocities v, u), given ∇b (nabla_b[j], j0 ≤ j < bj1)
    # and the terms of ∇w, which add_terms(terms, block, target, c') subtracts from the
    # block of target (w or v), times c' (c = η/m, r = ηλ/n):
    #   L2:       w ← (1 − r) · w − c ∇w,   b ← b − c ∇b
    #   L1:       w ← w − r sgn(w) − c ∇w
    #   momentum: v ← μ v − r w (or r sgn(w)) − c ∇w,  w ← w + v,
    #             (the packed input layer without a penalty: v = σ ṽ, and ṽ ← ṽ − (c/σ) ∇w)
    #             u ← μ u − c ∇b,  b ← b + u
    # Subtracting each term straight from w (or v) is the same step as summing ∇w first
    # (up to the order of the additions).  L2 without momentum: the decay was applied to
    # the layer's scale before (by scale_decay), and the step moves wt by c / scale.  L1
    # and momentum pass over every weight; with momentum, a step's last pass also
    # starts the next step (v ← μv − r w), so that each step passes once -- except on
    # the packed input layer's rows with `lazy`, which catch_up prepared.  The biases
    # move before the weights, so that the next step's sums (which add_terms may
    # compute) start from the new b.
    cdef Py_ssize_t j, no = block.j1 - block.j0, count = (block.i1 - block.i0) * no
    cdef real_t *wt = layer.wt + layer.n_in * block.j0 + block.i0 * no
    cdef real_t *target = wt          # what the gradient's terms go into: w, or v
    cdef real_t cl, c = step.c
    cdef bint lazy = step.lazy and layer.packed_input
    scale_fold(layer, wt, block.i1 - block.i0, no)
    cl = unscaled_step(layer, c)
    if layer.packed_input and step.sigma != 1:
        cl = c / step.sigma           # ṽ ← ṽ − (c/σ) Σ …:  v ← v − c Σ …
    if step.mu != 0:
        for j in range(block.j0, min(block.bj1, layer.n_out)):
            layer.vb[j] = step.mu * layer.vb[j] - c * nabla_b[j]
            layer.bias[j] += layer.vb[j]
    else:
        for j in range(block.j0, min(block.bj1, layer.n_out)):
            layer.bias[j] -= c * nabla_b[j]
    if step.mu != 0:
        target = layer.vt + layer.n_in * block.j0 + block.i0 * no
        if not lazy and step.first:
            cnet_momentum(wt, target, count, step.mu, step.penalty, step.l1, 0, 1)
    elif step.penalty != 0:
        cnet_l1_decay(wt, count, step.penalty)
    add_terms(terms, block, target, cl)
    if step.mu != 0 and not lazy:
        cnet_momentum(wt, target, count, step.mu, step.penalty, step.l1, 1, not step.last)


cdef struct DenseTerms:
    # a dense layer's ∇w over a mini-batch: Σ_k δ_k a_kᵀ for the m examples (dense_terms)
    const Layer *layer
    const Net *net
    const Rows *X                # the packed input layer: the examples' inputs a_k
    const Py_ssize_t *batch      # (the examples batch[0 … m))
    Py_ssize_t m
    const real_t *act            # their outputs, one block of `width` each (a_k: the layer's
    const real_t *delta          # inputs), and their errors
    const Py_ssize_t *next       # the packed input layer: the next step's examples next[0 …
    Py_ssize_t next_m            # next_m), whose sums to compute after each block of rows
    real_t *next_act             # is updated (next_m > 0), into next_act


cdef void dense_terms(const void *terms, const Block *block, real_t *target, real_t c) noexcept nogil:
    # target[i, j0:j1] −= (c a_{k,i}) δ_k[j0:j1] for each example k in order (AddTerms, for a
    # dense layer): over the non-zero inputs for the packed input layer (the examples
    # together, a block of rows at a time, and then the next examples' z[j0:j1] over the
    # block: input_sums), else over the rows i0 ≤ i < i1, each row once
    cdef const DenseTerms *t = <const DenseTerms *> terms
    cdef const Layer *layer = t.layer
    cdef Py_ssize_t no = block.j1 - block.j0, W = t.net.width
    if layer.packed_input and t.next_m > 0:
        cnet_rows_step_sums(target, no, no, layer.n_in, t.X.index, t.X.value, t.X.start, t.batch, t.m, c,
                            t.delta + layer.out + block.j0, W, scaled_bias(t.net, layer) + block.j0,
                            t.next, t.next_m, t.next_act + layer.out + block.j0, W)
    elif layer.packed_input:
        cnet_rows_update_group(target, no, no, layer.n_in, t.X.index, t.X.value, t.X.start, t.batch, t.m, c,
                               t.delta + layer.out + block.j0, W)
    else:       # (target − i0 · no: row i is input i)
        cnet_rows_update(target - block.i0 * no, no, no, block.i0, block.i1, t.act + layer.inp, W, t.m, c,
                         t.delta + layer.out + block.j0, W)


cdef inline void dense_step(Net *net, Layer *layer, const Rows *X, const Py_ssize_t *batch, Py_ssize_t m,
                            const real_t *act, const real_t *delta, const Step *step, Py_ssize_t q,
                            Py_ssize_t parts, real_t *nabla_b, const Py_ssize_t *next, Py_ssize_t next_m,
                            real_t *next_act) noexcept nogil:
    # A dense layer's share of one SGD step over the m examples whose outputs and errors
    # are in act/delta: panel q of the packed input layer (its outputs j0 ≤ j < j1), else
    # part q of `parts` of wt's rows (inputs i0 ≤ i < i1), the last with the biases;
    # ∇b = Σ_k δ_k (summed in example order, into nabla_b[j0 …]) and ∇w's terms
    # (dense_terms) go through the update rule, update_block.  With next_m > 0 (the packed
    # input layer, and fusable(step, m, next_m)), also the next step's input_sums for
    # next[0 … next_m) into next_act, each block of rows read while in L1.
    cdef Block block
    cdef DenseTerms terms
    cdef Py_ssize_t k, j, W = net.width
    block.j0, block.j1, block.i0, block.i1 = 0, layer.stored, 0, layer.n_in
    if layer.packed_input:
        block.j0 = net.col[q]
        block.j1 = net.col[q + 1]
    else:
        block.i0 = layer.n_in * q // parts
        block.i1 = layer.n_in * (q + 1) // parts
    block.bj1 = block.j1 if layer.packed_input or q == parts - 1 else block.j0
    for j in range(block.j0, block.bj1):
        nabla_b[j] = 0
    for k in range(m):
        for j in range(block.j0, block.bj1):
            nabla_b[j] += delta[k * W + layer.out + j]
    terms.layer, terms.net, terms.X, terms.batch, terms.m = layer, net, X, batch, m
    terms.act, terms.delta, terms.next, terms.next_m, terms.next_act = act, delta, next, next_m, next_act
    update_block(layer, &block, step, nabla_b, dense_terms, &terms)


cdef inline bint fusable(const Step *step, Py_ssize_t m, Py_ssize_t next_m) noexcept nogil:
    # whether the packed input layer's step may compute the next step's input_sums with
    # its update: the step moves none of its weights after the update (no momentum), and
    # both mini-batches fit one group
    return step.mu == 0 and m <= CNET_GROUP_MAX and 0 < next_m <= CNET_GROUP_MAX


# ---------------------------------------------------------- the layer kinds
# The one switch on a layer's kind: its forward pass, its backward pass, and its
# share of an SGD step (its gradient and update).  A new kind adds a case to each.

cdef inline void forward_layer(const Net *net, const Layer *layer, real_t *act,
                               bint activated) noexcept nogil:
    # the layer's outputs a = f(z) into act[out …] from its inputs (z alone when not
    # `activated`)
    if layer.kind == DENSE:
        dense_sums(net, layer, act)
        if activated:
            activate(act + layer.out, layer.n_out, layer.activation)


cdef inline void backward_layer(const Layer *layer, int in_activation, const real_t *act,
                                real_t *delta) noexcept nogil:
    # the errors δ of the layer's inputs (in_activation: their layer's activation) from
    # those of its outputs
    if layer.kind == DENSE:
        dense_backward(layer, in_activation, act, delta)


cdef void step_layer(Net *net, Layer *layer, const Rows *X, const Py_ssize_t *batch, Py_ssize_t m,
                     const real_t *act, const real_t *delta, const Step *step, Py_ssize_t q,
                     Py_ssize_t parts, real_t *nabla_b, const Py_ssize_t *next, Py_ssize_t next_m,
                     real_t *next_act) noexcept nogil:
    # the layer's share q of one SGD step (dense_step)
    if layer.kind == DENSE:
        dense_step(net, layer, X, batch, m, act, delta, step, q, parts, nabla_b, next, next_m, next_act)


# ------------------------------------------------------- the passes over the plan

cdef void finish_forward(const Net *net, real_t *act) noexcept nogil:
    # Given the packed input layer's z from input_sum(s) in act: every layer's
    # outputs, input layer first, into act[out …]
    cdef Py_ssize_t l
    for l in range(net.n_layers):
        forward_layer(net, &net.layer[l], act, 1)


cdef void forward(const Net *net, const Rows *X, Py_ssize_t e, real_t *act) noexcept nogil:
    # every layer's outputs for example e, into act[out …]
    cdef Py_ssize_t q
    for q in range(net.panels):
        input_sum(net, X, e, q, act)
    finish_forward(net, act)


cdef void backward(const Net *net, const real_t *act, const double *y, int cost,
                   real_t *delta) noexcept nogil:
    # δ_L from the cost (output_error), then each layer's inputs' δ from its outputs',
    # last layer first (the first layer's inputs, the examples, get none)
    cdef Py_ssize_t l
    cdef const Layer *last = net.output
    output_error(act + last.out, y, last.n_out, cost, delta + last.out)
    for l in range(net.n_layers - 1, 0, -1):
        backward_layer(&net.layer[l], net.layer[l - 1].activation, act, delta)
