"""A layer's plain description, the one thing both kernel implementations read
about a network's shape: ``spec`` arguments are tuples of these, input layer
first.  The layer objects (``cnet.layers``) make them; the kernels never infer
a layer from its weights' shapes.
"""
from typing import NamedTuple


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
