/* Packing one example: the non-zero entries of an input column, and their
   indices, appended to the compressed rows of _inputs.pxi.

   cnet_pack_f32 / cnet_pack_f64 read a column of n float32 / float64 values
   at x, `stride` bytes apart, and write each non-zero one (x_i ≠ 0, NaN
   included) as index[p] = i, value[p] = x_i (converted to cnet_real), in
   order of i; they return p past the last one, and set *finite to 0 if an
   x_i is NaN or infinite (and leave it alone otherwise).  The writes may run up to
   CNET_PACK_SLACK entries beyond it, so the buffers need that much room past
   p + n.  With AVX2, eight (four) values at a time: a mask of the non-zero
   lanes picks a permutation from a table that moves them to the front;
   elsewhere one value at a time, without a branch.  Both write exactly the
   same entries. */
#ifndef CNET_PACK_H
#define CNET_PACK_H

#include <stdint.h>
#include "real.h"
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define CNET_PACK_SLACK 8

#if defined(__AVX2__)
#include <immintrin.h>

/* perm[m]: the lanes set in the 8-bit mask m, in order, then zeros; count[m]: how many */
static int cnet_pack_perm[256][8] __attribute__((aligned(32)));
static int cnet_pack_count[256];

static void cnet_pack_init(void)
{
    int m, k, c;
    for (m = 0; m < 256; m++) {
        c = 0;
        for (k = 0; k < 8; k++) {
            cnet_pack_perm[m][k] = 0;
            if (m & (1 << k)) cnet_pack_perm[m][c++] = k;
        }
        cnet_pack_count[m] = c;
    }
}

/* the eight float32 of v (its lanes listed in perm) stored as cnet_real at out */
static inline void cnet_pack_store(cnet_real *out, __m256 v)
{
#if CNET_PRECISION == 64
    _mm256_storeu_pd(out, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    _mm256_storeu_pd(out + 4, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
#else
    _mm256_storeu_ps(out, v);
#endif
}
#else
static void cnet_pack_init(void) {}
#endif

/* Entries i … n − 1 of x read as type T, one value at a time, without a branch:
   index[p] = i, value[p] = x_i, p past it when x_i ≠ 0; ok cleared when x_i is
   not finite (x_i − x_i is 0 for a finite x_i, NaN otherwise) */
#define CNET_PACK_ONE_AT_A_TIME(T)                          \
    for (; i < n; i++) {                                    \
        T v = *(const T *) (x + i * stride);                \
        index[p] = (int) i;                                 \
        value[p] = (cnet_real) v;                           \
        p += v != 0;                                        \
        ok &= v - v == 0;                                   \
    }

static Py_ssize_t cnet_pack_f32(const char *x, Py_ssize_t stride, Py_ssize_t n, int *index,
                                cnet_real *value, Py_ssize_t p, int *finite)
{
    Py_ssize_t i = 0;
    int ok = 1;
#if defined(__AVX2__)
    if (stride == (Py_ssize_t) sizeof(float)) {
        const float *f = (const float *) x;
        const __m256 zero = _mm256_setzero_ps();
        __m256 bad = zero;
        for (; i + 8 <= n; i += 8) {
            __m256 a = _mm256_loadu_ps(f + i);
            int m = _mm256_movemask_ps(_mm256_cmp_ps(a, zero, _CMP_NEQ_UQ));
            __m256i perm = _mm256_load_si256((const __m256i *) cnet_pack_perm[m]);
            _mm256_storeu_si256((__m256i *) (index + p),
                                _mm256_add_epi32(perm, _mm256_set1_epi32((int) i)));
            cnet_pack_store(value + p, _mm256_permutevar8x32_ps(a, perm));
            p += cnet_pack_count[m];
            /* a − a is 0 for a finite a, NaN otherwise */
            bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_sub_ps(a, a), zero, _CMP_NEQ_UQ));
        }
        ok = _mm256_movemask_ps(bad) == 0;
    }
#endif
    CNET_PACK_ONE_AT_A_TIME(float)
    if (!ok) *finite = 0;
    return p;
}

static Py_ssize_t cnet_pack_f64(const char *x, Py_ssize_t stride, Py_ssize_t n, int *index,
                                cnet_real *value, Py_ssize_t p, int *finite)
{
    Py_ssize_t i = 0;
    int ok = 1;
    CNET_PACK_ONE_AT_A_TIME(double)
    if (!ok) *finite = 0;
    return p;
}

/* Ask the system to back the n bytes at p with huge pages (Linux; a hint):
   packing writes a data set's entries into fresh memory, and on some systems
   faulting in 4 KB pages costs more than the packing itself (90 MB for MNIST's
   training set in float64: 0.09-0.17 s with 4 KB pages, 0.04 s with 2 MB ones,
   on a 2-core Xeon VM) */
static void cnet_advise_huge(void *p, size_t n)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t) 1 << 21;
    uintptr_t first = ((uintptr_t) p + huge - 1) & ~(huge - 1), end = ((uintptr_t) p + n) & ~(huge - 1);
    if (end > first) madvise((void *) first, end - first, MADV_HUGEPAGE);
#else
    (void) p;
    (void) n;
#endif
}

#endif
