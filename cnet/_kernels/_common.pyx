# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""What the compiled kernels share whatever their precision and instruction set,
compiled once: the book's shuffle (and a list reordered in place by it), and
the CPU check that picks the kernels."""
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject
from cnet._kernels.cpu cimport cnet_cpu_has_avx2, cnet_cpu_has_avx512

import numpy as np


def cpu_has_avx2():
    """True when this CPU runs AVX2 and FMA instructions."""
    return bool(cnet_cpu_has_avx2())


def cpu_has_avx512():
    """True when this CPU also runs AVX-512 F, VL and DQ (the wide build's)."""
    return bool(cnet_cpu_has_avx512())


# ------------------------------------------------------------- the shuffle
# random.shuffle(list(range(n))), computed in C from the state of Python's
# `random` module: the same Mersenne Twister draws, the same rejection
# sampling (_randbelow_with_getrandbits), the same swaps -- so the book's
# per-epoch shuffle costs microseconds instead of a Python loop.

cdef enum:
    MT_N = 624
    MT_M = 397


cdef unsigned int mt_next(unsigned int *mt, Py_ssize_t *mti) noexcept nogil:
    # genrand_uint32 of CPython's _randommodule.c (MT19937)
    cdef unsigned int y
    cdef Py_ssize_t kk
    if mti[0] >= MT_N:
        for kk in range(MT_N):
            y = (mt[kk] & 0x80000000U) | (mt[(kk + 1) % MT_N] & 0x7fffffffU)
            mt[kk] = mt[(kk + MT_M) % MT_N] ^ (y >> 1) ^ (0x9908b0dfU if y & 1 else 0U)
        mti[0] = 0
    y = mt[mti[0]]
    mti[0] += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9d2c5680U
    y ^= (y << 15) & 0xefc60000U
    y ^= y >> 18
    return y


def shuffle_permutation(Py_ssize_t n, state):
    """``(perm, new_state)``: ``perm`` is ``list(range(n))`` as ``random.shuffle``
    leaves it when Python's ``random`` module is in ``state``
    (``random.getstate()``), and ``new_state`` is the state it leaves behind."""
    version, internal, gauss_next = state
    if version != 3 or len(internal) != MT_N + 1 or not 0 <= n < 2 ** 32:
        raise ValueError("not a Mersenne Twister state of Python's random module")
    cdef unsigned int[::1] mt = np.asarray(internal[:MT_N], dtype=np.uint32)
    cdef Py_ssize_t mti = internal[MT_N], i, j, t
    if not 0 <= mti <= MT_N:
        raise ValueError("not a Mersenne Twister state of Python's random module")
    perm = np.arange(n, dtype=np.intp)
    cdef Py_ssize_t[::1] p = perm
    cdef unsigned int bound, k, r
    with nogil:
        # for i = n−1 … 1: j = randbelow(i + 1); swap p[i], p[j]
        for i in range(n - 1, 0, -1):
            bound = <unsigned int> (i + 1)
            k = 0
            while (bound >> k) != 0:
                k += 1                      # k = bound.bit_length()
            r = mt_next(&mt[0], &mti) >> (32 - k)
            while r >= bound:
                r = mt_next(&mt[0], &mti) >> (32 - k)
            j = r
            t = p[i]
            p[i] = p[j]
            p[j] = t
    new_internal = tuple(int(v) for v in np.asarray(mt)) + (int(mti),)
    return perm, (version, new_internal, gauss_next)


# ------------------------------------------------- a list, reordered in place

cdef extern from "Python.h":
    # the list's own slots, without the reference counting that Cython's object
    # versions add: a permutation moves each reference, it neither makes nor drops one
    PyObject *list_item "PyList_GET_ITEM"(object data, Py_ssize_t i)
    void list_set_item "PyList_SET_ITEM"(object data, Py_ssize_t i, PyObject *item)


def permute_list(list data not None, const Py_ssize_t[::1] perm):
    """Reorder ``data`` in place into ``[data[i] for i in perm]``, where ``perm`` is a
    permutation of ``range(len(data))`` -- the list's slots are moved in one pass,
    the items themselves are not touched.  Raises ValueError, leaving ``data`` as
    it was, if ``perm`` is not such a permutation."""
    cdef Py_ssize_t n = len(data), k, i
    if type(data) is not list:
        raise TypeError("data must be a list")
    if perm.shape[0] != n:
        raise ValueError("perm has {} entries; expected {}".format(perm.shape[0], n))
    seen = np.zeros(n, dtype=np.uint8)
    cdef unsigned char[::1] s = seen
    for k in range(n):
        i = perm[k]
        if not 0 <= i < n or s[i]:
            raise ValueError("perm is not a permutation of range({})".format(n))
        s[i] = 1
    cdef PyObject **old = <PyObject **> PyMem_Malloc(max(n, 1) * sizeof(PyObject *))
    if old == NULL:
        raise MemoryError()
    for k in range(n):
        old[k] = list_item(data, k)
    for k in range(n):
        list_set_item(data, k, old[perm[k]])     # data[k] = old data[perm[k]]
    PyMem_Free(old)


def list_items(list data not None):
    """The addresses of the objects in ``data``'s slots, in order, as an array of
    unsigned integers: what ``data`` holds, told apart from another list's contents
    without holding a reference to any item (so an address may later be a new
    object's; it is a fact about the list now, for a caller to compare)."""
    cdef Py_ssize_t n = len(data), k
    items = np.empty(n, dtype=np.uintp)
    cdef size_t[::1] at = items
    for k in range(n):
        at[k] = <size_t> list_item(data, k)
    return items
