# The inputs, packed: each example's non-zero entries and their column indices
# (compressed rows), so that the input layer's loops run over the non-zero pixels
# only -- 19% of MNIST's -- with no test per pixel.  ``prepare`` makes them from a
# matrix; ``pack`` (_lists.pxi) from the caller's list of (x, y) pairs, checking it
# as it goes.
cimport numpy as cnp

from cnet._kernels.alloc cimport cnet_alloc, cnet_realloc, cnet_free
from cnet._kernels.pack cimport cnet_pack_init, cnet_advise_huge
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
