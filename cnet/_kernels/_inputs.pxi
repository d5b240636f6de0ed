# The inputs, packed: each example's non-zero entries and their column indices
# (compressed rows), so that the input layer's loops run over the non-zero pixels
# only -- 19% of MNIST's -- with no test per pixel.  ``prepare`` makes them from a
# matrix; ``pack`` from the caller's list of (x, y) pairs, checking it as it goes.
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.string cimport memcpy
cimport numpy as cnp

from cnet._kernels.alloc cimport cnet_alloc, cnet_realloc, cnet_free
from cnet._kernels.pack cimport (PACK_SLACK, cnet_pack_init, cnet_pack_f32, cnet_pack_f64,
                                 cnet_advise_huge)
from cnet._kernels.real cimport real_t
from cnet._kernels.vec cimport cnet_prefetch

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


# ------------------------------------------------------- packing a list of examples

cdef inline bint holds_column(object a, Py_ssize_t rows) noexcept:
    # a is an ndarray (or a subclass) whose memory is (rows, 1) native float32 or float64
    cdef cnp.ndarray arr = <cnp.ndarray> a
    cdef int kind = cnp.PyArray_TYPE(arr)
    return (cnp.PyArray_NDIM(arr) == 2 and cnp.PyArray_DIMS(arr)[0] == rows
            and cnp.PyArray_DIMS(arr)[1] == 1 and (kind == cnp.NPY_FLOAT or kind == cnp.NPY_DOUBLE)
            and cnp.PyArray_ISNOTSWAPPED(arr))


cdef inline bint is_column(object a, Py_ssize_t rows) noexcept:
    # a is exactly an ndarray of shape (rows, 1) holding native float32 or float64
    return type(a) is cnp.ndarray and holds_column(a, rows)


cdef cnp.ndarray as_column(object a, Py_ssize_t rows, where):
    # a, a checked numeric ndarray of shape (rows, 1), as holds_column accepts
    # (converted to float64, as np.concatenate(...).astype(float64) would, if it is not)
    if isinstance(a, cnp.ndarray) and holds_column(a, rows):
        return <cnp.ndarray> a
    a = np.array(a, dtype=np.float64)
    if not holds_column(a, rows):
        # only an ndarray subclass whose shape says what its memory is not gets here
        raise ValueError("{} does not hold the ({}, 1) values its shape says".format(where, rows))
    return <cnp.ndarray> a


