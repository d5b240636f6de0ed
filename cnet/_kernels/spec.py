"""A layer's plain description, the one thing both kernel implementations read
about a network's shape: ``spec`` arguments are tuples of these, input layer
first.  The layer objects (``cnet.layers``) make them; the kernels never infer
a layer from its weights' shapes.  ``check`` holds a spec against the weights
and biases a kernel function was given (once, at its Python boundary).
"""
from typing import NamedTuple

from cnet.functions import ACTIVATIONS, OUTPUTS


class LayerSpec(NamedTuple):
    """One layer: ``kind`` ("dense"; each new kind names itself here and adds its
    own fields after these, with defaults), ``n_in`` inputs, ``n_out`` outputs,
    ``activation`` ("sigmoid", "tanh", "relu", "softmax"), and ``p_dropout``, the
    probability that training drops each of its inputs (0.0: none)."""
    kind: str
    n_in: int
    n_out: int
    activation: str
    p_dropout: float = 0.0


def dense_chain(sizes, activation="sigmoid", output="sigmoid"):
    """The spec of the book's network of ``sizes``: dense layers, ``activation``
    in the hidden ones, ``output`` in the last."""
    last = len(sizes) - 2
    return tuple(LayerSpec("dense", n_in, n_out, output if l == last else activation)
                 for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])))


def dense_shapes(layer):
    """A dense layer's (weights' shape, biases' shape): w is (n_out, n_in), b (n_out, 1)."""
    return (layer.n_out, layer.n_in), (layer.n_out, 1)


# kind → its parameters' shapes; a kind is known to the kernels when it is here
SHAPES = {"dense": dense_shapes}


def check(spec, weights, biases):
    """Raise ValueError, naming the layer and the shapes, unless ``spec`` is a sequence of
    LayerSpec that ``weights`` and ``biases`` (one array each per layer) fit: known
    kinds, each layer's n_in the previous one's n_out, the parameters of the kind's
    shapes, a hidden layer's activation in ACTIVATIONS and the last one's in OUTPUTS,
    no dropout (these kernels train without it)."""
    if not isinstance(spec, (tuple, list)) or not spec or \
            not all(isinstance(layer, LayerSpec) for layer in spec):
        raise ValueError("spec must be a non-empty tuple of LayerSpec, got {!r}".format(spec))
    if len(weights) != len(spec) or len(biases) != len(spec):
        raise ValueError("spec has {} layers, but there are {} weight and {} bias arrays".format(
            len(spec), len(weights), len(biases)))
    for l, layer in enumerate(spec):
        where = "spec[{}] ({} layer {} → {})".format(l, layer.kind, layer.n_in, layer.n_out)
        if layer.kind not in SHAPES:
            raise ValueError("{}: unknown kind {!r}; the kernels know {}".format(
                where, layer.kind, sorted(SHAPES)))
        if l > 0 and layer.n_in != spec[l - 1].n_out:
            raise ValueError("{}: takes {} inputs, but spec[{}] has {} outputs".format(
                where, layer.n_in, l - 1, spec[l - 1].n_out))
        w_shape, b_shape = SHAPES[layer.kind](layer)
        if tuple(weights[l].shape) != w_shape or tuple(biases[l].shape) != b_shape:
            raise ValueError("{}: weights[{}] has shape {} and biases[{}] {}; expected {} and {}".format(
                where, l, tuple(weights[l].shape), l, tuple(biases[l].shape), w_shape, b_shape))
        names = OUTPUTS if l == len(spec) - 1 else ACTIVATIONS
        if not isinstance(layer.activation, str) or layer.activation not in names:
            raise ValueError("{}: activation must be one of {} ({}), got {!r}".format(
                where, sorted(names), "the output layer's" if names is OUTPUTS else "a hidden layer's",
                layer.activation))
        if layer.p_dropout != 0:
            raise ValueError("{}: p_dropout is {!r}; these kernels train without dropout (0.0)".format(
                where, layer.p_dropout))
