# The plan (Net: one Layer descriptor per layer of the spec) and the parameters in
# the kernels' layout (Params, which builds the plan).
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


cdef enum:
    DENSE = 0           # the layer kinds (LayerSpec.kind); one switch on them: _loops.pxi

KIND_IDS = {"dense": DENSE}


cdef struct Lazy:
    # A layer's lazy L2 scale (below), which one thread changes between steps
    # (scale_decay): kept apart from the descriptors that every thread reads throughout
    real_t scale          # w = scale · wtᵀ
    real_t fold           # ≠ 1: wt is yet to be multiplied by it


cdef struct Layer:
    # One layer of the plan: what it computes and where its numbers are.
    int kind              # DENSE
    int activation        # f of its outputs a = f(z): SIGMOID, TANH, RELU, SOFTMAX (_functions.pxi)
    bint packed_input     # its inputs are the packed examples (Rows), read by panels, not a layer's outputs
    Py_ssize_t n_in       # its inputs
    Py_ssize_t n_out      # its outputs
    Py_ssize_t stored     # n_out rounded up to BLOCK: its outputs' slots
    Py_ssize_t out        # its outputs a and errors δ start at `out` in an example's block
    Py_ssize_t inp        # its inputs start at `inp` there (the previous layer's out; 0 if packed_input)
    real_t *wt            # wt[i * stored + j] = w[j, i] / scale  (n_in rows); packed_input:
    #                       the panels of Net.col, panel q an n_in × (col[q+1] − col[q]) matrix at
    #                       wt + n_in · col[q]
    real_t *bias          # bias[j]: the bias b_j of output j (stored entries)
    real_t *vt            # momentum: the velocities of wt and bias, in the same layout
    real_t *vb            # (NULL without momentum)
    Lazy *lazy            # its lazy L2 scale (see "the lazy L2 scale")


cdef struct Net:
    # The plan: the layers, input layer first, built from the spec (Params)
    Py_ssize_t n_layers   # number of layers
    Layer *layer          # layer[0 … n_layers)
    Layer *output         # the last: the network's outputs
    Layer *packed         # the layer whose inputs are the packed examples (packed_input)
    Py_ssize_t panels     # its weights are cut by columns into panels, panel q holding
    Py_ssize_t *col       # columns col[q] ≤ j < col[q+1] (one panel: the layout above)
    Py_ssize_t width      # the stored widths' sum: the length of one example's block
    real_t *zeros         # max stored zeros: the bias of a scaled layer's unscaled sum


# ------------------------------------------------------- the lazy L2 scale
# L2 decay multiplies every weight by d = 1 − ηλ/n at every step.  As in
# scikit-learn's WeightVector (wscale, scale(), reset_wscale()), each layer keeps
# w = scale · wtᵀ, and a decay is scale ← d · scale: O(1) instead of a
# pass over every weight.  The loops then read w through the scale
# (scaled_bias, unscaled_step), and when a layer's scale falls below FOLD_BELOW it is
# folded back into wt before wt's entries grow large.  λ = 0 keeps every
# scale at 1 and every result bit for bit what it would be without them.

cdef double FOLD_BELOW = 1e-3   # a scale below this is folded back into the weights


cdef void scale_decay(Net *net, real_t decay) noexcept nogil:
    # scale ← decay · scale for every layer; a scale that falls below FOLD_BELOW
    # becomes 1, and the layer's fold the factor that its wt is to be multiplied by (by
    # scale_fold, before wt is next changed); fold = 1 otherwise.  (A decay of
    # exactly 0 -- ηλ/n = 1 -- makes the scale 0, a fold by 0: the weights become 0.)
    cdef Py_ssize_t l
    cdef Layer *layer
    for l in range(net.n_layers):
        layer = &net.layer[l]
        layer.lazy.fold = 1
        if decay != 1:
            layer.lazy.scale = decay * layer.lazy.scale
            if layer.lazy.scale < FOLD_BELOW:
                layer.lazy.fold = layer.lazy.scale
                layer.lazy.scale = 1


