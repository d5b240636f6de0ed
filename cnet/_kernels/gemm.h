/* The matrix products of chapter 6's kernels: C (+)= A·B over row-major arrays, and
   A·Bᵀ reading B's rows in place.  Every entry is one sum over k in order from +0 (or
   from C's entry), one multiply then one add per term (the kernels are compiled without
   fused multiply-adds), so an entry does not depend on how the loops are blocked, which
   vector width is compiled, or how the rows and columns are shared among threads. */
#ifndef CNET_GEMM_H
#define CNET_GEMM_H

#include <string.h>
#include "vec.h"

/* rows of C held in registers at once, and vectors of W reals per row: 4 × 4 with
   AVX-512's 32 registers, 4 × 2 with AVX's 16 */
#define CNET_MR 4
#if !defined(CNET_W)
#define CNET_W 1          /* no vector extensions: cnet_gemm's plain loops only */
#endif
#if defined(__AVX512F__)
#define CNET_NV 4
#else
#define CNET_NV 2
#endif

#if defined(__GNUC__)
/* C[r][n] (+)= Σ_{k < K} A[r·lda + k] · B[k·ldb + n], k in order, for R rows (R ≤ MR) and
   NV·W columns from C, the R × NV vectors of C held in registers: added to C where
   `load`, else from +0 (the same bits as adding to zeros) */
CNET_INLINE void cnet_gemm_tile(int R, int NV, int load, Py_ssize_t K, const cnet_real *A, Py_ssize_t lda,
                                const cnet_real *B, Py_ssize_t ldb, cnet_real *C, Py_ssize_t ldc)
{
    cnet_wvec acc[CNET_MR][CNET_NV], b[CNET_NV];
    Py_ssize_t k;
    int r, v;
    for (r = 0; r < R; r++)
        for (v = 0; v < NV; v++) {
            if (load) CNET_WLOAD(acc[r][v], C + r * ldc + v * CNET_W);
            else acc[r][v] = (cnet_wvec) {0};
        }
    for (k = 0; k < K; k++) {
        for (v = 0; v < NV; v++) CNET_WLOAD(b[v], B + k * ldb + v * CNET_W);
        for (r = 0; r < R; r++) {
            cnet_real a = A[r * lda + k];
            for (v = 0; v < NV; v++) acc[r][v] += a * b[v];
        }
    }
    for (r = 0; r < R; r++)
        for (v = 0; v < NV; v++) CNET_WSTORE(C + r * ldc + v * CNET_W, acc[r][v]);
}

/* cnet_gemm_tile over rows r0 ≤ r < r1, MR at a time, then the rows left over */
CNET_INLINE void cnet_gemm_rows(int NV, int load, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t K,
                                const cnet_real *A, Py_ssize_t lda, const cnet_real *B, Py_ssize_t ldb,
                                cnet_real *C, Py_ssize_t ldc)
{
    Py_ssize_t r = r0;
    for (; r + CNET_MR <= r1; r += CNET_MR)
        cnet_gemm_tile(CNET_MR, NV, load, K, A + r * lda, lda, B, ldb, C + r * ldc, ldc);
    switch (r1 - r) {
    case 3: cnet_gemm_tile(3, NV, load, K, A + r * lda, lda, B, ldb, C + r * ldc, ldc); break;
    case 2: cnet_gemm_tile(2, NV, load, K, A + r * lda, lda, B, ldb, C + r * ldc, ldc); break;
    case 1: cnet_gemm_tile(1, NV, load, K, A + r * lda, lda, B, ldb, C + r * ldc, ldc); break;
    default: break;
    }
}

/* the rows of K that cnet_gemm_tail's panel holds (16 KB at most), and its tiles' rows */
#define CNET_TAIL_K 256
#define CNET_TAIL_R 8

/* C[r][n] (+)= Σ_{k < K} A[r·lda + k] · panel[k·W + n], k in order, n < cols < W, for R
   rows (R ≤ TAIL_R), one vector of C per row in a register: its first `cols` lanes are
   loaded from C where `load` (else +0) and stored back, the other lanes left alone */
