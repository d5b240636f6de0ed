# The matrix products of chapter 6's kernels (gemm.h); see the comments there for what
# each computes.
from cnet._kernels.real cimport real_t

cdef extern from "gemm.h":
    # the reals in one vector of the loops
    const Py_ssize_t CNET_W
    # rows and vectors of CNET_W reals in cnet_gemm's register tiles
    const Py_ssize_t CNET_MR
    const Py_ssize_t CNET_NV
    void cnet_gemm(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t N, Py_ssize_t K, const real_t *A,
                   Py_ssize_t lda, const real_t *B, Py_ssize_t ldb, real_t *C, Py_ssize_t ldc) noexcept nogil
    void cnet_gemm_set(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t N, Py_ssize_t K, const real_t *A,
                       Py_ssize_t lda, const real_t *B, Py_ssize_t ldb, real_t *C, Py_ssize_t ldc) noexcept nogil
    void cnet_gemm_nt(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const real_t *A, Py_ssize_t lda,
                      const real_t *B, Py_ssize_t ldb, real_t *C, Py_ssize_t ldc, real_t *scratch) noexcept nogil
    Py_ssize_t cnet_gemm_nt_scratch(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K) noexcept nogil
