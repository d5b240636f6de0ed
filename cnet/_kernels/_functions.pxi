# The costs and the activations the loops compute: a new cost gets a number here,
# a line in compiled_costs, and its two formulas in cost_value and output_error;
# a new activation, a number, its name in ACTIVATION_IDS, and its function and
# derivative in activate and derivative.
from libc.float cimport DBL_MAX, DBL_MIN
from libc.math cimport log, isnan, isinf

from cnet._kernels.real cimport real_t, real_exp, real_tanh
from cnet._kernels.vexp cimport cnet_vexp_init, cnet_sigmoids, cnet_exps_from


cdef enum:
    QUADRATIC = 0
    CROSS_ENTROPY = 1
    LOG_LIKELIHOOD = 2


# The activations (of a layer's outputs: Layer.activation, _params.pxi)
cdef enum:
    SIGMOID = 0
    TANH = 1
    RELU = 2
    SOFTMAX = 3     # the output layer only


ACTIVATION_IDS = {"sigmoid": SIGMOID, "tanh": TANH, "relu": RELU}
OUTPUT_IDS = {"sigmoid": SIGMOID, "softmax": SOFTMAX}

cdef bint VEXP = cnet_vexp_init()


def vexp_enabled():
    """True when these kernels compute σ's exponentials four at a time (vexp.h): a
    double-precision AVX2 build whose libm's exp cnet_exp4 reproduces bit for bit."""
    return bool(VEXP)


cdef tuple compiled_costs():
    # the cost classes these kernels compute, the number the loops know each by, and
    # the output layer each needs
    from cnet.functions import CrossEntropyCost, LogLikelihoodCost, QuadraticCost
    return ((QuadraticCost, QUADRATIC, SIGMOID), (CrossEntropyCost, CROSS_ENTROPY, SIGMOID),
            (LogLikelihoodCost, LOG_LIKELIHOOD, SOFTMAX))


cdef int cost_id(cost, int output) except -1:
    # the cost's number, checked to go with the output layer (output_error reads σ' or
    # the softmax from a, which holds only for the activation the cost is made for)
    for known, number, needs in compiled_costs():
        if cost is known:
            if needs != output:
                raise ValueError(f"the compiled kernels compute {known.__name__} with a "
                                 f"{'softmax' if needs == SOFTMAX else 'sigmoid'} output layer only")
            return number
    raise TypeError(f"the compiled kernels have no cost {cost!r}")


cdef inline real_t sigmoid_of(real_t e) noexcept nogil:
    # σ(z) = 1 / (1 + e) given e = e^{−z}, the denominator rounded to real_t first (float32's bits)
    cdef real_t denominator = 1 + e
    return 1 / denominator


cdef inline real_t sigmoid(real_t z) noexcept nogil:
    # σ(z) = 1 / (1 + e^{−z})
    return sigmoid_of(real_exp(-z))


cdef double SKIP_GAP = 2.0 ** -10     # see sigmoid_argmax


cdef Py_ssize_t sigmoid_argmax(const real_t *z, Py_ssize_t n) noexcept nogil:
    # argmax_j σ(z_j), the first maximum, as the loop over a_j = sigmoid(z_j) finds it
    # (best = 0; best = j whenever a_j > a_best), computing σ(z_j) only for the j that
    # can be it.  With m = z_top the first maximum of z and g = min(e^{−m}, 1), σ(z_j) is
    # not computed when (m − z_j) g > SKIP_GAP (and −20 ≤ m ≤ 20): then computed
    # σ(z_j) < computed σ(m), so j is neither the maximum nor tied with it.  Proof:
    # ln σ(m) − ln σ(z_j) = ∫_{z_j}^{m} σ(−t) dt ≥ (m − z_j) σ(−m) ≥ (m − z_j) min(e^{−m}, 1) / 2,
    # more than SKIP_GAP / 2.01 = 2^−11 / 1.005 with g and the product's rounding; each
    # computed σ is within a relative 2^−13 of the exact one when exp is (any libm's
    # is, by far: glibc's is within one ulp, 2^−52 or 2^−23), plus, for a σ(z_j) below
    # the smallest normal number, an absolute error far below σ(m) ≥ σ(−20) ≈ 2·10^−9.
    # (m ≤ 20 keeps e^{−m} normal, so g's own error is as small.)  A NaN in z, or an
    # infinite m, skips nothing (the comparisons are false), and the loop below is the
    # original's over the rest: a_j > a_best (a NaN never wins), or a tie at a smaller j.
    cdef Py_ssize_t j, top = 0, best
    cdef real_t m, a, a_best, e
    cdef double g
    for j in range(1, n):
        if z[j] > z[top]:
            top = j
    m = z[top]
    e = real_exp(-m)
    a_best = sigmoid_of(e)
    best = top
    g = e if e < 1 else 1.0
    if not (-20 <= m <= 20):
        g = 0.0         # skip nothing
    for j in range(n):
        if j == top or (<double> m - <double> z[j]) * g > SKIP_GAP:
            continue
        a = sigmoid(z[j])
        if a > a_best or (a == a_best and j < best):
            best = j
            a_best = a
    return best


