# Precision for _kernels.pxi: float64 weights, activations and errors.
cdef extern from *:
    """
    #define CNET_REAL double
    #define CNET_EXP exp
    """
    ctypedef double real_t "CNET_REAL"
    real_t real_exp "CNET_EXP" (real_t x) nogil

cdef enum:
    BLOCK = 16   # four 4-double vectors

DTYPE = "float64"
