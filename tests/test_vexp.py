"""σ four at a time (cnet/_kernels/vexp.h): the double-precision AVX2 kernels compute
a sigmoid layer's exponentials with cnet_exp4, which repeats glibc's exp operation for
operation, and must give exactly the bits of the scalar formula 1 / (1 + exp(−z)) with
this process's libm (Python's math.exp is that exp).  The table it reads is checked
against its definition (tools/exp_table.py)."""
import math
import os
import platform
import re
import sys

import numpy as np
import pytest

from test_pack import MODULES
from test_scan_labels import output_sums

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
F64 = [K for K in MODULES if not K.__name__.endswith("_f32")]


def glibc_with_the_new_exp():
    # glibc 2.28 and later compute exp as cnet_exp4 does
    name, version = platform.libc_ver()
    return name == "glibc" and tuple(int(v) for v in version.split(".")[:2]) >= (2, 28)


def test_the_table_is_two_to_the_k_over_128_as_defined():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        from exp_table import exp_table
    finally:
        sys.path.pop(0)
    with open(os.path.join(ROOT, "cnet", "_kernels", "vexp.h")) as f:
        text = f.read()
    body = text[text.index("cnet_exp_tab[256] = {"):]
    body = body[:body.index("};")]
    words = [int(w, 16) for w in re.findall(r"0x([0-9a-f]{16})ull", body)]
    assert words == exp_table()
    assert words[:2] == [0, 0x3FF0000000000000]          # 2^0 = 1 (1 + 0)


@pytest.mark.skipif(not F64, reason="no double-precision compiled kernels")
def test_the_avx2_kernels_take_exp_four_at_a_time_where_their_libm_is_glibcs():
    names = {K.__name__.rsplit(".", 1)[1]: K.vexp_enabled() for K in F64}
    assert names.get("_cy_base") in (None, False)          # no AVX2 in the base build
    if "_cy_avx2" in names and glibc_with_the_new_exp():
        assert names["_cy_avx2"] is True


@pytest.mark.parametrize("K", F64, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_a_sigmoid_layer_has_the_bits_of_one_over_one_plus_exp(K):
    rng = np.random.default_rng(11)
    n = 37                                  # nine lanes of four and one left over
    Z = np.concatenate([
        rng.uniform(-40, 40, (2000, n)),
        rng.normal(0, 3, (2000, n)),
        rng.uniform(-600, 600, (200, n)),   # past ±512 some lanes go to exp itself
        np.exp2(rng.uniform(-60, -50, (50, n))) * rng.choice([-1, 1], (50, n)),   # |z| < 2^−54 too
    ])
    Z[-1, :6] = [0.0, -0.0, 745.2, -745.2, 1e300, -1e300]
    weights, biases, X = output_sums(K, Z)
    got = K.feedforward(weights, biases, K.prepare(X))
    want = np.array([[1 / (1 + math.exp(-z)) if -z < 709 else 0.0 for z in row] for row in X])
    assert got.dtype == np.float64
    mismatch = np.argwhere(got.view(np.uint64) != want.view(np.uint64))
    assert len(mismatch) == 0, "z = {!r}: {!r}, not {!r}".format(
        X[tuple(mismatch[0])], got[tuple(mismatch[0])], want[tuple(mismatch[0])])


@pytest.mark.parametrize("K", F64, ids=lambda K: K.__name__.rsplit(".", 1)[1])
def test_a_softmax_layer_has_the_bits_of_exp_over_the_sum(K):
    rng = np.random.default_rng(12)
    n = 11                                  # two lanes of four and three left over
    Z = np.concatenate([rng.uniform(-40, 40, (3000, n)), rng.uniform(-900, 900, (300, n))])
    weights, biases, X = output_sums(K, Z)
    got = K.feedforward(weights, biases, K.prepare(X), output="softmax")
    want = np.empty_like(X)
    for e, row in enumerate(X):
        m = max(row)
        a = [math.exp(z - m) if z - m > -746 else 0.0 for z in row]
        total = 0.0
        for v in a:
            total += v
        want[e] = [v / total for v in a]
    mismatch = np.argwhere(got.view(np.uint64) != want.view(np.uint64))
    assert len(mismatch) == 0, "row {}: {!r}, not {!r}".format(
        mismatch[0][0], got[mismatch[0][0]], want[mismatch[0][0]])
