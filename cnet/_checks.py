"""Checking at the Python boundary.

Every public method passes its arguments through these functions before it
touches a parameter.  Each returns the argument in the form the kernels take
(plain numbers, C-contiguous arrays) or raises ``TypeError``/``ValueError``
with a message naming the argument, the example's index and what was expected.
After this the kernels trust their input.
"""
import math
import numbers
import os

import numpy as np

_NUMERIC_DTYPES = "biuf"  # dtype codes: bool, signed and unsigned integers, floats
# integer label types recognised without the (slow) numbers.Integral check
_INT_TYPES = frozenset([int] + [np.dtype(c).type for c in np.typecodes["AllInteger"]])


def sizes(value):
    """The layer widths as a list of ints: at least two layers, each at least one wide."""
    try:
        widths = list(value)
    except TypeError:
        raise TypeError("sizes must be a list of layer widths such as [784, 30, 10], "
                        "got {!r}".format(value)) from None
    if len(widths) < 2:
        raise ValueError("sizes must name at least two layers (input and output), "
                         "got {!r}".format(value))
    for i, w in enumerate(widths):
        if isinstance(w, bool) or not isinstance(w, numbers.Integral):
            raise TypeError("sizes[{}] must be an integer width, got {!r}".format(i, w))
        if w < 1:
            raise ValueError("sizes[{}] must be at least 1, got {}".format(i, w))
    return [int(w) for w in widths]


def _physical_memory():
    """This machine's memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _bytes(n):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return "{:.0f} {}".format(n, unit) if unit == "bytes" else "{:.1f} {}".format(n, unit)
        n /= 1024
    return None  # not reached


def fits_in_memory(widths, count, dtype):
    """Raise ``ValueError`` naming ``sizes`` when the ``count`` weights and biases of a
    network of layer widths ``widths``, in ``dtype``, are more than this machine's
    memory."""
    needed = count * np.dtype(dtype).itemsize
    memory = _physical_memory()
    if memory is not None and needed > memory:
        raise ValueError("sizes {} describe {} weights and biases: {} in {}, more than this "
                         "machine's {} of memory".format(widths, count, _bytes(needed),
                                                         np.dtype(dtype).name, _bytes(memory)))


def rng(seed):
    """The ``numpy.random.Generator`` that ``seed`` makes (None for None): ``seed`` is a
    non-negative integer, or anything else ``numpy.random.default_rng`` takes (a
    sequence of them, a SeedSequence, a BitGenerator or a Generator)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or isinstance(seed, (float, complex, str, bytes, np.floating)):
        raise TypeError("seed must be None or a non-negative integer, got {!r}".format(seed))
    if isinstance(seed, numbers.Integral) and seed < 0:
        raise ValueError("seed must be a non-negative integer, got {}".format(seed))
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise type(exc)("seed must be None or a non-negative integer, got {!r} ({})".format(
            seed, exc)) from None


def path(name, value):
    """``value`` as a file name (str or bytes): a str, bytes or os.PathLike without NUL."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, (str, bytes)):
        raise TypeError("{} must be a file name (a str or os.PathLike), got {!r}".format(name, value))
    if ("\0" if isinstance(value, str) else b"\0") in value:
        raise ValueError("{} contains a NUL character: {!r}".format(name, value))
    return value


def integer(name, value, minimum):
    """``value`` as an int, checked to be at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("{} must be an integer, got {!r}".format(name, value))
    if value < minimum:
        raise ValueError("{} must be at least {}, got {}".format(name, minimum, value))
    return int(value)


def num_threads(value):
    """The number of threads to train on: ``value``, or when it is None the
    ``CNET_NUM_THREADS`` environment variable, or 1."""
    if value is None:
        text = os.environ.get("CNET_NUM_THREADS", "").strip()
        if not text:
            return 1
        try:
            value = int(text)
        except ValueError:
            raise ValueError("CNET_NUM_THREADS must be a whole number of threads, got {!r}"
                             .format(text)) from None
        name = "CNET_NUM_THREADS"
    else:
        name = "num_threads"
    return threads(name, value)


