"""network3's layer classes and activations: their shapes, the book's initial
draws, their checks, and whether a list of them chains."""
import numbers

import numpy as np

from cnet._network3_data import Shared
from cnet.functions import sigmoid, tanh   # network3's sigmoid and tanh are cnet's own


def ReLU(z):
    """max(0, z)."""
    return np.maximum(0.0, z)


def linear(z):
    """z itself."""
    return z


_NAMES = {sigmoid: "sigmoid", tanh: "tanh", ReLU: "relu", linear: "linear"}
_BY_NAME = {name: f for f, name in _NAMES.items()}


def activation_name(fn, where="activation_fn"):
    """The name ("sigmoid", "tanh", "relu", "linear") of one of network3's activation
    functions; TypeError for anything else (the layers compute only these)."""
    if isinstance(fn, str) and fn in _BY_NAME:
        return fn
    if fn in _NAMES:
        return _NAMES[fn]
    if not callable(fn):
        raise TypeError("{}: expected one of network3's activations (sigmoid, tanh, ReLU, linear), "
                        "got {!r}, which is not callable".format(where, fn))
    raise TypeError("{}: {!r} is not one of network3's activations (sigmoid, tanh, ReLU, linear), "
                    "whose gradients cnet computes".format(where, getattr(fn, "__name__", fn)))


def _floatx():
    from cnet import network3
    dtype = np.dtype(network3.floatX)
    if dtype not in (np.float32, np.float64):
        raise ValueError("network3.floatX is {!r}; expected 'float32' or 'float64'".format(network3.floatX))
    return dtype


