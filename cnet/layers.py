"""Layer descriptors: each layer kind's parameter shapes, initial draws and plain spec.

A network is a tuple of layer objects, input side first.  ``network`` and
``network2`` build theirs with ``dense_chain`` from ``sizes``, the hidden
layers' activation and the cost's output activation; everything that needs a
layer's shapes (checking ``net.weights``, drawing the initial parameters,
loading a file) asks the layer, and the kernels read only its ``spec()``
(``cnet._kernels.spec.LayerSpec``).  A new kind of layer is a new class here
with the same methods.
"""
import numpy as np

from cnet._kernels import spec as kernel_spec
from cnet._kernels.spec import LayerSpec

# The weight initialisations the book names: "default" draws N(0, 1/n_in)
# (network2's default_weight_initializer), "large" N(0, 1) (chapter 1's, and
# network2's large_weight_initializer).
INITIALIZERS = ("default", "large")


class Dense:
    """A fully connected layer: ``n_out`` neurons, each taking all ``n_in`` inputs,
    a = f(w a_in + b) with w of shape (n_out, n_in), b of shape (n_out, 1) and f
    the ``activation`` ("sigmoid", "tanh", "relu" or "softmax")."""

    kind = "dense"
    __slots__ = ("n_in", "n_out", "activation")

    def __init__(self, n_in, n_out, activation="sigmoid"):
        self.n_in, self.n_out, self.activation = int(n_in), int(n_out), activation

    def __repr__(self):
        return "Dense({}, {}, {!r})".format(self.n_in, self.n_out, self.activation)

    def __eq__(self, other):
        return type(other) is type(self) and self.spec() == other.spec()

    def __hash__(self):
        return hash(self.spec())

    @property
    def weight_shape(self):
        """The shape of the layer's weights: (n_out, n_in)."""
        return (self.n_out, self.n_in)

    @property
    def bias_shape(self):
        """The shape of the layer's biases: (n_out, 1)."""
        return (self.n_out, 1)

    @property
    def parameter_count(self):
        """How many numbers the layer's weights and biases hold."""
        return self.n_out * self.n_in + self.n_out

    def initial_biases(self, randn):
        """The biases' initial values: standard normals, ``randn(n_out, 1)``."""
        return randn(self.n_out, 1)

    def initial_weights(self, randn, initializer="default"):
        """The weights' initial values from ``randn(*shape, divisor=None)``: "default"
        N(0, 1/n_in) (standard normals divided by √n_in), "large" N(0, 1)."""
        if initializer == "large":
            return randn(self.n_out, self.n_in)
        return randn(self.n_out, self.n_in, divisor=np.sqrt(self.n_in))

    def spec(self):
        """The layer as the kernels read it."""
        return LayerSpec(self.kind, self.n_in, self.n_out, self.activation)


def dense_chain(sizes, activation="sigmoid", output="sigmoid"):
    """The book's network of layer widths ``sizes``: a dense layer between each two
    widths, ``activation`` in the hidden layers and ``output`` in the last (the
    layers of ``cnet._kernels.spec.dense_chain``)."""
    return tuple(Dense(s.n_in, s.n_out, s.activation) for s in kernel_spec.dense_chain(sizes, activation, output))


def initial_parameters(layers, randn, initializer="default"):
    """``(biases, weights)``: each layer's initial biases and weights, drawn from
    ``randn`` in the book's order -- every layer's biases, then every layer's
    weights."""
    if initializer not in INITIALIZERS:
        raise ValueError("initializer must be one of {}, got {!r}".format(INITIALIZERS, initializer))
    biases = [layer.initial_biases(randn) for layer in layers]
    weights = [layer.initial_weights(randn, initializer) for layer in layers]
    return biases, weights


def parameter_count(layers):
    """How many numbers the weights and biases of ``layers`` hold."""
    return sum(layer.parameter_count for layer in layers)


def spec(layers):
    """The spec of the network of ``layers``: a tuple of ``LayerSpec``, input side first."""
    return tuple(layer.spec() for layer in layers)
