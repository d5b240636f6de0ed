# The inputs, packed: each example's non-zero entries and their column indices
# (compressed rows), so that the input layer's loops run over the non-zero pixels
# only -- 19% of MNIST's -- with no test per pixel.  ``prepare`` makes them from a
# matrix; ``pack`` (_lists.pxi) from the caller's list of (x, y) pairs, checking it
# as it goes -- or leaves them where the caller's arrays hold them (Columns), for one
# scan that packs them a block at a time.
from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF
cimport numpy as cnp

from cnet._kernels.alloc cimport cnet_alloc, cnet_realloc, cnet_free
from cnet._kernels.pack cimport cnet_pack_init, cnet_advise_huge, cnet_pack_f32, cnet_pack_f64
from cnet._kernels.real cimport real_t

import numpy as np

cnp.import_array()
cnet_pack_init()

ctypedef fused real_in:
    float
    double


cdef struct Rows:
    # Row e's non-zero entries are x[e, index[p]] = value[p], start[e] <= p < start[e + 1]
    const Py_ssize_t *start
    const int *index
    const real_t *value


cdef class Inputs:
    """A matrix of inputs, one example per row, as compressed rows: for each row,
    its non-zero entries and their column indices.  Made by ``prepare``."""
    cdef readonly Py_ssize_t n_rows, n_cols
    cdef Py_ssize_t *start       # n_rows + 1 entries
    cdef int *index              # capacity entries, start[n_rows] of them used
    cdef real_t *value
    cdef Py_ssize_t capacity

    def __dealloc__(self):
        cnet_free(self.start)
        cnet_free(self.index)
        cnet_free(self.value)

    def arrays(self):
        """``(start, index, value)``: copies of the compressed rows as NumPy arrays --
        row e's entries are x[e, index[p]] = value[p] for start[e] <= p < start[e + 1]."""
        cdef Py_ssize_t used = self.start[self.n_rows] if self.start != NULL else 0
        start = np.array(<Py_ssize_t[:self.n_rows + 1]> self.start) if self.start != NULL else np.zeros(1, np.intp)
        if used == 0:
            return start, np.zeros(0, np.intc), np.zeros(0, DTYPE)
        return start, np.array(<int[:used]> self.index), np.array(<real_t[:used]> self.value)

    cdef Rows rows(self) noexcept:
        cdef Rows r
        r.start = self.start
        r.index = self.index
        r.value = self.value
        return r

    cdef int reserve(self, Py_ssize_t entries) except -1:
        # room for exactly `entries` non-zero entries
        cdef void *grown
        if entries == self.capacity:
            return 0
        entries = max(entries, 1)
        grown = cnet_realloc(self.index, self.capacity * sizeof(int), entries * sizeof(int))
        if grown == NULL:
            raise MemoryError()
        self.index = <int *> grown
        grown = cnet_realloc(self.value, self.capacity * sizeof(real_t), entries * sizeof(real_t))
        if grown == NULL:
            raise MemoryError()
        self.value = <real_t *> grown
        if entries > self.capacity:
            cnet_advise_huge(self.index, entries * sizeof(int))
            cnet_advise_huge(self.value, entries * sizeof(real_t))
        self.capacity = entries
        return 0


cdef Py_ssize_t count_nonzero(const real_in[:, ::1] X) noexcept nogil:
    # #{(e, i) : X[e, i] ≠ 0}, counted without a branch (a fifth of MNIST's pixels
    # are non-zero, in no pattern a branch predictor could learn)
    cdef Py_ssize_t e, i, count = 0
    cdef const real_in *row
    for e in range(X.shape[0]):
        row = &X[e, 0]
        for i in range(X.shape[1]):
            count += row[i] != 0
    return count


cdef void gather_nonzero(const real_in[:, ::1] X, Py_ssize_t *start, int *index,
                         real_t *value) noexcept nogil:
    # (index, value)[start[0] …] ← the non-zero X[e, i], row after row;
    # start[e + 1] = where row e's entries end.  Without a branch: every entry is
    # written at p, and p moves on only past a non-zero one (so the buffers need
    # room for one entry more than they keep).
    cdef Py_ssize_t e, i, p = start[0]
    cdef const real_in *row
    cdef real_in x
    for e in range(X.shape[0]):
        row = &X[e, 0]
        for i in range(X.shape[1]):
            x = row[i]
            index[p] = <int> i
            value[p] = <real_t> x
            p += x != 0
        start[e + 1] = p


