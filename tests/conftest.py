import os
import signal

import numpy as np
import pytest

from cnet import _kernels

BACKENDS = ["cython", "numpy"]

# Ctrl-C is tested with real SIGINTs (tests/test_interrupt.py, test_chapter3.py). A test
# run started as a background job of a non-interactive shell (`pytest &` in a script)
# inherits SIGINT *ignored*, and so would its children: Python then raises no
# KeyboardInterrupt at all. Give this process Python's own handler back, which also
# lets the children it starts (exec resets a handled signal to the default) install theirs.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_report_header(config):
    isa = getattr(_kernels.compiled, "ISA", None)
    return "cnet compiled kernels: {}".format(isa or "NOT BUILT ({})".format(_kernels.compiled_error))


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def make_data(sizes, n, rng, dtype=np.float64, labels=False, y_dtype=np.float64, sparsity=0.6):
    """n random examples for a network of ``sizes``: inputs in [0, 1) with about
    ``sparsity`` of them zero (like MNIST), and one-hot (or integer) labels."""
    out = []
    for _ in range(n):
        x = rng.random((sizes[0], 1))
        x[rng.random((sizes[0], 1)) < sparsity] = 0.0
        j = int(rng.integers(sizes[-1]))
        if labels:
            y = j
        else:
            y = np.zeros((sizes[-1], 1), dtype=y_dtype)
            y[j] = 1
        out.append((x.astype(dtype), y))
    return out


def max_rel_diff(a_list, b_list):
    """max |a − b| over all entries, relative to the largest |b|."""
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(a_list, b_list))
    scale = max(float(np.max(np.abs(b))) for b in b_list)
    return diff / scale


def assert_matches_finite_differences(weights, biases, nabla_w, nabla_b, C_x, abs, h=1e-6):
    """Each entry of the gradient (nabla_w, nabla_b) equals the central difference
    (C_x(p + h) − C_x(p − h)) / 2h of the cost ``C_x()`` in that weight or bias, to
    rel 1e-6 or ``abs``; every parameter is left as it was."""
    for params_l, grads in ((weights, nabla_w), (biases, nabla_b)):
        for p, g in zip(params_l, grads):
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + h
                up = C_x()
                p[idx] = old - h
                down = C_x()
                p[idx] = old
                assert g[idx] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=abs)


@pytest.fixture
def restore_floatx():
    """network3.floatX as it was before the test (tests that build layers set it)."""
    from cnet import network3
    saved = network3.floatX
    yield
    network3.floatX = saved


@pytest.fixture(scope="session")
def mnist_dir():
    """The directory named by CNET_DATA_DIR, holding real MNIST; skips without it."""
    d = os.environ.get("CNET_DATA_DIR")
    if not d or not os.path.exists(os.path.join(d, "mnist.pkl.gz")):
        pytest.skip("real MNIST not available: set CNET_DATA_DIR to a directory holding mnist.pkl.gz")
    return d


def wider_isas():
    """The compiled builds beyond the baseline that this CPU runs ("avx2", then
    "avx512"), to be compared with the baseline build bit for bit."""
    from cnet import _kernels
    common = _kernels.common
    if _kernels.compiled is None or common is None or not common.cpu_has_avx2():
        return []
    return ["avx2"] + (["avx512"] if common.cpu_has_avx512() else [])
