/* The vector loops of the compiled kernels: one layer's weighted sums over its
   inputs (forward), a dense layer's weight update over a mini-batch, and a
   matrix's rows dotted with a vector (backward).

   They are written with GCC's vector extensions: the forward keeps a slice of
   8·W neurons of z in eight W-wide registers while it runs over the inputs (an
   example's non-zero pixels, index[p] being the pixel, or all of a hidden layer's
   activations: index NULL, input p), and the update a slice of one row of
   weights while the mini-batch's terms go in.  (The input layer, a mini-batch's
   examples together: group.h.)  Plain loops for compilers without the
   extensions.  All compute exactly what the comments say, in the same order, so
   results do not depend on which is compiled. */
#ifndef CNET_VEC_H
#define CNET_VEC_H

#include "real.h"
#if defined(__GNUC__) && defined(__AVX__)
#include <immintrin.h>
#endif

#if defined(__GNUC__)
#define CNET_INLINE static inline __attribute__((always_inline))
#else
#define CNET_INLINE static inline
#endif

/* the row of wt that input p multiplies */
CNET_INLINE Py_ssize_t cnet_row(const int *index, Py_ssize_t p)
{
    return index ? (Py_ssize_t) index[p] : p;
}

#if defined(__GNUC__)
typedef cnet_real cnet_vec __attribute__((vector_size(32)));

/* The input layer's loops (forward and update slices, here and in group.h) take
   vectors of W reals: V, or 2V in the AVX-512 build (CNET_WIDE), where a slice of
   up to 8 of them covers twice the columns, so a layer is fewer passes over each
   example's pixels.  Each column's arithmetic is the same at any width: the same
   bits.  The other loops, and the dot product's V partial sums, keep V. */
#if defined(CNET_WIDE) && defined(__AVX512F__)
#define CNET_W (2 * CNET_V)
#else
#define CNET_W CNET_V
#endif
typedef cnet_real cnet_wvec __attribute__((vector_size(CNET_W * sizeof(cnet_real))));
/* the same, at any address of a real: what the loads and stores below go through (a
   plain vector access, which the compiler keeps in a register; a memcpy of several
   vectors in a row may become one block copy through memory) */
typedef cnet_real cnet_wvec_at __attribute__((vector_size(CNET_W * sizeof(cnet_real)),
                                              aligned(sizeof(cnet_real)), may_alias));
typedef cnet_real cnet_vec_at __attribute__((vector_size(32), aligned(sizeof(cnet_real)), may_alias));
/* v = the W reals at p / the W reals at p = v (any alignment) */
#define CNET_WLOAD(v, p) ((v) = *(const cnet_wvec_at *) (p))
#define CNET_WSTORE(p, v) (*(cnet_wvec_at *) (p) = (v))

/* *v = the V reals at p (any alignment) */
CNET_INLINE void cnet_load(cnet_vec *v, const cnet_real *p)
{
    *v = *(const cnet_vec_at *) p;
}

/* the V reals at p = *v */
CNET_INLINE void cnet_store(cnet_real *p, const cnet_vec *v)
{
    *(cnet_vec_at *) p = *v;
}

/* z[j] = b[j] + Σ_{p0 ≤ p < p1} value[p] · wt[row(p)·s + j] for jb ≤ j < jb + K·W
   (K ≤ 8), the K vectors of z held in registers: acc_k += x · wt_row[jb + k·V …];
   ahead > 0 (index given): asking for entry p + ahead's slice of its row while adding p's */
CNET_INLINE void cnet_forward_slice(int K, Py_ssize_t jb, const cnet_real *b, const cnet_real *wt,
                                    Py_ssize_t s, const int *index, const cnet_real *value,
                                    Py_ssize_t p0, Py_ssize_t p1, cnet_real *z, Py_ssize_t ahead)
{
    cnet_wvec acc[8], w;
    Py_ssize_t p, o;
    int k;
    for (k = 0; k < K; k++) CNET_WLOAD(acc[k], b + jb + k * CNET_W);
    for (p = p0; p < p1; p++) {
        const cnet_real *r = wt + cnet_row(index, p) * s + jb;
        cnet_real x = value[p];
        for (o = 0; ahead > 0 && p + ahead < p1 && o < K * CNET_W; o += 64 / sizeof(cnet_real))
            __builtin_prefetch(wt + (Py_ssize_t) index[p + ahead] * s + jb + o, 0, 3);
        for (k = 0; k < K; k++) { CNET_WLOAD(w, r + k * CNET_W); acc[k] += x * w; }
    }
    for (k = 0; k < K; k++) CNET_WSTORE(z + jb + k * CNET_W, acc[k]);
}

