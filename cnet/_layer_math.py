"""network3's layers over a mini-batch: each kind's forward pass (with dropout
in training, scaled by 1 − p in evaluation), its backward pass to its input, and
its weights' gradient, walked by ``forward`` and ``gradients`` as a table from
kind to those functions.

``gradients`` shares a step among threads (``cnet._workers``) in two phases:
the examples (each thread the forward and backward passes of a contiguous part
of the mini-batch), then each layer's weights (each thread the gradient of a
range of rows, summed over all the examples in their order).  No sum runs over
two threads' work, so every thread count gives the same bits.

The convolution, pooling, matrix products and dropout masks come from the
kernel interface (``conv_forward``, ``conv_backward``, ``pool_forward``,
``pool_backward``, ``matmul``, ``dropout_keep``: ``cnet._kernels.interface``):
the compiled kernels when they are built, else the NumPy ones.
"""
import numpy as np

from cnet import _workers
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

    def keep(self, layer_index, first, examples, units, p):
        """The masks of examples first … first + examples − 1 of the mini-batch."""
        stream = int(numpy_conv.mix64(np.uint64(self.seed) + np.uint64(layer_index)))
        return self.kernels.dropout_keep(stream, self.step, np.arange(first, first + examples), units, p)


# ------------------------------------------------------------ forward passes
# Each returns (a, memo): the layer's output and what its backward pass needs; x holds
# examples first, first + 1, … of the mini-batch (their dropout masks).

def _conv_pool_forward(layer, x, k, mask, l, training, first):
    x = x.reshape(layer.image_shape_for(len(x)))
    conv = k.conv_forward(x, layer.w.value)
    pooled = k.pool_forward(conv, layer.poolsize)
    z = pooled + layer.b.value[None, :, None, None]
    f, _ = ACTIVATIONS[layer.activation]
    a = f(z).astype(z.dtype, copy=False)
    return a, (x, conv, pooled, z, a)


def _dense_input(layer, x, mask, l, training, first):
    """The layer's input rows, and in training those rows times the dropout mask."""
    rows = x.reshape(len(x), layer.n_in)
    if not training or layer.p_dropout == 0:
        return rows, None
    kept = mask.keep(l, first, len(rows), layer.n_in, layer.p_dropout)
    return rows * kept, kept


def _dense_z(layer, rows, kept, training, k):
    product = k.matmul(rows, layer.w.value)
    if not training and layer.p_dropout:
        product = product * layer.w.value.dtype.type(1 - layer.p_dropout)
    return product + layer.b.value


def _full_forward(layer, x, k, mask, l, training, first):
    rows, kept = _dense_input(layer, x, mask, l, training, first)
    z = _dense_z(layer, rows, kept, training, k)
    f, _ = ACTIVATIONS[layer.activation]
    a = f(z).astype(z.dtype, copy=False)
    return a, (x.shape, rows, kept, z, a)


def _softmax_forward(layer, x, k, mask, l, training, first):
    rows, kept = _dense_input(layer, x, mask, l, training, first)
    z = _dense_z(layer, rows, kept, training, k)
    a = softmax(z)
    return a, (x.shape, rows, kept, z, a)


# ------------------------------------------------------------ backward passes
# Each takes ∂C/∂(its output) and returns (memo, ∂C/∂(its input) or None): memo the
# arrays, one row per example, that the layer's weights' gradient sums over.

def _conv_pool_backward(layer, memo, d_out, k, need_input):
    x, conv, pooled, z, a = memo
    _, derivative = ACTIVATIONS[layer.activation]
    dz = d_out.reshape(z.shape) * derivative(z, a)
    d_conv = k.pool_backward(conv, pooled, dz, layer.poolsize)
    d_x = k.conv_backward(x, layer.w.value, d_conv, need_input=True, span=(0, 0))[1] if need_input else None
    return (x, d_conv, dz), d_x


def _full_backward(layer, memo, d_out, k, need_input):
    in_shape, rows, kept, z, a = memo
    _, derivative = ACTIVATIONS[layer.activation]
    return _dense_backward(layer, in_shape, rows, kept, d_out * derivative(z, a), need_input, k)


def _softmax_backward(layer, memo, d_z, k, need_input):
    in_shape, rows, kept, z, a = memo
    return _dense_backward(layer, in_shape, rows, kept, d_z, need_input, k)


