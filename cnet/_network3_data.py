"""network3's data: the book's Theano shared variables as small array holders,
``load_data_shared`` finding the book's files or cnet's MNIST, and the checks
of the (x, y) pairs that training and measuring take."""
import os

import numpy as np


class Shared:
    """An array that answers the Theano calls the book's scripts make on shared
    variables and on the labels: ``get_value(borrow=False)``, ``set_value(value,
    borrow=False)``, ``eval()``; ``np.asarray`` reads it too."""

    def __init__(self, value):
        self.value = np.asarray(value)

    def get_value(self, borrow=False):
        """The array: itself with ``borrow=True``, else a copy."""
        return self.value if borrow else self.value.copy()

    def set_value(self, value, borrow=False):
        """Replace the array by ``value`` (its shape and dtype must stay the same)."""
        value = np.asarray(value)
        if value.shape != self.value.shape:
            raise ValueError("set_value: shape {} differs from {}".format(value.shape, self.value.shape))
        self.value = value.astype(self.value.dtype, copy=not borrow)

    def eval(self):
        """A copy of the array (Theano's evaluation of the variable)."""
        return self.value.copy()

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    def __array__(self, dtype=None, copy=None):
        return self.value if dtype is None else self.value.astype(dtype)

    def __len__(self):
        return len(self.value)

    def __repr__(self):
        return "Shared({} {})".format(self.value.dtype, self.value.shape)


def size(data):
    """The number of examples in ``data``, a pair (x, y) from ``load_data_shared``."""
    return data[0].get_value(borrow=True).shape[0]


def data_places(data_dir=None):
    """The directories where cnet keeps data, in the order they are searched:
    ``data_dir`` (when given), ``$CNET_DATA_DIR``, then cnet's cache."""
    from cnet import datasets
    return [d for d in (data_dir, os.environ.get("CNET_DATA_DIR"), datasets.cache_dir()) if d]


def find_data_file(name, data_dir=None):
    """The path of the file ``name`` in the first of ``data_places(data_dir)`` that has
    it, or None."""
    return next((os.path.join(d, name) for d in data_places(data_dir) if os.path.isfile(os.path.join(d, name))),
                None)


def shared_pairs(parts, dtype, limit=None):
    """``parts``, (images, labels) pairs, as (x, y) pairs of ``Shared``: x in ``dtype``,
    y int32 labels, each cut to its first ``limit`` examples when ``limit`` is given."""
    return [(Shared(np.asarray(x[:limit], dtype=dtype)), Shared(np.asarray(y[:limit], dtype=np.int32)))
            for x, y in parts]


def load_data_shared(filename="../data/mnist.pkl.gz"):
    """``[(x, y)] * 3`` for training, validation and test, x ``Shared`` float images
    (n, 784) in ``network3.floatX``, y ``Shared`` int32 labels.

    ``filename`` is read when it exists; otherwise a file of the book's names
    (``mnist.pkl.gz``, ``mnist_expanded.pkl.gz``) is looked for where cnet keeps
    its data (``CNET_DATA_DIR``, then its cache), and ``mnist.pkl.gz`` falls back
    to cnet's MNIST, fetched and verified if need be (``mnist_loader``).
    """
    from cnet import datasets, mnist_loader, network3
    dtype = np.dtype(network3.floatX)
    name = os.path.basename(str(filename))
    if os.path.isfile(filename):
        parts = datasets.read_pickle(filename)
    else:
        places = data_places()
        found = find_data_file(name)
        if found is not None:
            parts = datasets.read_pickle(found)
        elif name == datasets.PICKLE:
            parts = mnist_loader.load_data()
        elif name == datasets.EXPANDED:
            raise FileNotFoundError("{}: not there, nor in {}; make it with `cnet expand-mnist` (or "
                                    "cnet.datasets.expand_mnist())".format(filename, " or ".join(places)))
        else:
            raise FileNotFoundError("{}: no such file".format(filename))
    return shared_pairs(parts, dtype)


def arrays(name, data, n_inputs, n_out, dtype):
    """``data`` (a pair of Shared or arrays: inputs (n, n_inputs), labels (n,)) as
    (X in ``dtype``, integer labels), checked: shapes, lengths, labels below n_out."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError("{}: expected a pair (x, y), got {!r}".format(name, type(data).__name__))
    X, Y = np.asarray(data[0]), np.asarray(data[1])
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise ValueError("{}: x has shape {}; the network's first layer takes (n, {})".format(
            name, X.shape, n_inputs))
    if X.dtype.kind != "f" and X.dtype.kind not in "iu":
        raise TypeError("{}: x has dtype {}; expected numbers".format(name, X.dtype))
    if Y.shape != (len(X),):
        raise ValueError("{}: y has shape {}; expected ({},), a label per row of x".format(name, Y.shape, len(X)))
    if Y.dtype.kind not in "iu":
        if Y.dtype.kind != "f" or not np.all(np.mod(Y, 1) == 0):
            raise TypeError("{}: y has dtype {}; expected integer labels".format(name, Y.dtype))
    if len(Y) and (Y.min() < 0 or Y.max() >= n_out):
        bad = int(np.flatnonzero((Y < 0) | (Y >= n_out))[0])
        raise ValueError("{}: y[{}] is {}; the output layer has {} neurons (labels 0..{})".format(
            name, bad, Y[bad], n_out, n_out - 1))
    X = X.astype(dtype, copy=False)
    if not np.all(np.isfinite(X)):
        raise ValueError("{}: x holds a value that is not finite".format(name))
    return X, Y.astype(np.int64)
