# Precision for _kernels.pxi: float32 weights, activations and errors.
cdef extern from *:
    """
    #define CNET_REAL float
    #define CNET_EXP expf
    """
    ctypedef float real_t "CNET_REAL"
    real_t real_exp "CNET_EXP" (real_t x) nogil

cdef enum:
    BLOCK = 32   # four 8-float vectors

DTYPE = "float32"