def _dense_backward(layer, in_shape, rows, kept, dz, need_input, k):
    if not need_input:
        return (rows, dz), None
    d_x = k.matmul(dz, layer.w.value.T)      # the compiled matmul reads w.T in place
    if kept is not None:
        d_x = d_x * kept
    return (rows, dz), d_x.reshape(in_shape)


# ------------------------------------------------------------ weights' gradients
# From a layer's memo over the whole mini-batch: ∂C/∂w's rows r0 … r1 − 1 (filters of a
# ConvPoolLayer, inputs of a dense layer), each a sum over the examples in their order; ∂C/∂b.

def _conv_pool_weights(layer, memo, k, r0, r1):
    x, d_conv, _ = memo
    return k.conv_backward(x, layer.w.value, d_conv, need_input=False, span=(r0, r1))[0]


def _conv_pool_bias(memo):
    return memo[2].sum(axis=(0, 2, 3))


def _dense_weights(layer, memo, k, r0, r1):
    rows, dz = memo
    return k.matmul(np.ascontiguousarray(rows[:, r0:r1].T), dz)


def _dense_bias(memo):
    return memo[1].sum(axis=0)


KINDS = {   # kind: (forward, backward, weights' rows, bias)
    "conv_pool": (_conv_pool_forward, _conv_pool_backward, _conv_pool_weights, _conv_pool_bias),
    "full": (_full_forward, _full_backward, _dense_weights, _dense_bias),
    "softmax": (_softmax_forward, _softmax_backward, _dense_weights, _dense_bias),
}


def forward(layers, x, k, mask=None, training=False, first=0):
    """The last layer's output for the mini-batch ``x`` (examples first, first + 1, …),
    and each layer's memo."""
    memos = []
    for l, layer in enumerate(layers):
        x, memo = KINDS[layer.kind][0](layer, x, k, mask, l, training, first)
        memos.append(memo)
    return x, memos


def _examples(layers, x, y, k, mask, first, m):
    """(output, [memo of each layer's weights' gradient]) for the examples x (labels y)
    starting at ``first`` of a mini-batch of m: C's gradient to each output is
    (a − e_y) / m, the derivative of the mean of −ln a_y."""
    a, memos = forward(layers, x, k, mask, training=True, first=first)
    d = a.copy()
    d[np.arange(len(y)), y] -= 1
    d /= a.dtype.type(m)
    weight_memos = [None] * len(layers)
    for l in range(len(layers) - 1, -1, -1):
        weight_memos[l], d = KINDS[layers[l].kind][1](layers[l], memos[l], d, k, l > 0)
    return a, weight_memos


def _weight_rows(layers, memos, k, part, parts, grads):
    """Each layer's ∂C/∂w, the ``part``-th of ``parts`` ranges of its rows, into grads[l]
    (or, for one part, as grads[l])."""
    for l, layer in enumerate(layers):
        if parts == 1:
            grads[l] = KINDS[layer.kind][2](layer, memos[l], k, 0, len(layer.w.value))
        elif part < len(layer.w.value):     # (a layer of fewer rows than parts has fewer ranges)
            r0, r1 = _workers.spans(len(layer.w.value), parts)[part]
            grads[l][r0:r1] = KINDS[layer.kind][2](layer, memos[l], k, r0, r1)


def gradients(layers, x, y, k, mask, threads=1):
    """(cost, [(∂C/∂w, ∂C/∂b) per layer]) for the mini-batch (x, labels y): C the
    mean over the examples of −ln a_y of the output with the dropout masks, on up to
    ``threads`` threads."""
    m = len(y)
    parts = _workers.run(_examples, [(layers, x[a:b], y[a:b], k, mask, a, m)
                                     for a, b in _workers.spans(m, threads)])
    if len(parts) == 1:
        a, memos = parts[0]
    else:
        a = np.concatenate([part[0] for part in parts])
        memos = [tuple(np.concatenate(pieces) for pieces in zip(*[part[1][l] for part in parts]))
                 for l in range(len(layers))]
    with np.errstate(divide="ignore"):
        cost = float(-np.mean(np.log(a[np.arange(m), y])))
    threads = max(1, min(threads, max(len(layer.w.value) for layer in layers)))
    grads = [None if threads == 1 else np.empty_like(layer.w.value) for layer in layers]
    _workers.run(_weight_rows, [(layers, memos, k, t, threads, grads) for t in range(threads)])
    return cost, [(grads[l], KINDS[layer.kind][3](memos[l])) for l, layer in enumerate(layers)]
