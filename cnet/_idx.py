"""IDX files (MNIST's original format, gzipped or not): read with every length
checked against the file before anything is allocated, and written."""
import gzip
import math
import os
import struct
import zlib

import numpy as np

from cnet import _checks

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open(path):
    """The file at ``path`` for reading bytes, decompressing it if it is gzipped."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


# what a damaged file raises while it is read (zlib.error: a corrupt deflate stream)
_READ_ERRORS = (OSError, EOFError, gzip.BadGzipFile, zlib.error)
_CHUNK = 1 << 16  # a read of n bytes from a gzip file allocates n at once


def _read_at_most(f, n=None):
    """Up to ``n`` bytes from ``f`` (all of it when ``n`` is None), read a chunk at a
    time: memory grows with what the file holds, never with what a (possibly
    corrupt) header claims."""
    if n is not None and n <= _CHUNK:
        return f.read(n)
    out = bytearray()
    while n is None or len(out) < n:
        chunk = f.read(_CHUNK if n is None else min(_CHUNK, n - len(out)))
        if not chunk:
            break
        out += chunk
    return out


def _count_rest(f):
    """How many bytes are left in ``f`` (read and dropped a chunk at a time)."""
    count = 0
    for chunk in iter(lambda: f.read(_CHUNK), b""):
        count += len(chunk)
    return count


def read_idx(path):
    """The array stored in the IDX file at ``path`` (gzipped or raw), in native byte order.

    Raises ``ValueError`` naming the file when its magic number is wrong, or
    its body is shorter or longer than its header says.  The header is checked
    against the file's size before the body is read, and a gzipped body is
    read a chunk at a time, so a header that promises more than the file holds
    costs nothing.
    """
    path = _checks.path("path", path)
    try:
        with _open(path) as f:
            return _read_idx(path, f)
    except _READ_ERRORS as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError("{}: not a readable IDX file ({})".format(path, exc)) from None


def _read_idx(path, f):
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
        raise ValueError("{}: bad magic number {!r}; not an IDX file".format(path, magic))
    dtype = np.dtype(_IDX_TYPES[magic[2]])
    ndim = magic[3]
    dims = f.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError("{}: truncated header ({} dimensions need {} bytes, the file has {})".format(
            path, ndim, 4 + 4 * ndim, 4 + len(dims)))
    shape = struct.unpack(">" + "I" * ndim, dims)
    promised = math.prod(shape) * dtype.itemsize  # a Python int: no overflow
    described = "an array of shape {} of {}".format(shape, dtype.name)
    if isinstance(f, gzip.GzipFile):
        body = _read_at_most(f, promised)
        got = len(body)
    else:  # the file's size says it all before the body is read
        got = os.fstat(f.fileno()).st_size - (4 + 4 * ndim)
        body = f.read(promised) if got == promised else b""
    if got < promised:
        raise ValueError("{}: truncated: {} bytes of data, the header promises {} ({})".format(
            path, got, promised, described))
    extra = _count_rest(f) if isinstance(f, gzip.GzipFile) else got - promised
    if extra:
        raise ValueError("{}: {} trailing bytes after the data the header describes ({})".format(
            path, extra, described))
    array = np.frombuffer(body, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` to ``path`` as an IDX file (gzipped when the name ends in .gz)."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError("IDX files hold uint8, int8, int16, int32, float32 or float64, "
                         "not {}".format(array.dtype))
    body = (bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
            + array.astype(_IDX_TYPES[code]).tobytes())
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb", compresslevel=6) as f:
            f.write(body)
    else:
        with open(path, "wb") as f:
            f.write(body)