CNET_INLINE void cnet_gemm_tail_tile(int R, int load, Py_ssize_t cols, Py_ssize_t K, const cnet_real *A,
                                     Py_ssize_t lda, const cnet_real *panel, cnet_real *C, Py_ssize_t ldc)
{
    cnet_wvec acc[CNET_TAIL_R], b;
    cnet_real lanes[CNET_W];
    Py_ssize_t k;
    int r;
    for (r = 0; r < R; r++) {
        memset(lanes, 0, sizeof lanes);
        if (load) memcpy(lanes, C + r * ldc, cols * sizeof(cnet_real));
        CNET_WLOAD(acc[r], lanes);
    }
    for (k = 0; k < K; k++) {
        CNET_WLOAD(b, panel + k * CNET_W);
        for (r = 0; r < R; r++) acc[r] += A[r * lda + k] * b;
    }
    for (r = 0; r < R; r++) {
        CNET_WSTORE(lanes, acc[r]);
        memcpy(C + r * ldc, lanes, cols * sizeof(cnet_real));
    }
}

/* C[r][n] (+)= Σ_{k < K} A[r·lda + k] · B[k·ldb + n], k in order, for r0 ≤ r < r1 and the
   last cols < W columns: B's columns copied TAIL_K rows of K at a time into a panel of
   whole vectors (zeros in the other lanes), the tiles run over it, and the next rows of
   K added to what they stored */
static void cnet_gemm_tail(int load, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols, Py_ssize_t K,
                           const cnet_real *A, Py_ssize_t lda, const cnet_real *B, Py_ssize_t ldb,
                           cnet_real *C, Py_ssize_t ldc)
{
    cnet_real panel[CNET_TAIL_K * CNET_W];
    Py_ssize_t k0 = 0, k, kn, r, j;
    do {
        kn = K - k0 < CNET_TAIL_K ? K - k0 : CNET_TAIL_K;
        memset(panel, 0, kn * CNET_W * sizeof(cnet_real));
        for (k = 0; k < kn; k++)
            for (j = 0; j < cols; j++) panel[k * CNET_W + j] = B[(k0 + k) * ldb + j];
        for (r = r0; r < r1; r += CNET_TAIL_R) {
            const cnet_real *a = A + r * lda + k0;
            cnet_real *c = C + r * ldc;
            switch (r1 - r < CNET_TAIL_R ? r1 - r : CNET_TAIL_R) {
            case 8: cnet_gemm_tail_tile(8, load, cols, kn, a, lda, panel, c, ldc); break;
            case 7: cnet_gemm_tail_tile(7, load, cols, kn, a, lda, panel, c, ldc); break;
            case 6: cnet_gemm_tail_tile(6, load, cols, kn, a, lda, panel, c, ldc); break;
            case 5: cnet_gemm_tail_tile(5, load, cols, kn, a, lda, panel, c, ldc); break;
            case 4: cnet_gemm_tail_tile(4, load, cols, kn, a, lda, panel, c, ldc); break;
            case 3: cnet_gemm_tail_tile(3, load, cols, kn, a, lda, panel, c, ldc); break;
            case 2: cnet_gemm_tail_tile(2, load, cols, kn, a, lda, panel, c, ldc); break;
            default: cnet_gemm_tail_tile(1, load, cols, kn, a, lda, panel, c, ldc); break;
            }
        }
        load = 1;       /* the next rows of K add to the sums so far */
        k0 += kn;
    } while (k0 < K);
}
#endif

/* C[r][n] (+)= Σ_{k < K} A[r·lda + k] · B[k·ldb + n], k in order, for r0 ≤ r < r1, n < N:
   the columns NV·W at a time, then W at a time, then the last few as one padded vector
   (one by one without vector extensions); added to C where `load`, else from +0 */
