# The caller's list of (x, y) pairs, checked and packed in one pass (pack): the
# inputs into the compressed rows of _inputs.pxi (by pack.h's loops), the desired
# outputs or labels into an array -- with the checks and messages of
# cnet._checks.examples.  Or, for one scan of labels (evaluate), the inputs left
# where the caller's arrays hold them (Columns, _inputs.pxi), for the scan to pack a
# block at a time.
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.sequence cimport PySequence_Fast_ITEMS
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
cimport numpy as cnp

from cnet._kernels.alloc cimport cnet_alloc, cnet_free, cnet_realloc
from cnet._kernels.pack cimport PACK_SLACK
from cnet._kernels.real cimport real_t
from cnet._kernels.vec cimport cnet_prefetch

import numpy as np


cdef inline bint holds_column(object a, Py_ssize_t rows) noexcept:
    # a is an ndarray (or a subclass) whose memory is (rows, 1) native float32 or float64
    cdef cnp.ndarray arr = <cnp.ndarray> a
    cdef int type_num = cnp.PyArray_TYPE(arr)
    return (cnp.PyArray_NDIM(arr) == 2 and cnp.PyArray_DIMS(arr)[0] == rows
            and cnp.PyArray_DIMS(arr)[1] == 1 and (type_num == cnp.NPY_FLOAT or type_num == cnp.NPY_DOUBLE)
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


cdef inline void prefetch_column(object a, bint entries) noexcept:
    # ask the cache for the shape of a, if it is a 2-d ndarray, and with `entries` for
    # its entries too
    cdef Py_ssize_t i, bytes
    if type(a) is cnp.ndarray and cnp.PyArray_NDIM(<cnp.ndarray> a) == 2:
        cnet_prefetch(cnp.PyArray_DIMS(<cnp.ndarray> a))
        bytes = cnp.PyArray_DIMS(<cnp.ndarray> a)[0] * cnp.PyArray_STRIDES(<cnp.ndarray> a)[0]
        if entries and 0 < bytes <= 65536:
            for i in range(0, bytes, 64):
                cnet_prefetch(<const char *> cnp.PyArray_DATA(<cnp.ndarray> a) + i)


cdef inline Py_ssize_t visited(const Py_ssize_t *visit, Py_ssize_t r) noexcept:
    # the example that pack's loop visits r-th: visit[r], or r itself
    return visit[r] if visit != NULL else r


cdef inline void prefetch_examples(list data, const Py_ssize_t *visit, Py_ssize_t r,
                                   Py_ssize_t n, Py_ssize_t d, bint entries) noexcept:
    # Ask the cache for what the coming iterations of a loop over data read, in the
    # order they find it: the list's slot of the example visited at r + 8d (when the
    # visit is not the list's order); the pair of the one at r + 4d; the x and y
    # objects of the one at r + 2d; the shapes of x and y of the one at r + d, and with
    # `entries` their entries.  A list that has been shuffled in place visits its
    # arrays in no order a prefetcher could learn.
    cdef object item
    if visit != NULL and r + 8 * d < n:
        cnet_prefetch(PySequence_Fast_ITEMS(data) + visit[r + 8 * d])
    if r + 4 * d < n:
        cnet_prefetch(PyList_GET_ITEM(data, visited(visit, r + 4 * d)))
    if r + 2 * d < n:
        item = <object> PyList_GET_ITEM(data, visited(visit, r + 2 * d))
        if type(item) is tuple and PyTuple_GET_SIZE(item) == 2:
            cnet_prefetch(PyTuple_GET_ITEM(item, 0))
            cnet_prefetch(PyTuple_GET_ITEM(item, 1))
    if r + d < n:
        item = <object> PyList_GET_ITEM(data, visited(visit, r + d))
        if type(item) is tuple and PyTuple_GET_SIZE(item) == 2:
            prefetch_column(<object> PyTuple_GET_ITEM(item, 0), entries)
            prefetch_column(<object> PyTuple_GET_ITEM(item, 1), entries)


cdef inline bint common_pair(object item, Py_ssize_t n_in, Py_ssize_t n_out) noexcept:
    # item is an example in the common form: a pair of (n_in, 1) and (n_out, 1) float
    # arrays, whose checks call none of the caller's code
    return (type(item) is tuple and PyTuple_GET_SIZE(item) == 2
            and is_column(<object> PyTuple_GET_ITEM(item, 0), n_in)
            and is_column(<object> PyTuple_GET_ITEM(item, 1), n_out))


cdef bint sample_in_address_order(list data, Py_ssize_t n_in) noexcept:
    # Whether up to 1,024 examples spread over data, in list order, have inputs in the
    # common form at increasing addresses: a list as it was made, not shuffled (a
    # shuffled one passes with a chance of 1 in 1,024!)
    cdef Py_ssize_t n = PyList_GET_SIZE(data), samples = min(n, 1024), s
    cdef size_t at, last = 0
    cdef object item, x
    for s in range(samples):
        item = <object> PyList_GET_ITEM(data, s * n // samples)
        if not (type(item) is tuple and PyTuple_GET_SIZE(item) == 2):
            return False
        x = <object> PyTuple_GET_ITEM(item, 0)
        if not is_column(x, n_in):
            return False
        at = <size_t> cnp.PyArray_DATA(<cnp.ndarray> x)
        if at <= last:
            return False
        last = at
    return True


cdef object address_order(list data, Py_ssize_t n_in, Py_ssize_t n_out):
    # The examples of data in the order of their inputs' addresses in memory, as an
    # array of list positions (the list's own order when a sample finds it about that
    # already: it is then as fast, and finding every address would cost a pass) -- or
    # None if an example is not in the common form (a pair of (n_in, 1) and (n_out, 1)
    # float arrays), whose checks must run in list order
    cdef Py_ssize_t n = PyList_GET_SIZE(data), k
    cdef object item
    if sample_in_address_order(data, n_in):
        return np.arange(n, dtype=np.intp)
    addresses = np.empty(n, dtype=np.uintp)
    cdef size_t[::1] at = addresses
    for k in range(n):
        prefetch_examples(data, NULL, k, n, 4, False)   # the pairs and shapes only
        item = <object> PyList_GET_ITEM(data, k)
        if not common_pair(item, n_in, n_out):
            return None
        at[k] = <size_t> cnp.PyArray_DATA(<cnp.ndarray> PyTuple_GET_ITEM(item, 0))
    return np.argsort(addresses).astype(np.intp, copy=False)


cdef object permutation_of(object hint, Py_ssize_t n):
    # hint as an array of list positions, checked to be a permutation of range(n)
    visit = np.ascontiguousarray(hint, dtype=np.intp)
    if visit.shape != (n,):
        raise ValueError("hint has shape {}; expected ({},)".format(visit.shape, n))
    seen = np.zeros(n, dtype=np.uint8)
    cdef unsigned char[::1] s = seen
    cdef const Py_ssize_t[::1] v = visit
    cdef Py_ssize_t r
    for r in range(n):
        if not 0 <= v[r] < n or s[v[r]]:
            raise ValueError("hint is not a permutation of range({})".format(n))
        s[v[r]] = 1
    return visit


def pack(name, list data, Py_ssize_t n_in, Py_ssize_t n_out, bint labels, bint by_address=False, hint=None,
         bint columns=False, Inputs refill=None):
    """``(X, T)`` for the list of (x, y) pairs ``data``: X the inputs as ``prepare``
    makes them, T as ``cnet._checks.examples`` gives it -- the (n, n_out)
    float64 desired outputs, or with ``labels`` the (n,) integer labels.

    One pass over the list checks each example as ``cnet._checks.examples``
    does, raising the same errors in the same order (its functions make the
    messages), and packs its input while it is in cache.

    With ``by_address``, ``(X, T, rows)``: the examples are packed in the order in
    which their inputs lie in memory when every one is a pair of float arrays of
    the right shapes and ``labels`` is false (``rows`` says where example k went:
    row ``rows[k]`` of X and of T), in list order otherwise (``rows`` None).  A
    list that a sample finds in memory order already is packed in its own order
    (``rows[k]`` = k).  A list
    that SGD has shuffled in place holds its arrays in no order, and reading them
    in the order of memory is about twice as fast.  ``hint``, with ``by_address``:
    a permutation of the list's positions to visit in that order instead of
    looking for the order of memory (SGD keeps the order one call found for the
    next call on the same list, shuffled); it is followed only while every example
    is in the common form above, and the pack starts over without it otherwise.

    With ``columns`` (and ``labels``, not ``by_address``), ``(C, T)``: C the checked
    inputs as ``Columns``, where the caller's arrays hold them -- for one scan that
    reads each while it is in cache, and finds whether it is finite.

    ``refill`` (not with ``columns``): an ``Inputs`` of n_in columns that an earlier
    pack made and nothing reads any more, to pack into -- its memory, already the
    process's, grows if it must and never shrinks (fresh memory is zeroed by the
    system, page by page: on a VM's first calls that costs more than the packing).
    X is then ``refill`` itself; if an error is raised, its rows are not to be read."""
    from cnet import _checks
    cdef Py_ssize_t n = PyList_GET_SIZE(data), k, r, i, p = 0, first_bad_x = -1, first_bad_y = -1
    cdef Py_ssize_t stride, label_value
    cdef void *grown
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
    cdef Columns cols = None
    cdef Inputs out = None
    if columns and labels and not by_address:
        cols = Columns()
        cols.n_rows, cols.n_cols, cols.name = n, n_in, name
        cols.col = <Column *> cnet_alloc(n * sizeof(Column))
        cols.held = <PyObject **> cnet_alloc(n * sizeof(PyObject *))
        if cols.col == NULL or cols.held == NULL:
            raise MemoryError()
    elif refill is not None and refill.n_cols == n_in:
        out = refill
        if n != out.n_rows:
            grown = cnet_realloc(out.start, (out.n_rows + 1) * sizeof(Py_ssize_t), (n + 1) * sizeof(Py_ssize_t))
            if grown == NULL:
                raise MemoryError()
            out.start = <Py_ssize_t *> grown
            out.n_rows = n
        out.start[0] = 0            # (its entries grow below if they must)
    else:
        refill = None
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
    visit = None
    cdef bint hinted = by_address and not labels and hint is not None
    if by_address and not labels:
        visit = permutation_of(hint, n) if hinted else address_order(data, n_in, n_out)
    cdef const Py_ssize_t *visit_at = NULL
    cdef const Py_ssize_t[::1] visit_mv
    if visit is not None:
        visit_mv = visit
        visit_at = &visit_mv[0] if n > 0 else NULL
    for r in range(n):
        # example k is row r of X and of T
        if PyList_GET_SIZE(data) != n:
            # the checks call the caller's code (__array__, __iter__, ...), which may change it
            raise RuntimeError("{} changed size while it was being checked".format(name))
        prefetch_examples(data, visit_at, r, n, 3, cols is None)
        k = visited(visit_at, r)
        item = <object> PyList_GET_ITEM(data, k)
        if hinted and not common_pair(item, n_in, n_out):
            # the checks of an example in another form run in the list's order
            return pack(name, data, n_in, n_out, labels, by_address, refill=refill)
        if type(item) is tuple and PyTuple_GET_SIZE(item) == 2:
            x = <object> PyTuple_GET_ITEM(item, 0)
            y = <object> PyTuple_GET_ITEM(item, 1)
        else:
            x, y = _checks.pair(name, k, item)
        # the input: checked, then packed
        if not is_column(x, n_in):
            x = as_column(_checks.input_x(name, k, x, n_in), n_in, "{}[{}][0]".format(name, k))
        xa = <cnp.ndarray> x
        if cols is not None:
            cols.hold(k, xa)                # read by the scan
        else:
            if p + n_in + PACK_SLACK > out.capacity:
                out.reserve(max(p + n_in + PACK_SLACK,
                                <Py_ssize_t> (1.05 * p * n / max(r, 1)) + n_in + PACK_SLACK))
            p = pack_column(xa, n_in, out.index, out.value, p, &finite)
            out.start[r + 1] = p
        if not finite:
            if first_bad_x < 0 or k < first_bad_x:
                first_bad_x = k             # the first in the list's order, whatever the visit's
            finite = 1
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
            row = &T_outputs[r, 0]
            for i in range(n_out):
                if cnp.PyArray_TYPE(ya) == cnp.NPY_FLOAT:
                    v = (<const float *> (<const char *> cnp.PyArray_DATA(ya) + i * stride))[0]
                else:
                    v = (<const double *> (<const char *> cnp.PyArray_DATA(ya) + i * stride))[0]
                row[i] = v
                if not v - v == 0 and (first_bad_y < 0 or k < first_bad_y):
                    first_bad_y = k
    if labels and (not plain_labels or first_bad_y >= 0):
        T = _checks.label_array(name, ys, n_out)      # the labels' own rules and message
    elif first_bad_y >= 0:
        raise _checks.not_finite(name, first_bad_y, 1)
    if first_bad_x >= 0:
        raise _checks.not_finite(name, first_bad_x, 0)
    if cols is not None:
        return cols, T
    if refill is None or out.capacity > 2 * (p + n_in + PACK_SLACK):
        # give back what the projection (or a larger list before) over-reserved, but for
        # the room that packing the same list into it again needs (refill)
        out.reserve(p + n_in + PACK_SLACK)
    if not by_address:
        return out, T
    if visit is None:
        return out, T, None
    rows = np.empty(n, dtype=np.intp)
    rows[visit] = np.arange(n, dtype=np.intp)
    return out, T, rows
