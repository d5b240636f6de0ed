# The parameters in the kernels' layout.
#
# Each w_l is stored *transposed*: row i of ``wt[l]`` holds the weights leaving
# neuron i of layer l.  Then both the forward pass (z += a_i · wt[l][i, :]) and the
# weight update (wt[l][i, :] −= c · a_i · δ) are contiguous loops over the next
# layer's neurons that the compiler vectorises, and a zero input a_i skips its
# whole row exactly.
#
# Layers after the input are stored BLOCK wide (two vectors, 64 bytes): a layer of n
# neurons takes s = ⌈n / BLOCK⌉·BLOCK slots, the extra ones holding zero weights,
# zero biases and zero errors.  Every loop over a layer's neurons then runs over
# whole vectors.
from cnet._kernels.alloc cimport cnet_alloc, cnet_free
from cnet._kernels.real cimport real_t, BLOCK

import numpy as np

from cnet._kernels.spec import check as check_spec


cdef struct Net:
    Py_ssize_t L          # number of weight layers
    Py_ssize_t *n         # n[0 … L]: the layer widths
    Py_ssize_t *s         # s[l]: the stored width of layer l ≥ 1 (n[l] rounded up to BLOCK)
    real_t **wt           # wt[l][i * s[l+1] + j] = w_l[j, i] / scale[l]  (n[l] rows), l ≥ 1
    Py_ssize_t panels     # wt[0] is cut by columns into panels: panel q holds columns
    # panel q (col[q] ≤ j < col[q+1]) is an n[0] × (col[q+1] − col[q]) matrix at
    # wt[0] + n[0] · col[q] (one panel: the layout above)
    Py_ssize_t *col
    real_t *scale         # scale[l]: w_l = scale[l] · wt[l]ᵀ (see "the lazy L2 scale")
    real_t *fold          # fold[l] ≠ 1: wt[l] is yet to be multiplied by it (ditto)
    real_t **b            # b[l][j]: bias of neuron j of layer l+1  (s[l+1] entries)
    real_t *zeros         # s_max zeros: the bias of a scaled layer's unscaled sum
    Py_ssize_t *off       # a_{l+1} and δ_{l+1} start at off[l] in an example's block
    Py_ssize_t width      # s[1] + … + s[L]: the length of one example's block
    int *kind             # kind[l]: the activation of layer l+1 (SIGMOID, … _functions.pxi)
    real_t **vt           # momentum: the velocities of wt and b, in the same layout
    real_t **vb           # (NULL without momentum)


# ------------------------------------------------------- the lazy L2 scale
# L2 decay multiplies every weight by d = 1 − ηλ/n at every step.  As in
# scikit-learn's WeightVector (wscale, scale(), reset_wscale()), each layer keeps
# w_l = scale_l · wt_l, and a decay is scale_l ← d · scale_l: O(1) instead of a
# pass over every weight.  The loops then read w_l through the scale
# (scaled_bias, unscaled_step), and when scale_l falls below FOLD_BELOW it is
# folded back into wt_l before wt_l's entries grow large.  λ = 0 keeps every
# scale at 1 and every result bit for bit what it would be without them.

cdef double FOLD_BELOW = 1e-3   # a scale below this is folded back into the weights


cdef void scale_decay(Net *net, real_t decay) noexcept nogil:
    # scale_l ← decay · scale_l for every layer; a scale that falls below FOLD_BELOW
    # becomes 1, and fold_l the factor that wt_l is to be multiplied by (by
    # scale_fold, before wt_l is next changed); fold_l = 1 otherwise.  (A decay of
    # exactly 0 -- ηλ/n = 1 -- makes the scale 0, a fold by 0: the weights become 0.)
    cdef Py_ssize_t l
    for l in range(net.L):
        net.fold[l] = 1
        if decay != 1:
            net.scale[l] = decay * net.scale[l]
            if net.scale[l] < FOLD_BELOW:
                net.fold[l] = net.scale[l]
                net.scale[l] = 1