def _shape(name, value, length):
    if (not isinstance(value, (tuple, list)) or len(value) != length
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError("{}: expected {} positive integers, got {!r}".format(name, length, value))
    return tuple(int(v) for v in value)


def _dropout(p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError("p_dropout: expected a probability in [0, 1), got {!r}".format(p))
    return float(p)


def _normal(scale, size, dtype):
    return Shared(np.asarray(np.random.normal(loc=0.0, scale=scale, size=size), dtype=dtype))


class ConvPoolLayer:
    """A convolutional layer followed by max-pooling: output
    activation_fn(maxpool(conv(x, w)) + b), ``filter_shape`` (filters, input maps,
    height, width), ``image_shape`` (mini-batch, input maps, height, width)."""

    kind = "conv_pool"

    def __init__(self, filter_shape, image_shape, poolsize=(2, 2), activation_fn=sigmoid):
        self.filter_shape = _shape("filter_shape", filter_shape, 4)
        self.image_shape = _shape("image_shape", image_shape, 4)
        self.poolsize = _shape("poolsize", poolsize, 2)
        self.activation = activation_name(activation_fn)
        self.activation_fn = _BY_NAME[self.activation]      # the function, also when given by name
        f, c, h, w = self.filter_shape
        _, maps, height, width = self.image_shape
        if c != maps:
            raise ValueError("filter_shape {} takes {} input maps, but image_shape {} has {}".format(
                self.filter_shape, c, self.image_shape, maps))
        if h > height or w > width:
            raise ValueError("filter_shape {}: a {}x{} filter is larger than the {}x{} image".format(
                self.filter_shape, h, w, height, width))
        ph, pw = self.poolsize
        if ph > height - h + 1 or pw > width - w + 1:
            raise ValueError("poolsize {} is larger than the {}x{} map the convolution makes".format(
                self.poolsize, height - h + 1, width - w + 1))
        dtype = _floatx()
        # the book's n_out, a Python 2 division of integers
        n_out = (f * h * w) // (ph * pw)
        self.w = _normal(np.sqrt(1.0 / n_out), self.filter_shape, dtype)
        self.b = _normal(1.0, (f,), dtype)
        self.params = [self.w, self.b]

    @property
    def output_shape(self):
        """One example's output: (filters, pooled height, pooled width)."""
        f, _, h, w = self.filter_shape
        _, _, height, width = self.image_shape
        return (f, (height - h + 1) // self.poolsize[0], (width - w + 1) // self.poolsize[1])

    @property
    def n_inputs(self):
        return int(np.prod(self.image_shape[1:]))

    @property
    def n_out(self):
        return int(np.prod(self.output_shape))

    def image_shape_for(self, examples):
        return (examples,) + self.image_shape[1:]


class FullyConnectedLayer:
    """A fully connected layer: activation_fn(x·w + b), w of shape (n_in, n_out); in
    training each input is dropped with probability ``p_dropout``, in evaluation
    x·w is scaled by 1 − p_dropout."""

    kind = "full"

    def __init__(self, n_in, n_out, activation_fn=sigmoid, p_dropout=0.0):
        self.n_in, self.n_out = _shape("(n_in, n_out)", (n_in, n_out), 2)
        self.activation = activation_name(activation_fn)
        self.activation_fn = _BY_NAME[self.activation]      # the function, also when given by name
        self.p_dropout = _dropout(p_dropout)
        dtype = _floatx()
        self.w = _normal(np.sqrt(1.0 / self.n_out), (self.n_in, self.n_out), dtype)
        self.b = _normal(1.0, (self.n_out,), dtype)
        self.params = [self.w, self.b]

    @property
    def n_inputs(self):
        return self.n_in


class SoftmaxLayer:
    """The softmax output layer: softmax(x·w + b), w and b starting at zero; dropout
    as in FullyConnectedLayer.  Its cost is the mean of −ln a_y over the mini-batch."""

    kind = "softmax"
    activation = "softmax"

    def __init__(self, n_in, n_out, p_dropout=0.0):
        self.n_in, self.n_out = _shape("(n_in, n_out)", (n_in, n_out), 2)
        self.p_dropout = _dropout(p_dropout)
        dtype = _floatx()
        self.w = Shared(np.zeros((self.n_in, self.n_out), dtype=dtype))
        self.b = Shared(np.zeros((self.n_out,), dtype=dtype))
        self.params = [self.w, self.b]

    @property
    def n_inputs(self):
        return self.n_in


LAYER_KINDS = {cls.kind: cls for cls in (ConvPoolLayer, FullyConnectedLayer, SoftmaxLayer)}


def check_chain(layers, mini_batch_size):
    """``mini_batch_size`` once the layers are known to chain: each one's input the
    previous one's output, every ConvPoolLayer's image_shape[0] the mini-batch,
    one precision, a SoftmaxLayer last.  Raises naming the layer's index."""
    if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, numbers.Integral) \
            or mini_batch_size < 1:
        raise ValueError("mini_batch_size must be a positive integer, got {!r}".format(mini_batch_size))
    if not layers:
        raise ValueError("layers: expected at least one layer")
    for l, layer in enumerate(layers):
        if type(layer) not in LAYER_KINDS.values():
            raise TypeError("layers[{}] is {!r}; expected a ConvPoolLayer, FullyConnectedLayer or "
                            "SoftmaxLayer".format(l, layer))
        if isinstance(layer, ConvPoolLayer) and layer.image_shape[0] != mini_batch_size:
            raise ValueError("layers[{}]: image_shape[0] is {}, but mini_batch_size is {}".format(
                l, layer.image_shape[0], mini_batch_size))
        if layer.w.value.dtype != layers[0].w.value.dtype:
            raise ValueError("layers[{}] is {} but layers[0] is {}: build every layer with one "
                             "network3.floatX".format(l, layer.w.value.dtype, layers[0].w.value.dtype))
        if l == 0:
            continue
        before = layers[l - 1]
        if isinstance(before, SoftmaxLayer):
            raise ValueError("layers[{}] follows a SoftmaxLayer; the SoftmaxLayer must be last".format(l))
        if isinstance(layer, ConvPoolLayer):
            if not isinstance(before, ConvPoolLayer) or tuple(layer.image_shape[1:]) != before.output_shape:
                raise ValueError("layers[{}]: image_shape {} does not take layers[{}]'s output, of shape "
                                 "{} per example".format(l, layer.image_shape, l - 1, _out_shape(before)))
        elif layer.n_in != before.n_out:
            raise ValueError("layers[{}]: n_in is {}, but layers[{}] puts out {} values per example".format(
                l, layer.n_in, l - 1, before.n_out))
    if not isinstance(layers[-1], SoftmaxLayer):
        raise ValueError("layers[{}] is a {}; the last layer must be a SoftmaxLayer (its cost is the "
                         "network's)".format(len(layers) - 1, type(layers[-1]).__name__))
    return int(mini_batch_size)


def _out_shape(layer):
    return layer.output_shape if isinstance(layer, ConvPoolLayer) else (layer.n_out,)