cdef inline double sigmoid_prime(real_t a) noexcept nogil:
    # σ'(z) = σ(z)(1 − σ(z)) = a(1 − a), from a = σ(z); returned in double, so that
    # float32 rounds only the product it is used in
    return a * (1 - a)


cdef inline void activate(real_t *a, Py_ssize_t n, int activation) noexcept nogil:
    # a_j ← f(z_j) for the n weighted inputs z in a: σ(z), tanh(z), max(0, z), or the
    # softmax e^{z_j − m} / Σ_k e^{z_k − m} (m = max_k z_k: no exponential overflows,
    # the sum is at least 1; summed in double)
    cdef Py_ssize_t j
    cdef real_t m
    cdef double total = 0.0
    if activation == SIGMOID:
        cnet_sigmoids(a, n)                 # a[j] = sigmoid(a[j]), four at a time
    elif activation == TANH:
        for j in range(n):
            a[j] = real_tanh(a[j])
    elif activation == RELU:
        for j in range(n):
            a[j] = a[j] if a[j] > 0 else 0
    else:
        m = a[0]
        for j in range(1, n):
            if a[j] > m:
                m = a[j]
        cnet_exps_from(a, n, m)             # a[j] = real_exp(a[j] - m), four at a time
        for j in range(n):
            total += a[j]
        for j in range(n):
            a[j] = <real_t> (a[j] / total)


cdef inline double derivative(real_t a, int activation) noexcept nogil:
    # f'(z) from a = f(z), in double: σ' = a(1 − a), tanh' = 1 − a², max(0, ·)' = [a > 0]
    if activation == SIGMOID:
        return sigmoid_prime(a)
    if activation == TANH:
        return 1 - a * a
    return 1.0 if a > 0 else 0.0


cdef inline void output_error(const real_t *a, const double *y, Py_ssize_t n, int cost,
                              real_t *d) noexcept nogil:
    # δ_L = (a_L − y) ⊙ σ'(z_L) (quadratic), or a_L − y (cross-entropy with sigmoid,
    # log-likelihood with softmax)
    cdef Py_ssize_t i
    for i in range(n):
        d[i] = a[i] - <real_t> y[i]
        if cost == QUADRATIC:
            d[i] = d[i] * sigmoid_prime(a[i])


cdef inline double cost_value(const real_t *a, const double *y, Py_ssize_t n, int cost) noexcept nogil:
    # quadratic: ½‖a − y‖²;  cross-entropy: Σ_j nan_to_num(−y_j ln a_j − (1 − y_j) ln(1 − a_j));
    # log-likelihood: −Σ_j y_j ln max(a_j, DBL_MIN) (finite when a_y underflows to 0)
    cdef Py_ssize_t j
    cdef double s = 0.0, t
    for j in range(n):
        if cost == QUADRATIC:
            t = a[j] - y[j]
            s += t * t
        elif cost == LOG_LIKELIHOOD:
            if y[j] != 0:
                s += -y[j] * log(a[j] if a[j] > DBL_MIN else DBL_MIN)
        else:
            t = -y[j] * log(a[j]) - (1.0 - y[j]) * log(1.0 - a[j])
            if isnan(t):
                t = 0.0
            elif isinf(t):
                t = DBL_MAX if t > 0 else -DBL_MAX
            s += t
    return 0.5 * s if cost == QUADRATIC else s
