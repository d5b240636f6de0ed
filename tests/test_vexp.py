"""σ a vector at a time (cnet/_kernels/vexp.h): the AVX2 kernels compute a sigmoid
layer's exponentials, and a softmax's, with cnet_exp4 (doubles) and cnet_expf8 (floats),
which repeat glibc's exp and expf operation for operation, and must give exactly the
bits of the scalar formulas with this process's libm (Python's math.exp is that exp;
expf is called through ctypes).  The tables they read are checked against their
definitions (tools/exp_table.py)."""
import ctypes
import ctypes.util
import math
import os
import platform
import re
import sys

import numpy as np
import pytest

from cnet._kernels.spec import dense_chain
from test_pack import MODULES
from test_scan_labels import output_sums

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
def libm_exp(dtype):
    # this process's exp (math.exp) or expf, on one real of dtype
    if dtype == np.float64:
        return lambda x: math.exp(x) if x < 709 else math.inf
    expf = ctypes.CDLL(ctypes.util.find_library("m")).expf
    expf.restype, expf.argtypes = ctypes.c_float, [ctypes.c_float]
    return lambda x: np.float32(expf(x))


def glibc_with_the_new_exp():
    # glibc 2.28 and later compute exp as cnet_exp4 does
    name, version = platform.libc_ver()
    return name == "glibc" and tuple(int(v) for v in version.split(".")[:2]) >= (2, 28)


def test_the_tables_are_two_to_the_k_over_n_as_defined():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        from exp_table import exp_table, expf_table
    finally:
        sys.path.pop(0)
    with open(os.path.join(ROOT, "cnet", "_kernels", "vexp.h")) as f:
        text = f.read()
    for name, want in (("cnet_exp_tab[256]", exp_table()), ("cnet_expf_tab[32]", expf_table())):
        body = text[text.index(name + " = {"):]
        body = body[:body.index("};")]
        assert [int(w, 16) for w in re.findall(r"0x([0-9a-f]{16})ull", body)] == want
    assert exp_table()[:2] == [0, 0x3FF0000000000000]     # 2^0 = 1 (1 + 0)
    assert expf_table()[0] == 0x3FF0000000000000


def test_the_avx2_kernels_take_exponentials_a_vector_at_a_time_where_their_libm_is_glibcs():
    names = {K.__name__.rsplit(".", 1)[1]: K.vexp_enabled() for K in MODULES}
    assert names.get("_cy_base") in (None, False)          # no AVX2 in the base builds
    assert names.get("_cy_base_f32") in (None, False)
    for name in ("_cy_avx2", "_cy_avx2_f32", "_cy_avx512", "_cy_avx512_f32"):
        if name in names and glibc_with_the_new_exp():
            assert names[name] is True


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_a_sigmoid_layer_has_the_bits_of_one_over_one_plus_exp(K):
    rng = np.random.default_rng(11)
    n = 37                                  # lanes of four (eight) and some left over
    Z = np.concatenate([
        rng.uniform(-40, 40, (2000, n)),
        rng.normal(0, 3, (2000, n)),
        rng.uniform(-600, 600, (200, n)),   # past ±512 (±88) some lanes go to exp itself
        np.exp2(rng.uniform(-60, -50, (50, n))) * rng.choice([-1, 1], (50, n)),   # |z| < 2^−54 too
    ])
    Z[-1, :6] = [0.0, -0.0, 745.2, -745.2, 1e30, -1e30]
    weights, biases, X = output_sums(K, Z)
    dtype, exp = X.dtype.type, libm_exp(X.dtype)
    got = K.feedforward(weights, biases, K.prepare(X), spec=dense_chain([n, n]))
    want = np.array([[dtype(1) / (dtype(1) + dtype(exp(-z))) for z in row] for row in X], dtype=dtype)
    assert got.dtype == dtype
    mismatch = np.argwhere(got != want)
    assert len(mismatch) == 0, "z = {!r}: {!r}, not {!r}".format(
        X[tuple(mismatch[0])], got[tuple(mismatch[0])], want[tuple(mismatch[0])])


@pytest.mark.parametrize("K", MODULES, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_a_softmax_layer_has_the_bits_of_exp_over_the_sum(K):
    rng = np.random.default_rng(12)
    n = 11                                  # lanes of four (eight) and some left over
    Z = np.concatenate([rng.uniform(-40, 40, (3000, n)), rng.uniform(-900, 900, (300, n))])
    weights, biases, X = output_sums(K, Z)
    dtype, exp = X.dtype.type, libm_exp(X.dtype)
    got = K.feedforward(weights, biases, K.prepare(X), spec=dense_chain([n, n], "sigmoid", "softmax"))
    want = np.empty_like(X)
    for e, row in enumerate(X):
        m = max(row)
        a = [dtype(exp(z - m)) for z in row]
        total = 0.0             # the kernels sum in double, and divide by the sum in the layer's precision
        for v in a:
            total += float(v)
        want[e] = [v / dtype(total) for v in a]
    mismatch = np.argwhere(got != want)
    assert len(mismatch) == 0, "row {}: {!r}, not {!r}".format(
        mismatch[0][0], got[mismatch[0][0]], want[mismatch[0][0]])
