"""Files that are damaged or tampered with: saved networks, IDX files, gzip streams and
pickles, mutated thousands of times (a seeded loop, so every run tries the same
files).  Each must load, or raise ValueError naming the file; none may run code,
and none may make the reader allocate much more than the file holds (peak
memory, measured with tracemalloc, within a small multiple of its size)."""
import gzip
import json
import os
import pickle
import struct
import time
import tracemalloc

import numpy as np
import pytest

from cnet import datasets, mnist_loader, network2

# Peak memory allowed for reading a file of s bytes: FACTOR * s + SLACK.  JSON is the
# costly case: the parser makes a Python object of each number (a float is 24 bytes,
# plus 8 for its place in a list, from as little as 2 bytes of text: "0,").
FACTOR = 32
SLACK = 256 * 1024


def peak_while(call, measure=True):
    """``(result or the exception raised, peak bytes allocated during call())``; the
    peak is 0 when not ``measure``d (tracing every allocation is slow)."""
    if measure:
        tracemalloc.start()
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 -- the caller checks what it was
        result = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1] if measure else 0
        if measure:
            tracemalloc.stop()
    return result, peak


# the mutation loops measure the peak memory of every MEASURE-th case
MEASURE = 5


def assert_loaded_or_refused(result, path, kinds):
    """``result`` is a value of one of ``kinds``, or a ValueError whose message names ``path``."""
    if isinstance(result, Exception):
        assert isinstance(result, ValueError), "{!r} from {!r}".format(result, open(path, "rb").read()[:200])
        assert str(path) in str(result), str(result)
        assert str(result).count(str(path)) == 1, str(result)   # named once
        return False
    assert isinstance(result, kinds), result
    return True


# ------------------------------------------------------------ saved networks

def saved_network(tmp_path):
    net = network2.Network([3, 4, 2], seed=0)
    path = tmp_path / "good.json"
    net.save(str(path))
    return path.read_bytes()


JSON_TOKENS = [b"[", b"]", b"{", b"}", b",", b":", b'"', b"0", b"-1", b"1e999", b"NaN", b"Infinity",
               b"null", b"true", b"1000000000", b"[[", b"]]", b"\xff", b"\\u0000", b"1.5", b" ",
               b'"sizes"', b'"weights"', b'"cost"', b'"QuadraticCost"', b"99999999999999999999"]


def mutate_bytes(good, rng, tokens):
    """``good`` with one to three random edits: flips, deletions, insertions, truncation."""
    data = bytearray(good)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(5))
        at = int(rng.integers(len(data) + 1))
        if kind == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            del data[at:at + int(rng.integers(1, 8))]
        elif kind == 2:
            data[at:at] = tokens[int(rng.integers(len(tokens)))]
        elif kind == 3:
            del data[at:]
        else:
            data[at:at + 1] = tokens[int(rng.integers(len(tokens)))]
    return bytes(data)


def mutate_structure(good, rng):
    """The saved network with one of its parts replaced by something wrong."""
    d = json.loads(good)
    huge = [10 ** 9, 10 ** 9, 50000, 2 ** 40, 2 ** 63, 10 ** 30]
    choice = int(rng.integers(10))
    if choice == 0:
        d["sizes"] = [int(rng.choice(huge)) for _ in range(int(rng.integers(2, 4)))]
    elif choice == 1:
        d["sizes"][int(rng.integers(3))] = int(rng.choice([0, -1, 5, 10 ** 6]))
    elif choice == 2:
        d["weights"] = d["weights"][: int(rng.integers(3))]
    elif choice == 3:
        wrong = [None, 1, "x", [], [[]], [[1, 2], [3]], [[True]], {"a": 1}]
        d["weights"][int(rng.integers(2))] = wrong[int(rng.integers(len(wrong)))]
    elif choice == 4:
        layer = d["biases"][int(rng.integers(2))]
        layer[int(rng.integers(len(layer)))] = [1.0, 2.0]
    elif choice == 5:
        d["cost"] = str(rng.choice(["os.system", "", "crossentropycost", "QuadraticCost "]))
    elif choice == 6:
        del d[str(rng.choice(sorted(d)))]
    elif choice == 7:
        d["sizes"] = str(rng.choice(["342", "[3, 4, 2]"]))
    elif choice == 8:
        d["weights"][0][0][0] = [0.5]
    else:
        d = [d] if rng.integers(2) else d["weights"]
    return json.dumps(d).encode()


