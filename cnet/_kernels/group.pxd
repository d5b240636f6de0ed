# The input layer for a mini-batch's examples together (group.h); see the comments
# there for what each computes.
from cnet._kernels.real cimport real_t

cdef extern from "group.h":
    enum: CNET_GROUP_MAX
    void cnet_rows_forward_group(const real_t *b, const real_t *wt, Py_ssize_t s, Py_ssize_t n,
                                 Py_ssize_t rows, const int *index, const real_t *value,
                                 const Py_ssize_t *start, const Py_ssize_t *batch, Py_ssize_t m,
                                 real_t *z, Py_ssize_t zs) noexcept nogil
    void cnet_rows_update_group(real_t *wt, Py_ssize_t s, Py_ssize_t n, Py_ssize_t rows,
                                const int *index, const real_t *value, const Py_ssize_t *start,
                                const Py_ssize_t *batch, Py_ssize_t m, real_t c, const real_t *d,
                                Py_ssize_t ds) noexcept nogil
    void cnet_rows_step_sums(real_t *wt, Py_ssize_t s, Py_ssize_t n, Py_ssize_t rows,
                             const int *index, const real_t *value, const Py_ssize_t *start,
                             const Py_ssize_t *ubatch, Py_ssize_t n_update, real_t c, const real_t *d,
                             Py_ssize_t ds, const real_t *b, const Py_ssize_t *fbatch, Py_ssize_t n_sums,
                             real_t *z, Py_ssize_t zs) noexcept nogil