cdef void scale_fold(Net *net, Py_ssize_t l, real_t *wt, Py_ssize_t rows,
                     Py_ssize_t cols) noexcept nogil:
    # wt ← fold_l · wt on the rows × cols block of layer l's weights at wt, if
    # scale_decay left a fold for layer l
    cdef Py_ssize_t i
    cdef real_t fold = net.fold[l]
    if fold != 1:
        for i in range(rows * cols):
            wt[i] = fold * wt[i]


cdef inline bint is_scaled(const Net *net, Py_ssize_t l) noexcept nogil:
    # scale_l ≠ 1: wt_l is not w_l itself
    return net.scale[l] != 1


cdef inline const real_t *scaled_bias(const Net *net, Py_ssize_t l) noexcept nogil:
    # the bias a sum over wt_l starts from: b_l itself, or zero for a scaled layer,
    # whose sum is scaled first and gets b_l after (z = b + scale · Σ …)
    return net.zeros if is_scaled(net, l) else net.b[l]


cdef inline real_t unscaled_step(const Net *net, Py_ssize_t l, real_t c) noexcept nogil:
    # the step size on wt_l that moves w_l by c: c / scale_l
    return c / net.scale[l] if is_scaled(net, l) else c


cdef class Params:
    """The parameters in the kernels' layout.

    ``Params(weights, biases)`` copies them in; ``write_back(weights, biases)``
    copies them out, in place, into arrays of the user's shapes.
    """
    cdef Net net
    cdef real_t *theta               # all of wt and b, at a multiple of 64 bytes
    cdef real_t *lazy                # scale, fold (L each) and zeros (s_max)
    cdef real_t *velocity            # momentum: the velocities, laid out as theta (or NULL)
    cdef Py_ssize_t size             # the reals in theta
    cdef Py_ssize_t[::1] sizes, stored, offsets, cols
    cdef int[::1] kinds
    cdef list layers   # ([(j0, panel of w_l transposed), …], b_l): views of theta
    cdef list velocity_layers        # the same views of velocity

    def __cinit__(self, list weights, list biases, spec, Py_ssize_t panels=1):
        # spec: the layers (LayerSpec), which the weights and biases are checked to fit;
        # panels: how many panels to cut wt_0 into (at most one per BLOCK of layer 1)
        check_spec(spec, weights, biases)
        cdef Py_ssize_t L = len(spec), l, pos = 0, q
        n = [spec[0].n_in] + [layer.n_out for layer in spec]
        s = [n[0]] + [-(-w // BLOCK) * BLOCK for w in n[1:]]
        self.sizes = np.asarray(n, dtype=np.intp)
        self.stored = np.asarray(s, dtype=np.intp)
        self.offsets = np.cumsum([0] + s[1:], dtype=np.intp)
        size = self.size = sum(n[l] * s[l + 1] + s[l + 1] for l in range(L))
        # theta at a multiple of 64 bytes, so that each BLOCK of a row of wt is whole
        # cache lines (threads update different blocks)
        self.theta = <real_t *> cnet_alloc(size * sizeof(real_t))
        self.lazy = <real_t *> cnet_alloc((2 * L + max(s[1:])) * sizeof(real_t))
        self.net.wt = <real_t **> cnet_alloc(L * sizeof(real_t *))
        self.net.b = <real_t **> cnet_alloc(L * sizeof(real_t *))
        if self.theta == NULL or self.lazy == NULL or self.net.wt == NULL or self.net.b == NULL:
            raise MemoryError()
        theta = np.asarray(<real_t[:size]> self.theta)
        self.net.scale = self.lazy
        self.net.fold = self.lazy + L
        self.net.zeros = self.lazy + 2 * L
        for l in range(L):
            self.net.scale[l] = 1
            self.net.fold[l] = 1
        self.net.L = L
        self.net.n = &self.sizes[0]
        self.net.s = &self.stored[0]
        self.net.off = &self.offsets[0]
        self.net.width = self.offsets[L]
        self.kinds = np.asarray([ACTIVATION_IDS[layer.activation] for layer in spec[:L - 1]]
                                + [OUTPUT_IDS[spec[L - 1].activation]], dtype=np.intc)
        self.net.kind = &self.kinds[0]
        blocks = s[1] // BLOCK
        panels = max(1, min(panels, blocks))
        self.cols = np.asarray([q * blocks // panels * BLOCK for q in range(panels + 1)],
                               dtype=np.intp)
        self.net.panels = panels
        self.net.col = &self.cols[0]
        self.layers = self.lay_out(theta, weights, biases, self.net.wt, self.net.b)

    cdef list lay_out(self, theta, list weights, list biases, real_t **wt_of, real_t **b_of):
        # copy weights and biases into theta (a flat array), laid out as above; point
        # wt_of[l] and b_of[l] at each layer's, and return the views the copies went to
        cdef Py_ssize_t l, q, pos = 0
        cdef real_t[::1] flat = theta
        n, s = list(self.sizes), list(self.stored)
        layers = []
        for l in range(len(weights)):
            cuts = list(self.cols) if l == 0 else [0, s[1 + l]]
            wts = []
            for q in range(len(cuts) - 1):
                j0, j1 = cuts[q], cuts[q + 1]
                wt = theta[pos + n[l] * j0:pos + n[l] * j1].reshape(n[l], j1 - j0)
                wt[:, :max(0, min(j1, n[l + 1]) - j0)] = weights[l][j0:j1].T
                wts.append((j0, wt))
            wt_of[l] = &flat[pos]
            pos += n[l] * s[l + 1]
            b = theta[pos:pos + s[l + 1]]
            b[:n[l + 1]] = biases[l][:, 0]
            b_of[l] = &flat[pos]
            pos += s[l + 1]
            layers.append((wts, b))
        return layers

    def with_velocities(self, list vw, list vb):
        """Hold the momentum velocities ``vw`` (shaped like the weights) and ``vb`` (like the
        biases) too, laid out as the parameters; ``write_back`` copies them out again."""
        cdef Py_ssize_t L = self.net.L, size = self.size
        self.velocity = <real_t *> cnet_alloc(size * sizeof(real_t))
        self.net.vt = <real_t **> cnet_alloc(L * sizeof(real_t *))
        self.net.vb = <real_t **> cnet_alloc(L * sizeof(real_t *))
        if self.velocity == NULL or self.net.vt == NULL or self.net.vb == NULL:
            raise MemoryError()
        self.velocity_layers = self.lay_out(np.asarray(<real_t[:size]> self.velocity), vw, vb,
                                            self.net.vt, self.net.vb)

    def __dealloc__(self):
        cnet_free(self.theta)
        cnet_free(self.lazy)
        cnet_free(self.net.wt)
        cnet_free(self.net.b)
        cnet_free(self.velocity)
        cnet_free(self.net.vt)
        cnet_free(self.net.vb)

    def write_back(self, list weights, list biases):
        """Copy the parameters into ``weights[l]`` (n[l+1], n[l]) and ``biases[l]`` (n[l+1], 1)."""
        for l, (wts, b) in enumerate(self.layers):
            out = weights[l].shape[0]
            for j0, wt in wts:
                if is_scaled(&self.net, l):
                    wt *= self.net.scale[l]     # w_l = scale · wt: the lazy decay, applied
                j1 = min(out, j0 + wt.shape[1])
                if j1 > j0:
                    weights[l][j0:j1] = wt[:, :j1 - j0].T
            self.net.scale[l] = 1
            biases[l][:, 0] = b[:out]

    def write_back_velocities(self, list vw, list vb):
        """Copy the velocities (``with_velocities``) into ``vw[l]`` and ``vb[l]``, in place."""
        for l, (wts, b) in enumerate(self.velocity_layers):
            out = vw[l].shape[0]
            for j0, vt in wts:
                j1 = min(out, j0 + vt.shape[1])
                if j1 > j0:
                    vw[l][j0:j1] = vt[:, :j1 - j0].T
            vb[l][:, 0] = b[:out]
