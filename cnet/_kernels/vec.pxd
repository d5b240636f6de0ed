# The vector loops (vec.h); see the comments there for what each computes.
from cnet._kernels.real cimport real_t

cdef extern from "vec.h":
    void cnet_rows_forward(const real_t *b, const real_t *wt, Py_ssize_t s, Py_ssize_t n,
                           const int *index, const real_t *value, Py_ssize_t p0, Py_ssize_t p1,
                           real_t *z, Py_ssize_t ahead) noexcept nogil
    void cnet_rows_update(real_t *wt, Py_ssize_t s, Py_ssize_t n, Py_ssize_t i0, Py_ssize_t i1,
                          const real_t *a, Py_ssize_t as_, Py_ssize_t m, real_t c,
                          const real_t *d, Py_ssize_t ds) noexcept nogil
    void cnet_l1_decay(real_t *w, Py_ssize_t n, real_t r) noexcept nogil
    void cnet_momentum(real_t *w, real_t *v, Py_ssize_t n, real_t mu, real_t r, int l1,
                       int apply, int prepare) noexcept nogil
    void cnet_momentum_map(real_t *w, real_t *v, Py_ssize_t n, const real_t *abcd) noexcept nogil
    void cnet_add_scaled(real_t *w, const real_t *v, Py_ssize_t n, real_t b) noexcept nogil
    void cnet_dots(const real_t *u, Py_ssize_t stride, Py_ssize_t rows, const real_t *v, Py_ssize_t n,
                   real_t *out) noexcept nogil
    void cnet_prefetch(const void *p) noexcept nogil
