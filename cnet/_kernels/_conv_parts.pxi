# The parts that chapter 6's kernel calls are cut into for the crew of threads
# (crew.h): part t of T takes a contiguous range of the examples, of a gradient's
# entries, or of a product's rows or columns, and writes only its own results;
# every sum runs over its terms in the same order whichever part computes it, so
# any number of parts gives one part's bits.  _conv.pxi fills a ConvJob, checked and
# with every array allocated; these run without the GIL and without checks.
from cnet._kernels.conv cimport (cnet_col2im_add, cnet_flip, cnet_im2col, cnet_im2row, cnet_maxpool,
                                 cnet_maxpool_grad, cnet_unflip)
from cnet._kernels.gemm cimport CNET_MR, CNET_NV, CNET_W, cnet_gemm, cnet_gemm_nt, cnet_gemm_nt_scratch, cnet_gemm_set
from cnet._kernels.crew cimport cnet_atomic_add, cnet_atomic_load, cnet_crew_run
from cnet._kernels.team cimport cnet_seconds
from libc.string cimport memset


# The scratch: each part flips the filters into its own, so that no thread writes what
# another has just read.
cdef struct ConvJob:
    const real_t *a         # the input maps (m × C × H × W) or pooled maps' input; a product's A
    const real_t *b         # the filters (F × C × h × w), or the pooled maps; a product's B
    const real_t *delta     # ∂C/∂out (m × F × Pw), or ∂C/∂pooled
    real_t *out             # what the parts write (each its own share, zeros first where it adds)
    real_t *scratch         # each part's own `stride` reals
    Py_ssize_t stride
    Py_ssize_t m, C, H, W, F, h, w, K, Kw, P, Pw, ph, pw
    bint transposed         # a product's B is the (N × K) array whose transpose is B


cdef inline Py_ssize_t _whole(Py_ssize_t n) noexcept nogil:
    # n rounded up to whole vectors of the loops (gemm.h's CNET_W reals): rows of that
    # stride go through cnet_gemm's vector tiles only
    return (n + CNET_W - 1) // CNET_W * CNET_W


cdef inline Py_ssize_t _cut(Py_ssize_t n, int t, int parts) noexcept nogil:
    # where part t of `parts` even ranges of 0 … n − 1 starts
    return n * t // parts