CNET_INLINE void cnet_gemm_body(int load, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t N, Py_ssize_t K,
                                const cnet_real *A, Py_ssize_t lda, const cnet_real *B, Py_ssize_t ldb,
                                cnet_real *C, Py_ssize_t ldc)
{
    Py_ssize_t n = 0;
#if defined(__GNUC__)
    for (; n + CNET_NV * CNET_W <= N; n += CNET_NV * CNET_W)
        cnet_gemm_rows(CNET_NV, load, r0, r1, K, A, lda, B + n, ldb, C + n, ldc);
    for (; n + CNET_W <= N; n += CNET_W)
        cnet_gemm_rows(1, load, r0, r1, K, A, lda, B + n, ldb, C + n, ldc);
    if (n < N)
        cnet_gemm_tail(load, r0, r1, N - n, K, A, lda, B + n, ldb, C + n, ldc);
#else
    Py_ssize_t r, k;
    for (; n < N; n++)
        for (r = r0; r < r1; r++) {
            cnet_real acc = load ? C[r * ldc + n] : (cnet_real) 0;
            for (k = 0; k < K; k++) acc += A[r * lda + k] * B[k * ldb + n];
            C[r * ldc + n] = acc;
        }
#endif
}

/* C[r][n] += Σ_{k < K} A[r·lda + k] · B[k·ldb + n], k in order, for r0 ≤ r < r1, n < N */
static void cnet_gemm(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t N, Py_ssize_t K, const cnet_real *A,
                      Py_ssize_t lda, const cnet_real *B, Py_ssize_t ldb, cnet_real *C, Py_ssize_t ldc)
{
    cnet_gemm_body(1, r0, r1, N, K, A, lda, B, ldb, C, ldc);
}

/* C[r][n] = Σ_{k < K} A[r·lda + k] · B[k·ldb + n], the sum from +0 and k in order, for
   r0 ≤ r < r1, n < N: cnet_gemm over zeros, without writing the zeros first */
static void cnet_gemm_set(Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t N, Py_ssize_t K, const cnet_real *A,
                          Py_ssize_t lda, const cnet_real *B, Py_ssize_t ldb, cnet_real *C, Py_ssize_t ldc)
{
    cnet_gemm_body(0, r0, r1, N, K, A, lda, B, ldb, C, ldc);
}

/* the reals of scratch that cnet_gemm_nt takes for an M × N product over K */
static Py_ssize_t cnet_gemm_nt_scratch(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K)
{
    return M < CNET_W ? (K + N) * M : K * CNET_NV * CNET_W;
}

/* C[r][n] = Σ_{k < K} A[r·lda + k] · B[n·ldb + k], from +0 and k in order, r < M, n < N:
   A times the transpose of B (N × K), through `scratch` (cnet_gemm_nt_scratch reals).
   Fewer rows than a vector: the transpose Cᵀ = B·Aᵀ (each entry the same products in the
   same order) with Aᵀ and Cᵀ in the scratch, B's rows as its rows.  Else B's rows are
   copied NV·W at a time into the scratch as a panel's columns (K × NV·W), and
   cnet_gemm_set runs over the panel: the sums over a transposed copy of B, without
   writing that copy */
static void cnet_gemm_nt(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const cnet_real *A, Py_ssize_t lda,
                         const cnet_real *B, Py_ssize_t ldb, cnet_real *C, Py_ssize_t ldc,
                         cnet_real *scratch)
{
    Py_ssize_t n, n0, j, k, k0, k1, cols, width = CNET_NV * CNET_W;
    cnet_real *panel = scratch;
    if (M < CNET_W) {
        cnet_real *AT = scratch, *CT = scratch + K * M;
        for (j = 0; j < M; j++)
            for (k = 0; k < K; k++) AT[k * M + j] = A[j * lda + k];
        cnet_gemm_set(0, N, M, K, B, ldb, AT, M, CT, M);
        for (j = 0; j < M; j++)
            for (n = 0; n < N; n++) C[j * ldc + n] = CT[n * M + j];
        return;
    }
    for (n0 = 0; n0 < N; n0 += width) {
        cols = N - n0 < width ? N - n0 : width;
        /* panel[k][j] = B[n0 + j][k], 16 k at a time (the panel rows written stay in cache) */
        for (k0 = 0; k0 < K; k0 += 16) {
            k1 = K - k0 < 16 ? K : k0 + 16;
            for (j = 0; j < cols; j++) {
                const cnet_real *row = B + (n0 + j) * ldb;
                for (k = k0; k < k1; k++) panel[k * cols + j] = row[k];
            }
        }
        cnet_gemm_set(0, M, cols, K, A, lda, panel, cols, C + n0, ldc);
    }
}

#endif
