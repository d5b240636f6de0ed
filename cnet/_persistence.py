"""Saving a network to JSON (network2's format, written atomically) and reading one back, checked."""
import json
import os
import tempfile

import numpy as np

from cnet import _checks, layers
from cnet.functions import ACTIVATIONS, cost_by_name


def save(net, filename):
    """Write ``net`` to ``filename`` as JSON: its sizes, weights, biases and the name
    of its cost class (and its hidden layers' activation when not sigmoid, a key
    the book's load ignores).  The file is written in full under a temporary name
    in the same directory, then renamed over ``filename``."""
    filename = _checks.path("filename", filename)
    weights, biases = net._params()
    data = {"sizes": net.sizes,
            "weights": [w.tolist() for w in weights],
            "biases": [b.tolist() for b in biases],
            "cost": net._cost_name()}
    if net.activation != "sigmoid":
        data["activation"] = net.activation
    write_json(filename, data)


def write_json(filename, data):
    """Write ``data`` to ``filename`` as JSON, in full under a temporary name in the same
    directory, then renamed over ``filename``, with the permissions ``open(filename,
    "w")`` would give."""
    directory = os.path.dirname(os.path.abspath(filename))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".cnet-", suffix=".json.tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the permissions open(filename, "w") would give
        os.replace(tmp, filename)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read(filename):
    """``(sizes, cost, activation, weights, biases)`` of the network saved in
    ``filename`` (by cnet or by the book's network2), each checked, before
    anything is built from them; a file that is not such a network raises
    ``ValueError`` naming it.  Its layer widths must describe no more numbers
    than a file of its size can hold, and its arrays must have the shapes its
    layers give them: no file makes this allocate much more than a few times
    its own size."""
    filename = _checks.path("filename", filename)
    try:
        with open(filename, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            data = json.load(f, parse_constant=_reject_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("{}: not a saved network (invalid JSON: {})".format(filename, exc)) from None
    except _NonFinite as exc:
        raise ValueError("{}: holds {}; weights and biases must be finite numbers".format(
            filename, exc)) from None
    try:
        sizes, cost, weights, biases = _network_in(data, size)
        activation = _activation_in(data)
    except (TypeError, ValueError) as exc:
        raise ValueError("{}: {}".format(filename, exc)) from None
    return sizes, cost, activation, weights, biases


class _NonFinite(Exception):
    pass


def _reject_constant(name):
    raise _NonFinite(name)


def _network_in(data, size):
    """``(sizes, cost, weights, biases)`` of the network that the parsed JSON ``data``
    (from a file of ``size`` bytes) describes, each checked; or ``ValueError``
    saying what is wrong, without the file's name."""
    if not isinstance(data, dict):
        raise ValueError("not a saved network (expected a JSON object)")
    for key in ("sizes", "weights", "biases", "cost"):
        if key not in data:
            raise ValueError("not a saved network (no {!r} key)".format(key))
    cost = cost_by_name(data["cost"], "cost")
    sizes = _checks.sizes(data["sizes"])
    network_layers = layers.dense_chain(sizes)
    # each number takes at least two bytes of JSON ("0,")
    count = layers.parameter_count(network_layers)
    if 2 * count > size:
        raise ValueError("sizes {} describe {} weights and biases, more than a file of {} bytes "
                         "can hold".format(sizes, count, size))
    weights = [_numbers("weights[{}]".format(position), w, layer.weight_shape)
               for position, (w, layer) in enumerate(zip(_per_layer("weights", data["weights"], sizes),
                                                         network_layers))]
    biases = [_numbers("biases[{}]".format(position), b, layer.bias_shape)
              for position, (b, layer) in enumerate(zip(_per_layer("biases", data["biases"], sizes),
                                                        network_layers))]
    return sizes, cost, weights, biases


def _activation_in(data):
    """The hidden layers' activation the parsed JSON ``data`` names: its "activation"
    key, or "sigmoid" without one (the book's files)."""
    activation = data.get("activation", "sigmoid")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError("unknown activation {!r}; expected one of {}".format(
            activation, sorted(ACTIVATIONS)))
    return activation


def _per_layer(key, value, sizes):
    """``value``, checked to be a list with one entry per layer of ``sizes``."""
    if not isinstance(value, list) or len(value) != len(sizes) - 1:
        raise ValueError("{} must be a list of {} layers for sizes {}".format(
            key, len(sizes) - 1, sizes))
    return value


def _numbers(where, value, shape):
    """``value``, a JSON list of rows of numbers, as a float64 array of ``shape``."""
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise ValueError("{} is not a list of rows".format(where))
    if not all(type(v) in (int, float) for row in value for v in row):
        raise ValueError("{} holds values that are not numbers".format(where))
    if len({len(row) for row in value}) > 1:
        raise ValueError("{} is not a rectangular array of numbers".format(where))
    found = (len(value), len(value[0]) if value else 0)
    if found != shape:
        raise ValueError("{} has shape {}; expected {}".format(where, found, shape))
    try:
        array = np.array(value, dtype=np.float64)
    except OverflowError:
        raise ValueError("{} holds a number too large for a float".format(where)) from None
    return _checks.finite(where, array)  # 1e999 parses as infinity
