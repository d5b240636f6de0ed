# Packing one example's non-zero inputs (pack.h); see the comments there.
from cnet._kernels.real cimport real_t

cdef extern from "pack.h":
    const Py_ssize_t PACK_SLACK "CNET_PACK_SLACK"
    void cnet_pack_init() noexcept nogil
    Py_ssize_t cnet_pack_f32(const char *x, Py_ssize_t stride, Py_ssize_t n, int *index,
                             real_t *value, Py_ssize_t p, int *finite) noexcept nogil
    Py_ssize_t cnet_pack_f64(const char *x, Py_ssize_t stride, Py_ssize_t n, int *index,
                             real_t *value, Py_ssize_t p, int *finite) noexcept nogil
    void cnet_advise_huge(void *p, size_t n) noexcept nogil
