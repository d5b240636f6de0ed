# The costs and the activation the loops compute: a new cost gets a number here,
# a line in compiled_costs, and its two formulas in cost_value and output_error;
# a new activation, its function and its derivative.
from libc.float cimport DBL_MAX
from libc.math cimport log, isnan, isinf

from cnet._kernels.real cimport real_t, real_exp


cdef enum:
    QUADRATIC = 0
    CROSS_ENTROPY = 1


cdef tuple compiled_costs():
    # the cost classes these kernels compute, and the number the loops know each by
    from cnet.functions import CrossEntropyCost, QuadraticCost
    return ((QuadraticCost, QUADRATIC), (CrossEntropyCost, CROSS_ENTROPY))


cdef int cost_id(cost) except -1:
    for known, number in compiled_costs():
        if cost is known:
            return number
    raise TypeError(f"the compiled kernels have no cost {cost!r}")


cdef inline real_t sigmoid(real_t z) noexcept nogil:
    # σ(z) = 1 / (1 + e^{−z}), the denominator rounded to real_t first (float32's bits)
    cdef real_t denominator = 1 + real_exp(-z)
    return 1 / denominator


cdef inline double sigmoid_prime(real_t a) noexcept nogil:
    # σ'(z) = σ(z)(1 − σ(z)) = a(1 − a), from a = σ(z); returned in double, so that
    # float32 rounds only the product it is used in
    return a * (1 - a)


cdef inline void output_error(const real_t *a, const double *y, Py_ssize_t n, int cost,
                              real_t *d) noexcept nogil:
    # δ_L = (a_L − y) ⊙ σ'(z_L) (quadratic) or a_L − y (cross-entropy)
    cdef Py_ssize_t i
    for i in range(n):
        d[i] = a[i] - <real_t> y[i]
        if cost == QUADRATIC:
            d[i] = d[i] * sigmoid_prime(a[i])


cdef inline double cost_value(const real_t *a, const double *y, Py_ssize_t n, int cost) noexcept nogil:
    # quadratic: ½‖a − y‖²;  cross-entropy: Σ_j nan_to_num(−y_j ln a_j − (1 − y_j) ln(1 − a_j))
    cdef Py_ssize_t j
    cdef double s = 0.0, t
    for j in range(n):
        if cost == QUADRATIC:
            t = a[j] - y[j]
            s += t * t
        else:
            t = -y[j] * log(a[j]) - (1.0 - y[j]) * log(1.0 - a[j])
            if isnan(t):
                t = 0.0
            elif isinf(t):
                t = DBL_MAX if t > 0 else -DBL_MAX
            s += t
    return 0.5 * s if cost == QUADRATIC else s
