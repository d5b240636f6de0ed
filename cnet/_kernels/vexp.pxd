# σ and the softmax's exponentials over a layer, four at a time where exp's bits allow (vexp.h)
from cnet._kernels.real cimport real_t

cdef extern from "vexp.h":
    int cnet_vexp_init() noexcept nogil
    void cnet_sigmoids(real_t *a, Py_ssize_t n) noexcept nogil
    void cnet_exps_from(real_t *a, Py_ssize_t n, real_t m) noexcept nogil