cdef void scale_fold(const Layer *layer, real_t *wt, Py_ssize_t rows, Py_ssize_t cols) noexcept nogil:
    # wt ← fold · wt on the rows × cols block of the layer's weights at wt, if
    # scale_decay left a fold for the layer
    cdef Py_ssize_t i
    cdef real_t fold = layer.lazy.fold
    if fold != 1:
        for i in range(rows * cols):
            wt[i] = fold * wt[i]


cdef inline bint is_scaled(const Layer *layer) noexcept nogil:
    # scale ≠ 1: the layer's wt is not its w itself
    return layer.lazy.scale != 1


cdef inline const real_t *scaled_bias(const Net *net, const Layer *layer) noexcept nogil:
    # the bias a sum over the layer's wt starts from: b itself, or zero for a scaled
    # layer, whose sum is scaled first and gets b after (z = b + scale · Σ …)
    return net.zeros if is_scaled(layer) else layer.bias


cdef inline real_t unscaled_step(const Layer *layer, real_t c) noexcept nogil:
    # the step size on the layer's wt that moves its w by c: c / scale
    return c / layer.lazy.scale if is_scaled(layer) else c


cdef class Params:
    """The plan of a spec and the parameters in the kernels' layout.

    ``Params(weights, biases, spec)`` checks them against the spec and copies them in;
    ``write_back(weights, biases)`` copies them out, in place, into arrays of the user's
    shapes.
    """
    cdef Net net
    cdef real_t *theta               # all of wt and b, at a multiple of 64 bytes
    cdef Lazy *lazy                  # each layer's lazy scale
    cdef real_t *velocity            # momentum: the velocities, laid out as theta (or NULL)
    cdef Py_ssize_t size             # the reals in theta
    cdef Py_ssize_t[::1] cols
    cdef list n_in, n_out, stored    # each layer's, as Python ints (for laying out)
    cdef list layers   # ([(j0, panel of w_l transposed), …], b_l): views of theta
    cdef list velocity_layers        # the same views of velocity

    def __cinit__(self, list weights, list biases, spec, Py_ssize_t panels=1):
        # spec: the layers (LayerSpec), which the weights and biases are checked to fit;
        # panels: how many panels to cut the packed input layer's weights into (at most
        # one per BLOCK of its outputs)
        check_spec(spec, weights, biases)
        cdef Py_ssize_t L = len(spec), l, out = 0
        cdef Layer *layer
        for l in range(L):
            if spec[l].kind not in KIND_IDS:
                raise ValueError(f"spec[{l}]: the compiled kernels have no layer kind {spec[l].kind!r} "
                                 f"(they run {sorted(KIND_IDS)})")
        self.n_in = [layer_spec.n_in for layer_spec in spec]
        self.n_out = [layer_spec.n_out for layer_spec in spec]
        self.stored = [-(-n // BLOCK) * BLOCK for n in self.n_out]
        size = self.size = sum(self.n_in[l] * self.stored[l] + self.stored[l] for l in range(L))
        # theta at a multiple of 64 bytes, so that each BLOCK of a row of wt is whole
        # cache lines (threads update different blocks)
        self.theta = <real_t *> cnet_alloc(size * sizeof(real_t))
        self.net.layer = <Layer *> cnet_alloc(L * sizeof(Layer))
        self.net.zeros = <real_t *> cnet_alloc(max(self.stored) * sizeof(real_t))
        self.lazy = <Lazy *> cnet_alloc(L * sizeof(Lazy))
        if self.theta == NULL or self.net.layer == NULL or self.net.zeros == NULL or self.lazy == NULL:
            raise MemoryError()
        self.net.n_layers = L
        for l in range(L):
            layer = &self.net.layer[l]
            layer.kind = KIND_IDS[spec[l].kind]
            layer.activation = (OUTPUT_IDS if l == L - 1 else ACTIVATION_IDS)[spec[l].activation]
            layer.packed_input = l == 0
            layer.n_in = self.n_in[l]
            layer.n_out = self.n_out[l]
            layer.stored = self.stored[l]
            layer.inp = self.net.layer[l - 1].out if l > 0 else 0
            layer.out = out
            out += layer.stored
            layer.lazy = &self.lazy[l]
            layer.lazy.scale = 1
            layer.lazy.fold = 1
        self.net.width = out
        self.net.packed = &self.net.layer[0]
        self.net.output = &self.net.layer[L - 1]
        blocks = self.stored[0] // BLOCK
        panels = max(1, min(panels, blocks))
        self.cols = np.asarray([q * blocks // panels * BLOCK for q in range(panels + 1)], dtype=np.intp)
        self.net.panels = panels
        self.net.col = &self.cols[0]
        self.layers = self.lay_out(np.asarray(<real_t[:size]> self.theta), weights, biases, False)

    cdef list lay_out(self, theta, list weights, list biases, bint velocities):
        # copy weights and biases into theta (a flat array), laid out as above; point
        # each layer's wt and bias (vt and vb: velocities) at its own, and return the views
        # the copies went to
        cdef Py_ssize_t l, q, pos = 0
        cdef real_t[::1] flat = theta
        cdef Layer *layer
        layers = []
        for l in range(len(weights)):
            layer = &self.net.layer[l]
            n_in, n_out, stored = self.n_in[l], self.n_out[l], self.stored[l]
            cuts = list(self.cols) if layer.packed_input else [0, stored]
            wts = []
            for q in range(len(cuts) - 1):
                j0, j1 = cuts[q], cuts[q + 1]
                wt = theta[pos + n_in * j0:pos + n_in * j1].reshape(n_in, j1 - j0)
                wt[:, :max(0, min(j1, n_out) - j0)] = weights[l][j0:j1].T
                wts.append((j0, wt))
            if velocities:
                layer.vt = &flat[pos]
            else:
                layer.wt = &flat[pos]
            pos += n_in * stored
            b = theta[pos:pos + stored]
            b[:n_out] = biases[l][:, 0]
            if velocities:
                layer.vb = &flat[pos]
            else:
                layer.bias = &flat[pos]
            pos += stored
            layers.append((wts, b))
        return layers

    def plan(self):
        """The plan, one dict per layer: its kind and activation (names), n_in, n_out,
        stored (its outputs' slots), out and inp (where its outputs and inputs start in
        an example's block) and packed_input."""
        cdef Layer layer
        kinds = {number: name for name, number in KIND_IDS.items()}
        layers = []
        for l in range(self.net.n_layers):
            layer = self.net.layer[l]
            names = OUTPUT_IDS if l == self.net.n_layers - 1 else ACTIVATION_IDS
            activation = [name for name, number in names.items() if number == layer.activation][0]
            layers.append(dict(kind=kinds[layer.kind], activation=activation, n_in=layer.n_in,
                               n_out=layer.n_out, stored=layer.stored, out=layer.out, inp=layer.inp,
                               packed_input=bool(layer.packed_input)))
        return layers

    def with_velocities(self, list vw, list vb):
        """Hold the momentum velocities ``vw`` (shaped like the weights) and ``vb`` (like the
        biases) too, laid out as the parameters; ``write_back`` copies them out again."""
        cdef Py_ssize_t size = self.size
        self.velocity = <real_t *> cnet_alloc(size * sizeof(real_t))
        if self.velocity == NULL:
            raise MemoryError()
        self.velocity_layers = self.lay_out(np.asarray(<real_t[:size]> self.velocity), vw, vb, True)

    def __dealloc__(self):
        cnet_free(self.theta)
        cnet_free(self.net.layer)
        cnet_free(self.net.zeros)
        cnet_free(self.lazy)
        cnet_free(self.velocity)

    def write_back(self, list weights, list biases):
        """Copy the parameters into ``weights[l]`` (n_out, n_in) and ``biases[l]`` (n_out, 1)."""
        cdef Layer *layer
        for l, (wts, b) in enumerate(self.layers):
            layer = &self.net.layer[l]
            out = weights[l].shape[0]
            for j0, wt in wts:
                if is_scaled(layer):
                    wt *= layer.lazy.scale       # w = scale · wt: the lazy decay, applied
                j1 = min(out, j0 + wt.shape[1])
                if j1 > j0:
                    weights[l][j0:j1] = wt[:, :j1 - j0].T
            layer.lazy.scale = 1
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