def _append_block(Inputs out, const real_in[:, ::1] X, Py_ssize_t first):
    # the compressed rows first … first + len(X) − 1, from the dense block X
    cdef Py_ssize_t count, needed, done = first + X.shape[0]
    if X.shape[0] == 0:
        return
    with nogil:
        count = count_nonzero(X)
    needed = out.start[first] + count + 1     # + 1: see gather_nonzero
    if needed > out.capacity:
        # room for what the rows so far project for the whole set, plus 5%
        out.reserve(max(needed, <Py_ssize_t> (1.05 * needed * out.n_rows / done)))
    with nogil:
        gather_nonzero(X, out.start + first, out.index, out.value)


def prepare(X):
    """The inputs in the form the other kernels take: an ``Inputs`` holding each
    example's non-zero entries.  ``X`` is an (m, n_in) float32 or float64 array,
    one example per row, or a ``cnet._checks.InputRows`` (a list of checked examples
    read block by block, so that no dense copy of a whole data set is made)."""
    blocks = [(0, X)] if isinstance(X, np.ndarray) else X.blocks()
    n_rows, n_cols = X.shape
    if n_cols >= 2**31:
        raise ValueError("inputs wider than 2**31 - 1 are not supported")
    out = Inputs()
    out.n_rows, out.n_cols = n_rows, n_cols
    out.start = <Py_ssize_t *> cnet_alloc((n_rows + 1) * sizeof(Py_ssize_t))
    if out.start == NULL:
        raise MemoryError()
    for first, block in blocks:
        _append_block(out, block, first)
    out.reserve(out.start[n_rows])  # give back what the projection over-reserved
    return out


# ------------------------------------------------ the caller's columns

cdef struct Column:
    # an input column where the caller's array holds it: its values at data, stride bytes apart
    const char *data
    Py_ssize_t stride
    bint f64            # float64 values, else float32


cdef inline Column column_of(cnp.ndarray x) noexcept:
    # where the column x (as holds_column accepts) holds its values
    cdef Column c
    c.data = <const char *> cnp.PyArray_DATA(x)
    c.stride = cnp.PyArray_STRIDES(x)[0]
    c.f64 = cnp.PyArray_TYPE(x) == cnp.NPY_DOUBLE
    return c


cdef inline Py_ssize_t pack_entries(const Column *x, Py_ssize_t n_in, int *index, real_t *value,
                                    Py_ssize_t p, int *finite) noexcept nogil:
    # index/value[p …] ← the non-zero entries of the column x of n_in values; the new p.
    # *finite ← 0 if an entry of x is NaN or infinite.
    if x.f64:
        return cnet_pack_f64(x.data, x.stride, n_in, index, value, p, finite)
    return cnet_pack_f32(x.data, x.stride, n_in, index, value, p, finite)


cdef inline Py_ssize_t pack_column(cnp.ndarray x, Py_ssize_t n_in, int *index, real_t *value,
                                   Py_ssize_t p, int *finite) noexcept:
    # pack_entries of the column x (as holds_column accepts)
    cdef Column c = column_of(x)
    return pack_entries(&c, n_in, index, value, p, finite)


cdef class Columns:
    """The inputs of a list of examples, checked for their form but not read: each
    one's column where the caller's array holds it, for one scan that packs them a
    block at a time (``cost_and_predict``), which raises, as ``pack`` would, if one
    is not finite.  Made by ``pack`` with ``columns``; holds each array."""
    cdef readonly Py_ssize_t n_rows, n_cols
    cdef readonly object name       # the list's, for the scan's error
    cdef Column *col
    cdef PyObject **held            # a reference to each column's array (n_held of them)
    cdef Py_ssize_t n_held

    def __dealloc__(self):
        cdef Py_ssize_t k
        for k in range(self.n_held):
            Py_XDECREF(self.held[k])
        cnet_free(self.col)
        cnet_free(self.held)

    cdef void hold(self, Py_ssize_t k, cnp.ndarray x) noexcept:
        # example k's input is the column x
        self.col[k] = column_of(x)
        Py_INCREF(x)
        self.held[k] = <PyObject *> x
        self.n_held = k + 1