def threads(name, value):
    """``value`` as a number of threads: an int from 1 to 1024."""
    value = integer(name, value, 1)
    if value > 1024:
        raise ValueError("{} must be at most 1024, got {}".format(name, value))
    return value


def real(name, value, positive=True):
    """``value`` as a finite float, checked to be > 0 (``positive``) or ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("{} must be a real number, got {!r}".format(name, value))
    value = float(value)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise ValueError("{} must be a finite number {} 0, got {!r}".format(
            name, ">" if positive else ">=", value))
    return value


def as_list(name, data):
    """``data`` itself if it is a list, else its items in a new list."""
    if isinstance(data, list):
        return data
    try:
        return list(data)
    except TypeError:
        raise TypeError("{} must be a list of (x, y) pairs, got {}".format(
            name, type(data).__name__)) from None


def array(where, value, shape):
    """``value`` as a numeric ndarray of exactly ``shape`` (no copy when it already is one)."""
    if not isinstance(value, np.ndarray):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError):
            raise ValueError("{} is ragged or not an array; expected an array of shape {}".format(
                where, shape)) from None
    if value.dtype.kind not in _NUMERIC_DTYPES:
        raise TypeError("{} has dtype {}; expected a numeric array of shape {}".format(
            where, value.dtype, shape))
    if value.shape != shape:
        raise ValueError("{} has shape {}; expected {}".format(where, value.shape, shape))
    return value


def finite(where, value):
    """``value`` unchanged, after checking that it holds no NaN or infinity."""
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        raise ValueError("{} contains {} at index {}; values must be finite".format(
            where, value[bad], bad))
    return value


class InputRows:
    """The inputs of a checked list of examples, as an (n, n_in) matrix that is
    read block by block: ``blocks()`` yields ``(first_row, block)`` with each
    block stacked, float32 if every input is float32 and float64 otherwise,
    and checked to be finite; ``dense()`` is the whole matrix.  Reading by
    blocks lets the kernels build their own form of a data set without a
    second full copy of it."""

    BLOCK = 512

    def __init__(self, name, xs, n_in, dtype):
        self.name, self._xs, self.dtype = name, xs, dtype
        self.shape = (len(xs), n_in)

    def __len__(self):
        return self.shape[0]

    def blocks(self):
        for first in range(0, self.shape[0], self.BLOCK):
            # each x is (n_in, 1): end to end along axis 0 they are the rows of the block
            # (three times faster than np.stack, which makes a view of every x first)
            block = np.concatenate(self._xs[first:first + self.BLOCK], axis=0).reshape(-1, self.shape[1])
            block = block.astype(self.dtype, copy=False)
            _finite_rows(self.name, 0, block, first)
            yield first, block

    def dense(self):
        X = np.empty(self.shape, dtype=self.dtype)
        for first, block in self.blocks():
            X[first:first + len(block)] = block
        return X


def examples(name, data, n_in, n_out, labels):
    """The examples of ``data``, checked, in the form the kernels take.

    ``data`` is a list of (x, y) pairs with x of shape (n_in, 1).  Returns
    ``(X, T)``: X an ``InputRows`` of the inputs (whose blocks are checked to
    be finite as they are read); T is (len(data), n_out) float64 holding the
    y columns when ``labels`` is False, or the (len(data),) integer labels
    when it is True.

    The compiled kernels' ``pack`` makes the same checks, with the same
    messages (the functions below), in one compiled pass that also packs the
    inputs: an error is raised for the first example in the list that breaks
    the pair, shape or type rules; after those, for the first label out of
    range or desired output that is not finite; after those, for the first
    input that is not finite.
    """
    xs, ys = [], []
    x_shape, y_shape = (n_in, 1), (n_out, 1)
    ndarray, numeric, float32 = np.ndarray, _NUMERIC_DTYPES, np.dtype(np.float32)
    all_float32 = True
    for k, item in enumerate(data):
        x, y = pair(name, k, item)
        # the common case, checked inline; anything else goes through input_x()
        if not (type(x) is ndarray and x.shape == x_shape and x.dtype.kind in numeric):
            x = input_x(name, k, x, n_in)
        all_float32 = all_float32 and x.dtype == float32
        xs.append(x)
        if labels:
            y = label(name, k, y, n_out)
        elif not (type(y) is ndarray and y.shape == y_shape and y.dtype.kind in numeric):
            y = output_y(name, k, y, n_out)
        ys.append(y)
    X = InputRows(name, xs, n_in, np.float32 if xs and all_float32 else np.float64)
    if labels:
        return X, label_array(name, ys, n_out)
    T = (np.concatenate(ys, axis=0).astype(np.float64, copy=False).reshape(len(ys), n_out)
         if ys else np.empty((0, n_out)))
    _finite_rows(name, 1, T)
    return X, T


def pair(name, k, item):
    """``(x, y)``: the example ``item`` = data[k] unpacked."""
    try:
        x, y = item
    except (TypeError, ValueError):
        raise TypeError("{}[{}] must be an (x, y) pair, got {}".format(
            name, k, _describe(item))) from None
    return x, y


def input_x(name, k, x, n_in):
    """The input x of data[k] as a numeric ndarray of shape (n_in, 1)."""
    return array("{}[{}][0] (the input x)".format(name, k), x, (n_in, 1))


def output_y(name, k, y, n_out):
    """The desired output y of data[k] as a numeric ndarray of shape (n_out, 1)."""
    return array("{}[{}][1] (the desired output y)".format(name, k), y, (n_out, 1))


def label(name, k, y, n_out):
    """The label y of data[k], checked to be an integer (a 0-d integer array becomes
    its value); its range is checked by ``label_array``."""
    if type(y) is np.ndarray and y.shape == () and y.dtype.kind in "iu":
        y = y.item()  # a 0-d integer array is a label too
    if type(y) not in _INT_TYPES and (isinstance(y, bool) or not isinstance(y, numbers.Integral)):
        raise TypeError("{}[{}][1] must be an integer label in 0..{}, got {}".format(
            name, k, n_out - 1, _describe(y)))
    return y


def label_array(name, ys, n_out):
    """The labels ``ys`` (each from ``label``) as an intp array, checked to be in 0..n_out − 1."""
    try:
        T = np.array(ys, dtype=np.intp).reshape(len(ys))
        bad = (T < 0) | (T >= n_out)
    except OverflowError:
        T, bad = None, np.array([not 0 <= y < n_out for y in ys])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError("{}[{}][1] is label {}; expected an integer in 0..{}".format(
            name, k, ys[k], n_out - 1))
    return T


def not_finite(name, k, part):
    """The error for data[k][part] (0: the input x, 1: the desired output y) holding
    a NaN or an infinity."""
    return ValueError("{}[{}][{}] contains NaN or infinity; {} must be finite".format(
        name, k, part, "inputs" if part == 0 else "desired outputs"))


def _finite_rows(name, part, M, first=0):
    if M.size and not np.isfinite(M).all():
        raise not_finite(name, first + int(np.flatnonzero(~np.isfinite(M).all(axis=1))[0]), part)


def _describe(value):
    if isinstance(value, np.ndarray):
        return "an array of shape {}".format(value.shape)
    return repr(value)


def choice(name, value, choices):
    """``value``, checked to be one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError("{} must be one of {}, got {!r}".format(
            name, ", ".join(repr(c) for c in choices), value))
    return value


def momentum(value):
    """``value`` as the momentum coefficient μ: a real number in [0, 1)."""
    value = real("mu", value, positive=False)
    if value >= 1:
        raise ValueError("mu must be a number in [0, 1), got {!r}".format(value))
    return value