cdef Py_ssize_t projected_entries(list data, Py_ssize_t n_in) except -1:
    # Room for the non-zero entries of data's inputs, projected from up to 256 examples
    # spread over the list (+ 10%), so that the buffers are allocated once: growing
    # them may copy them.  Examples not in the common form count as dense.
    cdef Py_ssize_t n = PyList_GET_SIZE(data), samples = min(n, 256), s, count = 0, p
    cdef int finite = 1
    cdef object item, x
    cdef int *index = <int *> cnet_alloc((n_in + PACK_SLACK) * sizeof(int))
    cdef real_t *value = <real_t *> cnet_alloc((n_in + PACK_SLACK) * sizeof(real_t))
    if index == NULL or value == NULL:
        cnet_free(index)
        cnet_free(value)
        raise MemoryError()
    for s in range(samples):
        item = <object> PyList_GET_ITEM(data, s * n // samples)
        p = n_in
        if type(item) is tuple and PyTuple_GET_SIZE(item) == 2:
            x = <object> PyTuple_GET_ITEM(item, 0)
            if is_column(x, n_in):
                p = pack_column(<cnp.ndarray> x, n_in, index, value, 0, &finite)
        count += p
    cnet_free(index)
    cnet_free(value)
    if samples == n:
        return count + n_in + PACK_SLACK
    return <Py_ssize_t> (1.1 * count * n / samples) + n_in + PACK_SLACK


cdef inline Py_ssize_t pack_column(cnp.ndarray x, Py_ssize_t n_in, int *index, real_t *value,
                                   Py_ssize_t p, int *finite) noexcept:
    # index/value[p …] ← the non-zero entries of the column x (as is_column accepts); the
    # new p.  *finite ← 0 if an entry of x is NaN or infinite.
    cdef const char *data = <const char *> cnp.PyArray_DATA(x)
    cdef Py_ssize_t stride = cnp.PyArray_STRIDES(x)[0]
    if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT:
        return cnet_pack_f32(data, stride, n_in, index, value, p, finite)
    return cnet_pack_f64(data, stride, n_in, index, value, p, finite)


cdef inline void prefetch_column(object a) noexcept:
    # ask the cache for the shape and the entries of a, if it is a 2-d ndarray
    cdef Py_ssize_t i, bytes
    if type(a) is cnp.ndarray and cnp.PyArray_NDIM(<cnp.ndarray> a) == 2:
        cnet_prefetch(cnp.PyArray_DIMS(<cnp.ndarray> a))
        bytes = cnp.PyArray_DIMS(<cnp.ndarray> a)[0] * cnp.PyArray_STRIDES(<cnp.ndarray> a)[0]
        if 0 < bytes <= 65536:
            for i in range(0, bytes, 64):
                cnet_prefetch(<const char *> cnp.PyArray_DATA(<cnp.ndarray> a) + i)


cdef inline void prefetch_examples(list data, Py_ssize_t k, Py_ssize_t n) noexcept:
    # Ask the cache for what the coming iterations of pack's loop read, in the order
    # they find it: the pair of example k + 12; the x and y objects of example k + 6;
    # the shape of x and the entries of x and y of example k + 3.  A list that has
    # been shuffled in place visits its arrays in no order a prefetcher could learn.
    cdef object item
    if k + 12 < n:
        cnet_prefetch(PyList_GET_ITEM(data, k + 12))
    if k + 6 < n:
        item = <object> PyList_GET_ITEM(data, k + 6)
        if type(item) is tuple and PyTuple_GET_SIZE(item) == 2:
            cnet_prefetch(PyTuple_GET_ITEM(item, 0))
            cnet_prefetch(PyTuple_GET_ITEM(item, 1))
    if k + 3 < n:
        item = <object> PyList_GET_ITEM(data, k + 3)
        if type(item) is tuple and PyTuple_GET_SIZE(item) == 2:
            prefetch_column(<object> PyTuple_GET_ITEM(item, 0))
            prefetch_column(<object> PyTuple_GET_ITEM(item, 1))


def pack(name, list data, Py_ssize_t n_in, Py_ssize_t n_out, bint labels):
    """``(X, T)`` for the list of (x, y) pairs ``data``: X the inputs as ``prepare``
    makes them, T as ``cnet._checks.examples`` gives it -- the (n, n_out)
    float64 desired outputs, or with ``labels`` the (n,) integer labels.

    One pass over the list checks each example as ``cnet._checks.examples``
    does, raising the same errors in the same order (its functions make the
    messages), and packs its input while it is in cache."""
    from cnet import _checks
    cdef Py_ssize_t n = PyList_GET_SIZE(data), k, i, p = 0, first_bad_x = -1, first_bad_y = -1
    cdef Py_ssize_t stride, label_value
    cdef object item, x, y
    cdef cnp.ndarray xa, ya
    cdef bint plain_labels = True
    cdef int finite = 1
    cdef double v
    cdef double *row
    cdef Py_ssize_t[::1] T_labels
    cdef double[:, ::1] T_outputs
    if n_in >= 2**31:
        raise ValueError("inputs wider than 2**31 - 1 are not supported")
    out = Inputs()
    out.n_rows, out.n_cols = n, n_in
    out.start = <Py_ssize_t *> cnet_alloc((n + 1) * sizeof(Py_ssize_t))
    if out.start == NULL:
        raise MemoryError()
    out.reserve(projected_entries(data, n_in))
    ys = [] if labels else None
    int64, int_types = np.int64, _checks._INT_TYPES
    T = np.empty(n, dtype=np.intp) if labels else np.empty((n, n_out))
    if labels:
        T_labels = T
    else:
        T_outputs = T
    for k in range(n):
        if PyList_GET_SIZE(data) != n:
            # the checks call the caller's code (__array__, __iter__, ...), which may change it
            raise RuntimeError("{} changed size while it was being checked".format(name))
        prefetch_examples(data, k, n)
        item = <object> PyList_GET_ITEM(data, k)
        if type(item) is tuple and PyTuple_GET_SIZE(item) == 2:
            x = <object> PyTuple_GET_ITEM(item, 0)
            y = <object> PyTuple_GET_ITEM(item, 1)
        else:
            x, y = _checks.pair(name, k, item)
        # the input: checked, then packed
        if not is_column(x, n_in):
            x = as_column(_checks.input_x(name, k, x, n_in), n_in, "{}[{}][0]".format(name, k))
        xa = <cnp.ndarray> x
        if p + n_in + PACK_SLACK > out.capacity:
            out.reserve(max(p + n_in + PACK_SLACK,
                            <Py_ssize_t> (1.05 * p * n / max(k, 1)) + n_in + PACK_SLACK))
        p = pack_column(xa, n_in, out.index, out.value, p, &finite)
        out.start[k + 1] = p
        if not finite and first_bad_x < 0:
            first_bad_x = k
        # the desired output or the label
        if labels:
            if not (type(y) is int or type(y) is int64):
                y = _checks.label(name, k, y, n_out)
                plain_labels = plain_labels and type(y) in int_types
            ys.append(y)
            if plain_labels:
                try:
                    label_value = y
                except OverflowError:
                    label_value = -1            # out of range, as label_array will say
                T_labels[k] = label_value
                if first_bad_y < 0 and not 0 <= label_value < n_out:
                    first_bad_y = k
        else:
            if not is_column(y, n_out):
                y = as_column(_checks.output_y(name, k, y, n_out), n_out, "{}[{}][1]".format(name, k))
            ya = <cnp.ndarray> y
            stride = cnp.PyArray_STRIDES(ya)[0]
            row = &T_outputs[k, 0]
            for i in range(n_out):
                if cnp.PyArray_TYPE(ya) == cnp.NPY_FLOAT:
                    v = (<const float *> (<const char *> cnp.PyArray_DATA(ya) + i * stride))[0]
                else:
                    v = (<const double *> (<const char *> cnp.PyArray_DATA(ya) + i * stride))[0]
                row[i] = v
                if first_bad_y < 0 and not v - v == 0:
                    first_bad_y = k
    if labels and (not plain_labels or first_bad_y >= 0):
        T = _checks.label_array(name, ys, n_out)      # the labels' own rules and message
    elif first_bad_y >= 0:
        raise _checks.not_finite(name, first_bad_y, 1)
    if first_bad_x >= 0:
        raise _checks.not_finite(name, first_bad_x, 0)
    out.reserve(p)      # give back what the projection over-reserved
    return out, T