cdef inline Py_ssize_t _cut_by(Py_ssize_t n, Py_ssize_t unit, int t, int parts) noexcept nogil:
    # the same, in whole units of `unit` items (the last part takes the rest)
    return min(n, unit * _cut((n + unit - 1) // unit, t, parts))


cdef void _forward_part(void *job, int t, int parts) noexcept nogil:
    # out[n] = flipped · (the patches of example n as columns), for this part's examples
    # (scratch: the patches K × Pw, then the flipped filters F × K)
    cdef ConvJob *j = <ConvJob *> job
    cdef Py_ssize_t n, n0 = _cut(j.m, t, parts), n1 = _cut(j.m, t + 1, parts), maps = j.C * j.H * j.W
    cdef real_t *col = j.scratch + t * j.stride
    cdef real_t *flipped = col + j.K * j.Pw
    if n1 > n0:
        cnet_flip(j.b, j.F, j.C, j.h, j.w, 0, flipped)
    for n in range(n0, n1):
        cnet_im2col(j.a + n * maps, j.C, j.H, j.W, j.h, j.w, col, j.Pw)
        cnet_gemm_set(0, j.F, j.Pw, j.K, flipped, j.K, col, j.Pw, j.out + n * j.F * j.Pw, j.Pw)


cdef void _input_part(void *job, int t, int parts) noexcept nogil:
    # ∂C/∂x[n]: ∂C/∂col[k][p] = Σ_f flipped[f][k] · delta[n][f][p] (f in order), added back
    # onto example n's maps, for this part's examples (scratch: that K × Pw gradient, then
    # the flipped filters' transpose K × F)
    cdef ConvJob *j = <ConvJob *> job
    cdef Py_ssize_t n, n0 = _cut(j.m, t, parts), n1 = _cut(j.m, t + 1, parts), maps = j.C * j.H * j.W
    cdef real_t *dcol = j.scratch + t * j.stride
    cdef real_t *flippedT = dcol + j.K * j.Pw
    if n1 > n0:
        cnet_flip(j.b, j.F, j.C, j.h, j.w, 1, flippedT)
    memset(j.out + n0 * maps, 0, (n1 - n0) * maps * sizeof(real_t))
    for n in range(n0, n1):
        cnet_gemm_set(0, j.K, j.Pw, j.F, flippedT, j.F, j.delta + n * j.F * j.Pw, j.Pw, dcol, j.Pw)
        cnet_col2im_add(dcol, j.Pw, j.C, j.H, j.W, j.h, j.w, j.out + n * maps)


cdef void _filters_part(void *job, int t, int parts) noexcept nogil:
    # ∂C/∂flipped[f][k] = Σ_n Σ_p delta[n][f][p] · col_n[k][p] (n, then p, in order) for
    # this part's patch entries k0 ≤ k < k1 (whole runs of a filter row) of every filter,
    # then turned back into those entries of ∂C/∂filters, `out` (scratch: the entries of each
    # example's patches as rows, P × span, then the sums, F × span, span = k1 − k0 in whole
    # vectors: the columns past k1 hold whatever the scratch holds there, and reach only
    # the sums' columns that are never read)
    cdef ConvJob *j = <ConvJob *> job
    cdef Py_ssize_t n, maps = j.C * j.H * j.W, runs = j.C * j.h
    cdef Py_ssize_t k0 = _cut(runs, t, parts) * j.w, k1 = _cut(runs, t + 1, parts) * j.w
    cdef Py_ssize_t span = _whole(k1 - k0)
    cdef real_t *colT = j.scratch + t * j.stride
    cdef real_t *sums = colT + j.P * span
    if k1 == k0:
        return
    for n in range(j.m):
        cnet_im2row(j.a + n * maps, j.H, j.W, j.h, j.w, k0, k1, colT, span)
        if n == 0:
            cnet_gemm_set(0, j.F, span, j.P, j.delta, j.Pw, colT, span, sums, span)
        else:
            cnet_gemm(0, j.F, span, j.P, j.delta + n * j.F * j.Pw, j.Pw, colT, span, sums, span)
    cnet_unflip(sums, span, k0, k1, j.F, j.C, j.h, j.w, j.out)


cdef void _pool_part(void *job, int t, int parts) noexcept nogil:
    # each window's maximum, for this part's examples (a: m × F × H × W)
    cdef ConvJob *j = <ConvJob *> job
    cdef Py_ssize_t n, pooled = j.F * (j.H // j.ph) * (j.W // j.pw)
    for n in range(_cut(j.m, t, parts), _cut(j.m, t + 1, parts)):
        cnet_maxpool(j.a + n * j.F * j.H * j.W, j.F, j.H, j.W, j.ph, j.pw, j.out + n * pooled)


cdef void _pool_grad_part(void *job, int t, int parts) noexcept nogil:
    # ∂C/∂a from ∂C/∂pooled (delta) and the maxima (b), for this part's examples
    cdef ConvJob *j = <ConvJob *> job
    cdef Py_ssize_t n, maps = j.F * j.H * j.W, pooled = j.F * (j.H // j.ph) * (j.W // j.pw)
    for n in range(_cut(j.m, t, parts), _cut(j.m, t + 1, parts)):
        cnet_maxpool_grad(j.a + n * maps, j.b + n * pooled, j.delta + n * pooled, j.F, j.H, j.W,
                          j.ph, j.pw, j.out + n * maps)


cdef void _product_part(void *job, int t, int parts) noexcept nogil:
    # out = A · B (m × F, over K): this part's rows when m ≥ F, else its columns; with
    # `transposed`, B's rows are its columns, read through this part's scratch
    cdef ConvJob *j = <ConvJob *> job
    cdef Py_ssize_t M = j.m, N = j.F, K = j.K, r0 = 0, r1 = M, n0 = 0, n1 = N
    if M >= N:
        r0, r1 = _cut_by(M, CNET_MR, t, parts), _cut_by(M, CNET_MR, t + 1, parts)
    else:
        n0, n1 = _cut_by(N, CNET_NV * CNET_W, t, parts), _cut_by(N, CNET_NV * CNET_W, t + 1, parts)
    if r1 == r0 or n1 == n0:
        return
    if j.transposed:
        cnet_gemm_nt(r1 - r0, n1 - n0, K, j.a + r0 * K, K, j.b + n0 * K, K, j.out + r0 * N + n0, N,
                     j.scratch + t * j.stride)
    else:
        cnet_gemm_set(r0, r1, n1 - n0, K, j.a, K, j.b + n0, N, j.out + n0, N)


cdef struct Meeting:
    int arrived         # parts that have arrived
    int met             # parts that saw every part arrive in time
    double seconds      # how long a part waits for the others


cdef void _meet_part(void *job, int t, int parts) noexcept nogil:
    # arrive, then wait until all `parts` have arrived or the time is up
    cdef Meeting *meeting = <Meeting *> job
    cdef double until = cnet_seconds() + meeting.seconds
    cnet_atomic_add(&meeting.arrived, 1)
    while cnet_atomic_load(&meeting.arrived) < parts:
        if cnet_seconds() > until:
            return
    cnet_atomic_add(&meeting.met, 1)


def crew_meet(int parts, double seconds=10.0):
    """How many of a call's ``parts`` parts ran at the same time as all the others: each
    arrives and waits up to ``seconds`` for the rest.  ``parts`` on a crew of threads;
    1 (or 0) where the parts run one after another."""
    cdef Meeting meeting
    meeting.arrived, meeting.met, meeting.seconds = 0, 0, seconds
    with nogil:
        cnet_crew_run(_meet_part, &meeting, parts)
    return meeting.met