def test_mutated_network_files(tmp_path):
    good = saved_network(tmp_path)
    rng = np.random.default_rng(2026)
    path = tmp_path / "net.json"
    loaded = refused = 0
    for i in range(2000):
        data = mutate_bytes(good, rng, JSON_TOKENS) if i % 3 else mutate_structure(good, rng)
        path.write_bytes(data)
        result, peak = peak_while(lambda: network2.load(str(path)), i % MEASURE == 0)
        if assert_loaded_or_refused(result, path, network2.Network):
            loaded += 1
            assert all(np.isfinite(a).all() for a in result.weights + result.biases)
        else:
            refused += 1
        assert peak <= FACTOR * len(data) + SLACK, (peak, data[:200])
    assert refused > 1200 and loaded > 50  # the mutations reached both outcomes


def test_a_tiny_file_that_promises_a_huge_network(tmp_path):
    # the 120-byte file: it used to build (and draw) a 10⁹ × 10⁹ network first
    text = json.dumps({"sizes": [1000000000, 1000000000], "weights": [], "biases": [],
                       "cost": "QuadraticCost"}).ljust(120)
    path = tmp_path / "n.json"
    path.write_text(text)
    start = time.perf_counter()
    result, peak = peak_while(lambda: network2.load(str(path)))
    elapsed = time.perf_counter() - start
    assert isinstance(result, ValueError) and "sizes" in str(result) and "120 bytes" in str(result)
    assert peak < 1 << 20 and elapsed < 0.5, (peak, elapsed)
    # and a file as large as its sizes need, with empty weights, builds nothing either
    path.write_text(json.dumps({"sizes": [500, 500], "weights": [[]], "biases": [[]],
                                "cost": "QuadraticCost"}).ljust(600000))
    result, peak = peak_while(lambda: network2.load(str(path)))
    assert isinstance(result, ValueError) and "weights[0] has shape (0, 0); expected (500, 500)" in str(result)
    assert peak < 4 * 600000


def test_a_malformed_file_is_named_once(tmp_path):
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"sizes": [2, 1], "weights": [[[0.5, -1]]], "biases": [[2]],
                                "cost": "QuadraticCost"}))
    with pytest.raises(ValueError) as info:
        network2.load(str(path))
    assert str(info.value) == "{}: biases[0] is not a list of rows".format(path)


# ------------------------------------------------------------ IDX files

def idx_bytes(a, code):
    return bytes([0, 0, code, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape) + a.tobytes()


def mutate_idx(good, rng):
    data = bytearray(good)
    kind = int(rng.integers(6))
    if kind == 0:          # a header byte
        data[int(rng.integers(16))] = int(rng.integers(256))
    elif kind == 1:        # a dimension: anything up to 2³²−1
        dim = int(rng.integers(3))
        data[4 + 4 * dim:8 + 4 * dim] = struct.pack(">I", int(rng.choice(
            [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 16, int(rng.integers(2 ** 32))])))
    elif kind == 2:        # the number of dimensions
        data[3] = int(rng.integers(256))
    elif kind == 3:        # truncated anywhere
        del data[int(rng.integers(len(data))):]
    elif kind == 4:        # extra bytes
        data += bytes(int(rng.integers(1, 64)))
    else:                  # the body
        data[int(rng.integers(16, len(data)))] ^= 0xFF
    return bytes(data)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_mutated_idx_files(tmp_path, gz):
    good = idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5), 0x08)
    rng = np.random.default_rng(13 + gz)
    path = tmp_path / ("a-idx3-ubyte" + (".gz" if gz else ""))
    read = refused = 0
    for i in range(1500 if not gz else 600):  # 2,100 mutated IDX files
        data = mutate_idx(good, rng)
        path.write_bytes(gzip.compress(data, compresslevel=1) if gz else data)
        result, peak = peak_while(lambda: datasets.read_idx(str(path)), i % MEASURE == 0)
        if assert_loaded_or_refused(result, path, np.ndarray):
            read += 1
        else:
            refused += 1
        # what is allocated is bounded by the (decompressed) bytes there are
        assert peak <= 4 * len(data) + SLACK, (peak, data[:16])
    assert refused > 0.6 * (read + refused) and read > 10


