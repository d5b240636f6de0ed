"""Chapter 6's layer arithmetic in NumPy, the reference for the compiled loops:
Theano's valid (flipped) convolution and its gradients, max-pooling that drops
the border and sends a window's gradient to every input equal to its maximum,
the counter-based dropout masks, and a step of gradient descent.

Shapes follow the book's ``network3.py``: inputs ``(m, c, H, W)`` (m examples,
c maps), filters ``(f, c, h, w)``, convolution outputs ``(m, f, H − h + 1,
W − w + 1)``.  Every function computes in its inputs' dtype, on one thread: the
``threads`` that the compiled kernels share a call among are accepted and unused.
"""
import numpy as np

__all__ = ["conv_forward", "conv_backward", "pool_forward", "pool_backward", "dropout_keep",
           "matmul", "moved", "mix64", "MASK_SALT"]


def matmul(A, B, threads=1):
    """A @ B for 2-D arrays (M, K) and (K, N), in their dtype."""
    return np.matmul(A, B)


def moved(p, grad, step, decay=None):
    """A new array p − step · (grad + decay · p), or p − step · grad without ``decay``:
    per entry a multiply, an add, a multiply and a subtract in that order, in p's dtype
    (``grad``, ``step`` and ``decay`` of that dtype too)."""
    if decay is None:
        out = np.multiply(grad, step)
    else:
        out = np.multiply(p, decay)
        out += grad
        out *= step
    return np.subtract(p, out, out=out)


def _windows(x, h, w):
    """A view (m, c, H − h + 1, W − w + 1, h, w) of every h × w window of ``x``."""
    return np.lib.stride_tricks.sliding_window_view(x, (h, w), axis=(2, 3))


def conv_forward(x, filters, threads=1):
    """The valid convolution of each example's maps with each filter, flipped as
    Theano's ``conv2d`` flips it: ``out[n, f, y, x] = Σ_c Σ_i Σ_j
    x[n, c, y + i, x + j] · filters[f, c, h − 1 − i, w − 1 − j]``."""
    h, w = filters.shape[2:]
    flipped = filters[:, :, ::-1, ::-1]
    return np.einsum("ncyxij,fcij->nfyx", _windows(x, h, w), flipped, optimize=True)


def conv_backward(x, filters, delta, need_input=True, threads=1):
    """``(∂C/∂filters, ∂C/∂x)`` given ``delta`` = ∂C/∂out, the output of
    ``conv_forward(x, filters)``; ∂C/∂x is None unless ``need_input``.  The
    filters' gradient sums over the examples."""
    F, c, h, w = filters.shape
    # ∂C/∂filters[f, c, h−1−i, w−1−j] = Σ_n Σ_y Σ_x delta[n, f, y, x] · x[n, c, y + i, x + j]
    grad_flipped = np.einsum("ncijyx,nfyx->fcij", _corr_windows(x, delta.shape[2], delta.shape[3]),
                             delta, optimize=True)
    grad_filters = grad_flipped[:, :, ::-1, ::-1]
    if not need_input:
        return np.ascontiguousarray(grad_filters), None
    # ∂C/∂x[n, c, y + i, x + j] += delta[n, f, y, x] · filters[f, c, h−1−i, w−1−j]: the full
    # correlation of the zero-padded delta with the (unflipped) filters
    m, f, oy, ox = delta.shape
    padded = np.zeros((m, f, oy + 2 * (h - 1), ox + 2 * (w - 1)), dtype=delta.dtype)
    padded[:, :, h - 1:h - 1 + oy, w - 1:w - 1 + ox] = delta
    grad_x = np.einsum("nfyxij,fcij->ncyx", _windows(padded, h, w), filters, optimize=True)
    return np.ascontiguousarray(grad_filters), grad_x


def _corr_windows(x, oy, ox):
    """A view (m, c, h, w, oy, ox): for each filter offset (i, j), the oy × ox block
    of ``x`` that the offset meets."""
    return np.lib.stride_tricks.sliding_window_view(x, (oy, ox), axis=(2, 3))


def pool_forward(a, pool, threads=1):
    """The maximum of each non-overlapping ``pool`` = (ph, pw) window of ``a``
    (m, f, Y, X): an (m, f, Y // ph, X // pw) array; rows and columns that do not
    fill a window are dropped (Theano's ``ignore_border=True``)."""
    ph, pw = pool
    m, f, Y, X = a.shape
    py, px = Y // ph, X // pw
    blocks = a[:, :, :py * ph, :px * pw].reshape(m, f, py, ph, px, pw)
    return blocks.max(axis=(3, 5))


def pool_backward(a, pooled, delta, pool, threads=1):
    """∂C/∂a given ``delta`` = ∂C/∂pooled, ``pooled = pool_forward(a, pool)``: each
    window's gradient goes to every input of the window equal to its maximum
    (Theano's rule, so a tie passes it to each), zero elsewhere and in the
    dropped border."""
    ph, pw = pool
    m, f, py, px = pooled.shape
    blocks = a[:, :, :py * ph, :px * pw].reshape(m, f, py, ph, px, pw)
    is_max = blocks == pooled[:, :, :, None, :, None]
    grad = np.zeros_like(a)
    grad[:, :, :py * ph, :px * pw] = (is_max * delta[:, :, :, None, :, None]).reshape(m, f, py * ph, px * pw)
    return grad


# ------------------------------------------------------------ dropout masks
# A mask bit is a function of (seed, step, example, unit) alone: SplitMix64's
# finaliser chained over the four numbers gives 64 random bits, whose top 53 are
# a uniform u in [0, 1); the unit is kept when u >= p.  The compiled kernels
# compute the same bits with the same 64-bit integer steps, so that any thread
# count and either implementation drop the same units.

MASK_SALT = np.uint64(0x9E3779B97F4A7C15)     # SplitMix64's increment (2^64 / golden ratio)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(z):
    """SplitMix64's output function of ``z + MASK_SALT`` (uint64 arrays, arithmetic mod 2^64)."""
    with np.errstate(over="ignore"):
        z = np.asarray(z, dtype=np.uint64) + MASK_SALT
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def dropout_keep(seed, step, examples, units, p):
    """The (len(examples), units) boolean mask of the units kept at training step
    ``step`` (a mini-batch's index since the network was built) for the examples
    numbered ``examples`` (their positions in the mini-batch): unit u of example e is
    kept when ``(mix64(mix64(mix64(mix64(seed) + step) + e) + u) >> 11) · 2^−53 ≥ p``."""
    with np.errstate(over="ignore"):
        key = mix64(np.uint64(seed) & np.uint64(0xFFFFFFFFFFFFFFFF))
        key = mix64(key + np.uint64(step))
        per_example = mix64(key + np.asarray(examples, dtype=np.uint64))
        bits = mix64(per_example[:, None] + np.arange(units, dtype=np.uint64)[None, :])
    u = (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    return u >= p