/* wt[i·s + j] += (−c · a_k[i]) · d_k[j] for k = 0, 1, … m − 1 in order (a_k = a + k·as,
   d_k = d + k·ds), i0 ≤ i < i1, jb ≤ j < jb + K·W (K ≤ 8): each row's K vectors in
   registers while the m examples' terms go in */
CNET_INLINE void cnet_update_slice(int K, Py_ssize_t jb, cnet_real *wt, Py_ssize_t s,
                                   Py_ssize_t i0, Py_ssize_t i1, const cnet_real *a, Py_ssize_t as,
                                   Py_ssize_t m, cnet_real c, const cnet_real *d, Py_ssize_t ds)
{
    cnet_wvec w[8], dv;
    Py_ssize_t i, k;
    int q;
    for (i = i0; i < i1; i++) {
        cnet_real *r = wt + i * s + jb;
        for (q = 0; q < K; q++) CNET_WLOAD(w[q], r + q * CNET_W);
        for (k = 0; k < m; k++) {
            cnet_real x = -(c * a[k * as + i]);
            for (q = 0; q < K; q++) {
                CNET_WLOAD(dv, d + k * ds + jb + q * CNET_W);
                w[q] += x * dv;
            }
        }
        for (q = 0; q < K; q++) CNET_WSTORE(r + q * CNET_W, w[q]);
    }
}

#endif

/* z[j] = b[j] + Σ_{p0 ≤ p < p1} value[p] · wt[row(p)·s + j], for j < n; ahead: the rows
   of entry p + ahead are asked for while adding p's (0: not; see cnet_forward_slice) */
static void cnet_rows_forward(const cnet_real *b, const cnet_real *wt, Py_ssize_t s,
                              Py_ssize_t n, const int *index, const cnet_real *value,
                              Py_ssize_t p0, Py_ssize_t p1, cnet_real *z, Py_ssize_t ahead)
{
    Py_ssize_t jb = 0, p;
#if defined(__GNUC__)
    for (; jb + 8 * CNET_W <= n; jb += 8 * CNET_W)
        cnet_forward_slice(8, jb, b, wt, s, index, value, p0, p1, z, ahead);
    for (; jb + 4 * CNET_W <= n; jb += 4 * CNET_W)
        cnet_forward_slice(4, jb, b, wt, s, index, value, p0, p1, z, ahead);
    for (; jb + 2 * CNET_W <= n; jb += 2 * CNET_W)
        cnet_forward_slice(2, jb, b, wt, s, index, value, p0, p1, z, ahead);
    for (; jb + CNET_W <= n; jb += CNET_W)
        cnet_forward_slice(1, jb, b, wt, s, index, value, p0, p1, z, ahead);
#else
    (void) ahead;
#endif
    for (; jb < n; jb++) {
        z[jb] = b[jb];
        for (p = p0; p < p1; p++)
            z[jb] += value[p] * wt[cnet_row(index, p) * s + jb];
    }
}

/* A dense layer's step over m examples: wt[i·s + j] += (−c · a_k[i]) · d_k[j] for
   k = 0, 1, … m − 1 in order (a_k = a + k·as, d_k = d + k·ds), i0 ≤ i < i1, j < n -- row
   by row, so that each row is read and written once per mini-batch, not once per example */
static void cnet_rows_update(cnet_real *wt, Py_ssize_t s, Py_ssize_t n, Py_ssize_t i0, Py_ssize_t i1,
                             const cnet_real *a, Py_ssize_t as, Py_ssize_t m, cnet_real c,
                             const cnet_real *d, Py_ssize_t ds)
{
    Py_ssize_t jb = 0, i, k;
#if defined(__GNUC__)
    for (; jb + 8 * CNET_W <= n; jb += 8 * CNET_W)
        cnet_update_slice(8, jb, wt, s, i0, i1, a, as, m, c, d, ds);
    for (; jb + 4 * CNET_W <= n; jb += 4 * CNET_W)
        cnet_update_slice(4, jb, wt, s, i0, i1, a, as, m, c, d, ds);
    for (; jb + 2 * CNET_W <= n; jb += 2 * CNET_W)
        cnet_update_slice(2, jb, wt, s, i0, i1, a, as, m, c, d, ds);
    for (; jb + CNET_W <= n; jb += CNET_W)
        cnet_update_slice(1, jb, wt, s, i0, i1, a, as, m, c, d, ds);
#endif
    for (; jb < n; jb++)
        for (i = i0; i < i1; i++)
            for (k = 0; k < m; k++)
                wt[i * s + jb] += -(c * a[k * as + i]) * d[k * ds + jb];
}

