"""network3's layers over a mini-batch: each kind's forward pass (with dropout
in training, scaled by 1 − p in evaluation) and its backward pass to its
weights, its bias and its input, walked by ``forward`` and ``gradients`` as a
table from kind to those functions.

The convolution, pooling, matrix products and dropout masks come from the
kernel interface (``conv_forward``, ``conv_backward``, ``pool_forward``,
``pool_backward``, ``matmul``, ``dropout_keep``: ``cnet._kernels.interface``):
the compiled kernels when they are built, else the NumPy ones.  ``threads`` is
passed to each call: the compiled kernels share it among that many threads,
and every count gives the same bits.
"""
import numpy as np

from cnet._kernels import numpy_conv
from cnet.functions import relu, sigmoid, tanh

# activation name -> (f(z), f'(z, a) from z and a = f(z)); f' at a kink takes the book's
# (Theano's) side: ReLU's maximum(0, z) passes its gradient to z where z >= 0
ACTIVATIONS = {
    "sigmoid": (sigmoid, lambda z, a: a * (1 - a)),
    "tanh": (tanh, lambda z, a: 1 - a * a),
    "relu": (relu, lambda z, a: (z >= 0).astype(z.dtype)),
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
}


def softmax(z):
    """Each row's softmax, computed from z − max(z) so that no exp overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Mask:
    """The dropout masks of one step: a layer's kept inputs for each example of the
    mini-batch, a function of (seed, layer, step, example, unit) alone."""

    def __init__(self, kernels, seed, step):
        self.kernels, self.seed, self.step = kernels, seed, step

    def keep(self, layer_index, examples, units, p):
        """The (examples, units) masks of the mini-batch's examples 0 … examples − 1."""
        stream = int(numpy_conv.mix64(np.uint64(self.seed) + np.uint64(layer_index)))
        return self.kernels.dropout_keep(stream, self.step, np.arange(examples), units, p)


# ------------------------------------------------------------ forward passes
# Each returns (a, memo): the layer's output and what its backward pass needs.

def _conv_pool_forward(layer, x, k, mask, l, training, threads):
    x = x.reshape(layer.image_shape_for(len(x)))
    conv = k.conv_forward(x, layer.w.value, threads=threads)
    pooled = k.pool_forward(conv, layer.poolsize, threads=threads)
    z = pooled + layer.b.value[None, :, None, None]
    f, _ = ACTIVATIONS[layer.activation]
    a = f(z).astype(z.dtype, copy=False)
    return a, (x, conv, pooled, z, a)


def _dense_input(layer, x, mask, l, training):
    """The layer's input rows, and in training those rows times the dropout mask."""
    rows = x.reshape(len(x), layer.n_in)
    if not training or layer.p_dropout == 0:
        return rows, None
    kept = mask.keep(l, len(rows), layer.n_in, layer.p_dropout)
    return rows * kept, kept


def _dense_z(layer, rows, training, k, threads):
    product = k.matmul(rows, layer.w.value, threads=threads)
    if not training and layer.p_dropout:
        product = product * layer.w.value.dtype.type(1 - layer.p_dropout)
    return product + layer.b.value


def _full_forward(layer, x, k, mask, l, training, threads):
    rows, kept = _dense_input(layer, x, mask, l, training)
    z = _dense_z(layer, rows, training, k, threads)
    f, _ = ACTIVATIONS[layer.activation]
    a = f(z).astype(z.dtype, copy=False)
    return a, (x.shape, rows, kept, z, a)


def _softmax_forward(layer, x, k, mask, l, training, threads):
    rows, kept = _dense_input(layer, x, mask, l, training)
    z = _dense_z(layer, rows, training, k, threads)
    a = softmax(z)
    return a, (x.shape, rows, kept, z, a)


# ------------------------------------------------------------ backward passes
# Each takes ∂C/∂(its output) and returns (∂C/∂w, ∂C/∂b, ∂C/∂(its input) or None): the
# weights' and bias's gradients sums over the examples in their order.

def _conv_pool_backward(layer, memo, d_out, k, need_input, threads):
    x, conv, pooled, z, a = memo
    _, derivative = ACTIVATIONS[layer.activation]
    dz = d_out.reshape(z.shape) * derivative(z, a)
    d_conv = k.pool_backward(conv, pooled, dz, layer.poolsize, threads=threads)
    d_w, d_x = k.conv_backward(x, layer.w.value, d_conv, need_input=need_input, threads=threads)
    return d_w, dz.sum(axis=(0, 2, 3)), d_x


def _full_backward(layer, memo, d_out, k, need_input, threads):
    in_shape, rows, kept, z, a = memo
    _, derivative = ACTIVATIONS[layer.activation]
    return _dense_backward(layer, in_shape, rows, kept, d_out * derivative(z, a), need_input, k, threads)


def _softmax_backward(layer, memo, d_z, k, need_input, threads):
    in_shape, rows, kept, z, a = memo
    return _dense_backward(layer, in_shape, rows, kept, d_z, need_input, k, threads)


def _dense_backward(layer, in_shape, rows, kept, dz, need_input, k, threads):
    d_w = k.matmul(np.ascontiguousarray(rows.T), dz, threads=threads)
    d_x = None
    if need_input:
        d_x = k.matmul(dz, layer.w.value.T, threads=threads)      # the compiled matmul reads w.T in place
        if kept is not None:
            d_x = d_x * kept
        d_x = d_x.reshape(in_shape)
    return d_w, dz.sum(axis=0), d_x


KINDS = {   # kind: (forward, backward)
    "conv_pool": (_conv_pool_forward, _conv_pool_backward),
    "full": (_full_forward, _full_backward),
    "softmax": (_softmax_forward, _softmax_backward),
}


def forward(layers, x, k, mask=None, training=False, threads=1):
    """The last layer's output for the mini-batch ``x``, and each layer's memo."""
    memos = []
    for l, layer in enumerate(layers):
        x, memo = KINDS[layer.kind][0](layer, x, k, mask, l, training, threads)
        memos.append(memo)
    return x, memos


def gradients(layers, x, y, k, mask, threads=1):
    """(cost, [(∂C/∂w, ∂C/∂b) per layer]) for the mini-batch (x, labels y): C the
    mean over the examples of −ln a_y of the output with the dropout masks, its
    gradient to each output (a − e_y) / m.  The kernels run on ``threads`` threads."""
    m = len(y)
    a, memos = forward(layers, x, k, mask, training=True, threads=threads)
    with np.errstate(divide="ignore"):
        cost = float(-np.mean(np.log(a[np.arange(m), y])))
    d = a.copy()
    d[np.arange(m), y] -= 1
    d /= a.dtype.type(m)
    grads = [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        d_w, d_b, d = KINDS[layers[l].kind][1](layers[l], memos[l], d, k, l > 0, threads)
        grads[l] = (d_w, d_b)
    return cost, grads
