"""The book's ``mnist.pkl.gz``, read by an unpickler that admits NumPy arrays and
nothing else, after a check of its opcodes that bounds every allocation."""
import codecs
import io
import math
import pickle
import pickletools
import struct

import numpy as np

from cnet import _checks
from cnet._idx import _CHUNK, _READ_ERRORS, _open

_reconstruct = np.ndarray.__reduce__(np.zeros(0))[0]
_frombuffer = np.ndarray.__reduce_ex__(np.zeros(1), 5)[0]


class _Recorded:
    """What the pickle builds where it names a NumPy function: its arguments and the
    state given to it, recorded, for ``_array`` to check before NumPy sees them
    (NumPy's own ``__setstate__`` trusts its input: a malformed state can crash it)."""

    def __init__(self, kind, args):
        self.kind, self.args, self.state = kind, args, None

    def __setstate__(self, state):
        if self.kind != "array" and self.kind != "dtype" or self.state is not None:
            raise pickle.UnpicklingError("unexpected state for {}".format(self.kind))
        self.state = state


def _recorder(kind):
    def record(*args):
        return _Recorded(kind, args)
    return record


_NDARRAY = object()  # numpy.ndarray in a pickle: only ever _reconstruct's first argument
_DTYPES = frozenset("{}{}".format(k, n) for k, sizes in (("f", "248"), ("i", "1248"), ("u", "1248"))
                    for n in sizes) | {"b1"}


def _latin1(text, encoding="utf-8"):
    # protocol 2's spelling of bytes in Python 3: _codecs.encode(text, "latin1")
    if encoding not in ("latin1", "latin-1", "iso-8859-1") or not isinstance(text, str):
        raise pickle.UnpicklingError("refusing _codecs.encode with encoding {!r}".format(encoding))
    return codecs.encode(text, encoding)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles NumPy arrays and nothing else: any other global is refused, so a
    tampered file cannot run code.  Admitted: what the book's Python 2 pickle
    names, and what NumPy names when Python 3 pickles an array; they are
    recorded, not called (see ``_array``)."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _recorder("array"),
        ("numpy._core.multiarray", "_reconstruct"): _recorder("array"),
        ("numpy.core.numeric", "_frombuffer"): _recorder("frombuffer"),
        ("numpy._core.numeric", "_frombuffer"): _recorder("frombuffer"),
        ("numpy", "ndarray"): _NDARRAY,
        ("numpy", "dtype"): _recorder("dtype"),
        ("_codecs", "encode"): _latin1,
    }

    def find_class(self, module, name):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                "refusing to load {}.{}: an MNIST pickle holds only NumPy arrays".format(
                    module, name)) from None


def _dtype(value):
    """The dtype a recorded ``numpy.dtype(name, align, copy)`` with its state stands for:
    a plain number type only."""
    if not isinstance(value, _Recorded) or value.kind != "dtype" or not value.args:
        raise ValueError("expected a dtype, got {!r}".format(type(value).__name__))
    name, state = value.args[0], value.state
    if not isinstance(name, str) or name not in _DTYPES:
        raise ValueError("refusing dtype {!r}: an MNIST pickle holds numbers".format(name))
    order = "="
    if state is not None:
        if not isinstance(state, tuple) or len(state) < 2 or state[1] not in ("<", ">", "|", "="):
            raise ValueError("malformed state for dtype {!r}".format(name))
        order = "=" if state[1] == "|" else state[1]
    return np.dtype(name).newbyteorder(order)


def _shape(value):
    if (not isinstance(value, tuple) or len(value) > 32
            or not all(type(n) is int and n >= 0 for n in value)):
        raise ValueError("malformed array shape {!r}".format(value))
    return value


def _data(value, shape, dtype):
    if isinstance(value, str):
        value = codecs.encode(value, "latin1")  # a Python 2 str, read with encoding="latin1"
    if not isinstance(value, (bytes, bytearray)):
        raise ValueError("malformed array data ({})".format(type(value).__name__))
    if len(value) != math.prod(shape) * dtype.itemsize:
        raise ValueError("an array of shape {} of {} holds {} bytes, not {}".format(
            shape, dtype.name, math.prod(shape) * dtype.itemsize, len(value)))
    return value