/* out[k] = Σ_j u[k·stride + j] v[j] for k < K (K ≤ CNET_DOTS), n a multiple of V: each
   as V partial sums -- sum i over j ≡ i (mod V), so that the loop is not one long
   dependency chain -- added pairwise: (s0 + s1) + (s2 + s3) for V = 4; the K dots
   together, so that their chains interleave.  V-wide registers with GCC's vector
   extensions, arrays elsewhere: the same additions in the same order (with AVX, the
   pairwise sums of four rows at a time in vectors, cnet_sum4: the same again). */
#if defined(__AVX__)
#define CNET_DOTS 8
#else
#define CNET_DOTS 4     /* (16 registers of 16 bytes: more would spill) */
#endif
#if defined(__GNUC__) && defined(__AVX__)
/* out[k] = the sum of acc[k]'s lanes for k < 4, added pairwise as cnet_dot_rows does:
   (s0 + s1) + (s2 + s3) in float64, ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
   in float32 -- the four rows' sums transposed into one vector on the way (hadd) */
CNET_INLINE void cnet_sum4(const cnet_vec *acc, cnet_real *out)
{
#if CNET_PRECISION == 64
    __m256d ab = _mm256_hadd_pd((__m256d) acc[0], (__m256d) acc[1]);    /* a01 b01 a23 b23 */
    __m256d cd = _mm256_hadd_pd((__m256d) acc[2], (__m256d) acc[3]);    /* c01 d01 c23 d23 */
    _mm256_storeu_pd(out, _mm256_add_pd(_mm256_permute2f128_pd(ab, cd, 0x20),     /* a01 b01 c01 d01 */
                                        _mm256_permute2f128_pd(ab, cd, 0x31)));   /* a23 b23 c23 d23 */
#else
    __m256 ab = _mm256_hadd_ps((__m256) acc[0], (__m256) acc[1]);     /* a01 a23 b01 b23 a45 a67 b45 b67 */
    __m256 cd = _mm256_hadd_ps((__m256) acc[2], (__m256) acc[3]);
    __m256 abcd = _mm256_hadd_ps(ab, cd);           /* a0-3 b0-3 c0-3 d0-3 a4-7 b4-7 c4-7 d4-7 */
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
#endif
}
#endif

CNET_INLINE void cnet_dot_rows(int K, const cnet_real *u, Py_ssize_t stride, const cnet_real *v,
                               Py_ssize_t n, cnet_real *out)
{
    cnet_real r[CNET_DOTS][32 / sizeof(cnet_real)];
    Py_ssize_t j, w;
    int k, i;
#if defined(__GNUC__)
    cnet_vec acc[CNET_DOTS], a, b;
    for (k = 0; k < K; k++) acc[k] = (cnet_vec) {0};
    for (j = 0; j < n; j += CNET_V) {
        cnet_load(&b, v + j);
        for (k = 0; k < K; k++) {
            cnet_load(&a, u + k * stride + j);
            acc[k] += a * b;
        }
    }
#if defined(__AVX__)
    if (K % 4 == 0) {
        for (k = 0; k < K; k += 4) cnet_sum4(acc + k, out + k);
        return;
    }
#endif
    for (k = 0; k < K; k++) __builtin_memcpy(r[k], &acc[k], sizeof(r[k]));
#else
    for (k = 0; k < K; k++)
        for (i = 0; i < CNET_V; i++) r[k][i] = 0;
    for (j = 0; j < n; j += CNET_V)
        for (k = 0; k < K; k++)
            for (i = 0; i < CNET_V; i++) r[k][i] += u[k * stride + j + i] * v[j + i];
#endif
    for (k = 0; k < K; k++) {
        for (w = CNET_V / 2; w >= 1; w /= 2)
            for (i = 0; i < w; i++) r[k][i] = r[k][2 * i] + r[k][2 * i + 1];
        out[k] = r[k][0];
    }
}

/* out[i] = Σ_j u[i·stride + j] v[j] for i < rows (n a multiple of V): each row of a
   matrix dotted with v, as cnet_dot_rows, CNET_DOTS rows at a time, then 4, then 1 */
