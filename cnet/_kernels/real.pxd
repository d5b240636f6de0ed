# The precision of the compiled kernels (real.h): real_t is the C type cnet_real,
# double or float as the extension's CNET_PRECISION define says (setup.py).
# Cython generates the same C for either declaration, so it is declared once, as
# double; the module's DTYPE says which it is.
cdef extern from "real.h":
    ctypedef double real_t "cnet_real"
    real_t real_exp "cnet_exp" (real_t x) noexcept nogil
    real_t real_tanh "cnet_tanh" (real_t x) noexcept nogil
    # the width of a stored layer is a whole number of BLOCKs (two vectors: 64 bytes)
    const Py_ssize_t BLOCK "CNET_BLOCK"