def _array(value):
    """The NumPy array a recorded ``_reconstruct`` (with its state) or ``_frombuffer``
    stands for, built only once its shape, dtype and data are checked to agree."""
    if not isinstance(value, _Recorded):
        return value  # not an array: read_pickle says so
    if value.kind == "array":
        args, state = value.args, value.state
        if len(args) != 3 or args[0] is not _NDARRAY or args[1] != (0,):
            raise ValueError("malformed array (_reconstruct{!r})".format(args))
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise ValueError("malformed array state")
        if len(state) == 5:
            state = state[1:]  # (version, shape, dtype, is_fortran, data)
        shape, dtype = _shape(state[0]), _dtype(state[1])
        data = _data(state[3], shape, dtype)
        array = _reconstruct(np.ndarray, (0,), b"b")
        array.__setstate__((1, shape, dtype, bool(state[2]), bytes(data)))
        return array
    if value.kind == "frombuffer" and len(value.args) == 4:
        buf, dtype, shape, order = value.args
        dtype, shape = _dtype(dtype), _shape(shape)
        if order not in ("C", "F"):
            raise ValueError("malformed array order {!r}".format(order))
        return np.frombuffer(_data(buf, shape, dtype), dtype=dtype).reshape(shape, order=order)
    raise ValueError("malformed {}".format(value.kind))


_LENGTH_PREFIX = {pickletools.TAKEN_FROM_ARGUMENT1: ("<B", 1), pickletools.TAKEN_FROM_ARGUMENT4: ("<i", 4),
                  pickletools.TAKEN_FROM_ARGUMENT4U: ("<I", 4), pickletools.TAKEN_FROM_ARGUMENT8U: ("<Q", 8)}
_MEMO_OPCODES = frozenset(["PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"])


def _check_opcodes(data):
    """Raise ``ValueError`` unless every length and memo index in the pickle ``data``
    fits in ``data``: the C unpickler allocates what they say before it reads.
    Walks the opcodes without copying their arguments."""
    pos, end = 0, len(data)
    while pos < end:
        opcode = pickletools.code2op.get(chr(data[pos]))
        if opcode is None:
            raise ValueError("unknown opcode {!r} at byte {}".format(data[pos:pos + 1], pos))
        pos += 1
        arg = opcode.arg
        start = pos
        if arg is None:
            pass
        elif arg.n >= 0:
            pos += arg.n
        elif arg.n == pickletools.UP_TO_NEWLINE:
            for _ in range(2 if arg.name == "stringnl_noescape_pair" else 1):
                newline = data.find(b"\n", pos)
                if newline < 0:
                    raise ValueError("no newline after opcode {} at byte {}".format(opcode.name, start - 1))
                pos = newline + 1
        else:
            fmt, width = _LENGTH_PREFIX[arg.n]
            if pos + width > end:
                raise ValueError("pickle data was truncated")
            length = struct.unpack_from(fmt, data, pos)[0]
            if length < 0:
                raise ValueError("negative length {} at byte {}".format(length, pos))
            pos += width + length
        if pos > end:
            raise ValueError("opcode {} at byte {} needs {} bytes, the pickle has {}".format(
                opcode.name, start - 1, pos - start, end - start))
        if opcode.name in _MEMO_OPCODES:
            text = bytes(data[start:pos])
            index = int(text) if opcode.name in ("PUT", "GET") else int.from_bytes(text, "little")
            if not 0 <= index < end:
                raise ValueError("memo index {} out of range".format(index))
        if opcode.name == "STOP":
            return


def read_pickle(path):
    """The book's ``(training, validation, test)`` tuples from ``mnist.pkl.gz``, read
    with an unpickler that admits NumPy arrays only.

    The decompressed pickle is read (a chunk at a time) and its opcodes checked
    before it is unpickled, so that no length in it can make the unpickler
    allocate more than the file holds.
    """
    path = _checks.path("path", path)
    try:
        with _open(path) as f:
            data = b"".join(iter(lambda: f.read(_CHUNK), b""))
        _check_opcodes(data)
        data = _ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()
    except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            OverflowError, UnicodeDecodeError) + _READ_ERRORS as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError("{}: not a readable MNIST pickle ({})".format(path, exc)) from None
    try:
        parts = [(np.asarray(_array(images)), np.asarray(_array(labels))) for images, labels in data]
    except (TypeError, ValueError) as exc:
        raise ValueError("{}: not a readable MNIST pickle ({})".format(path, exc)) from None
    if (len(parts) != 3
            or any(i.ndim != 2 or l.ndim != 1 or len(i) != len(l) or i.dtype.kind != "f"
                   or l.dtype.kind not in "iu" for i, l in parts)):
        raise ValueError("{}: does not hold MNIST's (images, labels) x 3".format(path))
    return tuple(parts)