static void cnet_dots(const cnet_real *u, Py_ssize_t stride, Py_ssize_t rows, const cnet_real *v,
                      Py_ssize_t n, cnet_real *out)
{
    Py_ssize_t i = 0;
    for (; i + CNET_DOTS <= rows; i += CNET_DOTS)
        cnet_dot_rows(CNET_DOTS, u + i * stride, stride, v, n, out + i);
    for (; i + 4 <= rows; i += 4)
        cnet_dot_rows(4, u + i * stride, stride, v, n, out + i);
    for (; i < rows; i++)
        cnet_dot_rows(1, u + i * stride, stride, v, n, out + i);
}

/* sgn(x): 1, −1 or 0 */
CNET_INLINE cnet_real cnet_sign(cnet_real x)
{
    return (cnet_real) ((x > 0) - (x < 0));
}

/* L1 decay: w[i] −= r · sgn(w[i]), for i < n */
static void cnet_l1_decay(cnet_real *w, Py_ssize_t n, cnet_real r)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++)
        w[i] -= r * cnet_sign(w[i]);
}

/* Momentum, the passes over every weight of a step (the gradient's terms go into v
   in between, by the update):
     apply:   w[i] += v[i]                                   (w ← w + v, ending a step)
     prepare: v[i] = μ v[i] − r · w[i], or r · sgn(w[i]) (l1)  (v ← μv − η ∂(penalty)/∂w,
                                                               starting the next)
   for i < n, one pass doing either or both, in that order. */
static void cnet_momentum(cnet_real *w, cnet_real *v, Py_ssize_t n, cnet_real mu, cnet_real r,
                          int l1, int apply, int prepare)
{
    Py_ssize_t i;
    if (apply && prepare && !l1)
        for (i = 0; i < n; i++) { w[i] += v[i]; v[i] = mu * v[i] - r * w[i]; }
    else if (apply && prepare)
        for (i = 0; i < n; i++) { w[i] += v[i]; v[i] = mu * v[i] - r * cnet_sign(w[i]); }
    else if (apply)
        for (i = 0; i < n; i++) w[i] += v[i];
    else if (prepare && !l1)
        for (i = 0; i < n; i++) v[i] = mu * v[i] - r * w[i];
    else if (prepare)
        for (i = 0; i < n; i++) v[i] = mu * v[i] - r * cnet_sign(w[i]);
}

/* (w[i], v[i]) ← (a w[i] + b v[i], c w[i] + d v[i]), for i < n (a multiple of V):
   momentum's steps without a gradient, several at once (see catch_up in _momentum.pxi) */
static void cnet_momentum_map(cnet_real *w, cnet_real *v, Py_ssize_t n, const cnet_real *abcd)
{
    Py_ssize_t i;
    cnet_real a = abcd[0], b = abcd[1], c = abcd[2], d = abcd[3];
#if defined(__GNUC__)
    cnet_vec x, y, wn, vn;
    for (i = 0; i < n; i += CNET_V) {
        cnet_load(&x, w + i);
        cnet_load(&y, v + i);
        wn = a * x + b * y;
        vn = c * x + d * y;
        cnet_store(w + i, &wn);
        cnet_store(v + i, &vn);
    }
#else
    cnet_real x, y;
    for (i = 0; i < n; i++) {
        x = w[i];
        y = v[i];
        w[i] = a * x + b * y;
        v[i] = c * x + d * y;
    }
#endif
}

/* w[i] = w[i] + b · v[i], for i < n (a multiple of V): momentum without a penalty,
   steps without a gradient at once (see catch_up_scaled in _momentum.pxi) */
static void cnet_add_scaled(cnet_real *w, const cnet_real *v, Py_ssize_t n, cnet_real b)
{
    Py_ssize_t i;
#if defined(__GNUC__)
    cnet_vec x, y;
    for (i = 0; i < n; i += CNET_V) {
        cnet_load(&x, w + i);
        cnet_load(&y, v + i);
        x = x + b * y;
        cnet_store(w + i, &x);
    }
#else
    for (i = 0; i < n; i++)
        w[i] = w[i] + b * v[i];
#endif
}

/* Ask the cache for the line holding *p, ahead of a read */
static inline void cnet_prefetch(const void *p)
{
#if defined(__GNUC__)
    __builtin_prefetch(p, 0, 2);
#else
    (void) p;
#endif
}

#endif