def test_a_header_that_promises_exabytes(tmp_path):
    # 2³¹ × 2¹⁶ × 2¹⁶ uint8: the message said "9223372036854775908 trailing bytes"
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">III", 2 ** 31, 2 ** 16, 2 ** 16) + bytes(100))
    result, peak = peak_while(lambda: datasets.read_idx(str(path)))
    assert isinstance(result, ValueError)
    assert str(result) == ("{}: truncated: 100 bytes of data, the header promises 9223372036854775808 "
                           "(an array of shape (2147483648, 65536, 65536) of uint8)".format(path))
    assert peak < 64 * 1024
    gz = tmp_path / "huge-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    result, peak = peak_while(lambda: datasets.read_idx(str(gz)))
    assert isinstance(result, ValueError) and "truncated: 100 bytes of data" in str(result)
    assert peak < SLACK  # one read chunk


def test_truncated_and_corrupted_gzip(tmp_path):
    body = idx_bytes(np.random.default_rng(0).integers(0, 256, 4000).astype(np.uint8), 0x08)
    packed = gzip.compress(body)
    rng = np.random.default_rng(5)
    path = tmp_path / "g-idx1-ubyte.gz"
    cases = [packed[:k] for k in range(2, len(packed), max(1, len(packed) // 300))]
    for _ in range(300):
        data = bytearray(packed)
        data[int(rng.integers(10, len(data)))] ^= 1 << int(rng.integers(8))
        cases.append(bytes(data))
    refused = 0
    for data in cases:
        path.write_bytes(data)
        try:
            a = datasets.read_idx(str(path))
        except ValueError as exc:
            assert str(path) in str(exc)
            refused += 1
        else:   # a flipped bit the checksum did not catch would have to give the right length
            assert a.shape == (4000,)
    assert refused >= len(cases) - 5


# ------------------------------------------------------------ pickles

class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch " + self.marker,))


class RunsPython:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, ("open({!r}, 'w').close()".format(self.marker),))


def write_pickle(path, payload, protocol=2):
    with gzip.open(path, "wb") as f:
        f.write(payload if isinstance(payload, bytes) else pickle.dumps(payload, protocol=protocol))


@pytest.mark.parametrize("protocol", [0, 2, 5])
@pytest.mark.parametrize("attack", [RunsACommand, RunsPython], ids=["os.system", "eval"])
def test_a_pickle_that_runs_a_command_runs_nothing(tmp_path, protocol, attack):
    marker = str(tmp_path / "pwned")
    path = tmp_path / "mnist.pkl.gz"
    # hidden inside what looks like MNIST
    write_pickle(path, ((np.zeros((2, 3), np.float32), np.zeros(2, np.int64)), attack(marker), None), protocol)
    with pytest.raises(ValueError, match="refusing") as info:
        datasets.read_pickle(str(path))
    assert str(path) in str(info.value)
    assert not os.path.exists(marker)
    with pytest.raises(ValueError, match="refusing"):
        mnist_loader.load_data(str(path))
    assert not os.path.exists(marker)


def opcodes(*parts):
    return b"".join(parts)


PROTO = b"\x80\x02"
HOSTILE = {
    # a 6-byte memo index: the C unpickler would grow its memo to 2³² entries first
    "memo index": opcodes(PROTO, b"N", b"r", struct.pack("<I", 0xFFFFFFF0), b"."),
    # BINBYTES8 of 2⁴⁰ bytes: allocated before it is read
    "bytes8 length": opcodes(b"\x80\x04", b"\x8e", struct.pack("<Q", 2 ** 40), b"xx."),
    "bytearray8 length": opcodes(b"\x80\x05", b"\x96", struct.pack("<Q", 2 ** 40), b"xx."),
    "binbytes length": opcodes(b"\x80\x03", b"B", struct.pack("<I", 2 ** 31), b"."),
    # numpy.ndarray called with a huge shape (REDUCE), or _reconstruct given one
    "ndarray call": opcodes(PROTO, b"cnumpy\nndarray\n", b"J\x00\x00\x00\x40", b"\x85R."),
    "ndarray newobj": opcodes(PROTO, b"cnumpy\nndarray\n", b"J\x00\x00\x00\x40", b"\x85\x81."),
    "reconstruct shape": opcodes(PROTO, b"cnumpy.core.multiarray\n_reconstruct\n", b"cnumpy\nndarray\n",
                                 b"J\x00\x00\x00\x40\x85", b"U\x01b", b"\x87R."),
    "codecs zlib": opcodes(PROTO, b"c_codecs\nencode\n", b"X\x01\x00\x00\x00x", b"X\x04\x00\x00\x00zlib",
                           b"\x86R."),
    "truncated": pickle.dumps((np.zeros(3), np.zeros(3)), protocol=2)[:-10],
    "empty": b"",
    "not a pickle": b"hello world",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_pickles_are_refused_cheaply(tmp_path, name):
    path = tmp_path / "mnist.pkl.gz"
    write_pickle(path, HOSTILE[name])
    result, peak = peak_while(lambda: datasets.read_pickle(str(path)))
    assert isinstance(result, ValueError), repr(result)
    assert str(path) in str(result)
    assert peak < SLACK, peak


def small_mnist_pickle(protocol):
    rng = np.random.default_rng(1)
    parts = tuple((rng.random((n, 6)).astype(np.float32), rng.integers(0, 10, n)) for n in (5, 3, 3))
    return pickle.dumps(parts, protocol=protocol)


@pytest.mark.parametrize("protocol", [2, 5])
def test_mutated_pickles(tmp_path, protocol):
    good = small_mnist_pickle(protocol)
    path = tmp_path / "mnist.pkl.gz"
    write_pickle(path, good)
    assert [len(i) for i, _ in datasets.read_pickle(str(path))] == [5, 3, 3]
    rng = np.random.default_rng(protocol)
    tokens = [b"N", b"r\xff\xff\xff\xff", b"\x8e" + struct.pack("<Q", 2 ** 40), b"J\x00\x00\x00\x40",
              b"\x85", b"R", b"b", b"\x81", b"(", b".", b"cnumpy\nndarray\n", b"\x94", b"h\x05"]
    refused = 0
    for i in range(800):
        data = mutate_bytes(good, rng, tokens)
        write_pickle(path, data)
        result, peak = peak_while(lambda: datasets.read_pickle(str(path)), i % MEASURE == 0)
        if not assert_loaded_or_refused(result, path, tuple):
            refused += 1
        assert peak <= 8 * len(data) + SLACK, (peak, data)
    assert refused > 400


@pytest.mark.parametrize("form", ["idx", "pickle"])
@pytest.mark.parametrize("damage", ["size", "label"])
def test_mnist_that_is_not_mnist_is_named(tmp_path, form, damage):
    # what load_data_wrapper would trip over later (a reshape to 784, a one-hot of 10)
    from test_datasets import fake_mnist, write_fake_idx
    tr_x, tr_y, te_x, te_y = fake_mnist(n_train=30, n_test=10)
    if damage == "size":
        tr_x = tr_x[:, :20, :]
    else:
        te_y = te_y.copy()
        te_y[3] = 12
    if form == "idx":
        write_fake_idx(str(tmp_path), (tr_x, tr_y, te_x, te_y), gz=False)
        bad = "train-images" if damage == "size" else "t10k-labels"
    else:
        flat = [(x.reshape(len(x), -1).astype(np.float32) / 256, y.astype(np.int64))
                for x, y in ((tr_x[:20], tr_y[:20]), (tr_x[20:], tr_y[20:]), (te_x, te_y))]
        write_pickle(tmp_path / "mnist.pkl.gz", tuple(flat))
        bad = "mnist.pkl.gz"
    with pytest.raises(ValueError, match="digits 0..9" if damage == "label" else "MNIST's are") as info:
        mnist_loader.load_data(str(tmp_path))
    assert bad in str(info.value)
