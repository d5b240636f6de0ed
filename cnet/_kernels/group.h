/* The input layer for a mini-batch's examples together: its sums (forward), its
   weight update, and the update of one step followed by the next step's sums.

   wt's rows are taken in blocks (about CNET_GROUP_BYTES of a slice of columns):
   for each block, each example in turn adds the entries of its own that fall in
   the block, so that the block is read from L2 once per mini-batch rather than
   once per example -- and, fused, once for a step's update and the next step's
   sums.  Each z still adds its terms in order of p, and each weight gets its
   examples' terms in example order: the same bits as cnet_rows_forward (vec.h)
   called for one example after another, and as updating for one after another. */
#ifndef CNET_GROUP_H
#define CNET_GROUP_H

#include "vec.h"

/* At most CNET_GROUP_MAX examples at a time, and the rows of wt in blocks of
   CNET_GROUP_ROWS(K) for a slice of K vectors (of W reals: vec.h) of columns.
   A slice holds K ≤ CNET_SLICE_MAX vectors in registers (of z or of δ; with the
   row's vector, the input's broadcast and their product, the 16 of AVX2), and a
   layer's columns are cut into as few slices as that allows, of about equal size
   (26 vectors, [784, 100, ...] in float64 with AVX2: 13 and 13), each slice one
   pass over the examples' entries: fewer passes, less work per entry */
#define CNET_GROUP_MAX 32
#define CNET_SLICE_MAX 13
#ifndef CNET_GROUP_BYTES
#define CNET_GROUP_BYTES 49152
#endif
#define CNET_GROUP_ROWS(K) ((Py_ssize_t) (CNET_GROUP_BYTES / ((K) * CNET_W * sizeof(cnet_real))))

/* The examples of a group: example k's entries are cur[k] ≤ p < end[k] (index[p]
   increasing); cur[k] moves on as its entries are used */
typedef struct {
    Py_ssize_t m, cur[CNET_GROUP_MAX], end[CNET_GROUP_MAX];
} cnet_group;

/* the group of the examples batch[0 … m) (m ≤ CNET_GROUP_MAX), entries start[e] ≤ p < start[e + 1] */
static void cnet_group_of(cnet_group *g, const Py_ssize_t *start, const Py_ssize_t *batch, Py_ssize_t m)
{
    Py_ssize_t k;
    g->m = m;
    for (k = 0; k < m; k++) {
        g->cur[k] = start[batch[k]];
        g->end[k] = start[batch[k] + 1];
    }
}

#if defined(__GNUC__)
/* The sums over one block of rows (those below r1, from each example's cur on):
   z_k[j] += value[p] · wt[index[p]·s + j] for jb ≤ j < jb + K·W (K ≤ CNET_SLICE_MAX), z_k = z + k·zs,
   each example's K vectors of z_k in registers while it adds its entries, in order */
CNET_INLINE void cnet_forward_block(int K, Py_ssize_t jb, const cnet_real *wt, Py_ssize_t s,
                                    Py_ssize_t r1, const int *index, const cnet_real *value,
                                    cnet_group *g, cnet_real *z, Py_ssize_t zs)
{
    Py_ssize_t k, p, end;
    cnet_wvec acc[CNET_SLICE_MAX], w;
    cnet_real *zk;
    int i;
    for (k = 0; k < g->m; k++) {
        p = g->cur[k];
        end = g->end[k];
        if (p == end || index[p] >= r1) continue;
        zk = z + k * zs + jb;
        for (i = 0; i < K; i++) CNET_WLOAD(acc[i], zk + i * CNET_W);
        for (; p < end && index[p] < r1; p++) {
            const cnet_real *r = wt + (Py_ssize_t) index[p] * s + jb;
            cnet_real x = value[p];
            for (i = 0; i < K; i++) { CNET_WLOAD(w, r + i * CNET_W); acc[i] += x * w; }
        }
        for (i = 0; i < K; i++) CNET_WSTORE(zk + i * CNET_W, acc[i]);
        g->cur[k] = p;
    }
}

/* The updates over one block of rows, the examples in order:
   wt[index[p]·s + j] += (−c · value[p]) · d_k[j] for jb ≤ j < jb + K·W (K ≤ CNET_SLICE_MAX),
   d_k = d + k·ds,
   d_k's K vectors in registers */
CNET_INLINE void cnet_update_block(int K, Py_ssize_t jb, cnet_real *wt, Py_ssize_t s,
                                   Py_ssize_t r1, const int *index, const cnet_real *value,
                                   cnet_group *g, cnet_real c, const cnet_real *d, Py_ssize_t ds)
{
    Py_ssize_t k, p, end;
    cnet_wvec dv[CNET_SLICE_MAX], w;
    int i;
    for (k = 0; k < g->m; k++) {
        p = g->cur[k];
        end = g->end[k];
        if (p == end || index[p] >= r1) continue;
        for (i = 0; i < K; i++) CNET_WLOAD(dv[i], d + k * ds + jb + i * CNET_W);
        for (; p < end && index[p] < r1; p++) {
            cnet_real *r = wt + (Py_ssize_t) index[p] * s + jb;
            cnet_real a = -(c * value[p]);
            for (i = 0; i < K; i++) {
                CNET_WLOAD(w, r + i * CNET_W);
                w += a * dv[i];
                CNET_WSTORE(r + i * CNET_W, w);
            }
        }
        g->cur[k] = p;
    }
}

/* One slice of columns, block after block of R rows: the update of group u (if any:
   u->m > 0), then the sums of group f (if any) -- the update of a block done before
   any of the next step's sums read it */
CNET_INLINE void cnet_group_slice(int K, Py_ssize_t jb, cnet_real *wt, Py_ssize_t s, Py_ssize_t rows,
                                  Py_ssize_t R, const int *index, const cnet_real *value,
                                  cnet_group u, cnet_real c, const cnet_real *d, Py_ssize_t ds,
                                  cnet_group f, cnet_real *z, Py_ssize_t zs)
{
    Py_ssize_t r1;
    for (r1 = R; r1 - R < rows; r1 += R) {
        if (u.m > 0) cnet_update_block(K, jb, wt, s, r1, index, value, &u, c, d, ds);
        if (f.m > 0) cnet_forward_block(K, jb, wt, s, r1, index, value, &f, z, zs);
    }
}

/* cnet_group_slice for a K known only at run time (1 ≤ K ≤ CNET_SLICE_MAX): each K's
   loops compiled apart, unrolled */
static void cnet_group_slice_k(int K, Py_ssize_t jb, cnet_real *wt, Py_ssize_t s, Py_ssize_t rows,
                               const int *index, const cnet_real *value, cnet_group u, cnet_real c,
                               const cnet_real *d, Py_ssize_t ds, cnet_group f, cnet_real *z, Py_ssize_t zs)
{
#define CNET_SLICE_CASE(k) case k: cnet_group_slice(k, jb, wt, s, rows, CNET_GROUP_ROWS(k), index, value, \
                                                    u, c, d, ds, f, z, zs); break;
    switch (K) {
    CNET_SLICE_CASE(1) CNET_SLICE_CASE(2) CNET_SLICE_CASE(3) CNET_SLICE_CASE(4)
    CNET_SLICE_CASE(5) CNET_SLICE_CASE(6) CNET_SLICE_CASE(7) CNET_SLICE_CASE(8)
    CNET_SLICE_CASE(9) CNET_SLICE_CASE(10) CNET_SLICE_CASE(11) CNET_SLICE_CASE(12) CNET_SLICE_CASE(13)
    }
#undef CNET_SLICE_CASE
}
#endif

/* The grouped step and sums: for the n_update examples ubatch[k] (k = 0, 1, … in order)
     wt[index[p]·s + j] += (−c · value[p]) · d_k[j],  j < n,  d_k = d + k·ds
   then, for the n_sums examples e_k = fbatch[k],
     z_k[j] = b[j] + Σ_{start[e_k] ≤ p < start[e_k + 1]} value[p] · wt[index[p]·s + j],  z_k = z + k·zs
   (rows index[p] < `rows`, increasing; n_update, n_sums ≤ CNET_GROUP_MAX; either may be 0) -- a
   block of rows at a time, updated, then read by the sums.  The same bits as the
   update for each of the first examples in turn, then cnet_rows_forward for each
   of the others. */
static void cnet_rows_step_sums(cnet_real *wt, Py_ssize_t s, Py_ssize_t n, Py_ssize_t rows,
                                const int *index, const cnet_real *value, const Py_ssize_t *start,
                                const Py_ssize_t *ubatch, Py_ssize_t n_update, cnet_real c,
                                const cnet_real *d, Py_ssize_t ds, const cnet_real *b,
                                const Py_ssize_t *fbatch, Py_ssize_t n_sums, cnet_real *z, Py_ssize_t zs)
{
    cnet_group u, f;
    Py_ssize_t jb = 0, j, k, p;
    cnet_group_of(&u, start, ubatch, n_update);
    cnet_group_of(&f, start, fbatch, n_sums);
    for (k = 0; k < n_sums; k++)
        for (j = 0; j < n; j++) z[k * zs + j] = b[j];
#if defined(__GNUC__)
    {
        /* the nv vectors of columns in `slices` slices of `width` vectors: the first
           nv % slices of them one vector wider */
        Py_ssize_t nv = n / CNET_W, slices = (nv + CNET_SLICE_MAX - 1) / CNET_SLICE_MAX, q, width;
        for (q = 0; q < slices; q++) {
            width = nv / slices + (q < nv % slices);
            cnet_group_slice_k((int) width, jb, wt, s, rows, index, value, u, c, d, ds, f, z, zs);
            jb += width * CNET_W;
        }
    }
#endif
    for (; jb < n; jb++) {
        for (k = 0; k < n_update; k++)
            for (p = u.cur[k]; p < u.end[k]; p++)
                wt[(Py_ssize_t) index[p] * s + jb] += -(c * value[p]) * d[k * ds + jb];
        for (k = 0; k < n_sums; k++)
            for (p = f.cur[k]; p < f.end[k]; p++)
                z[k * zs + jb] += value[p] * wt[(Py_ssize_t) index[p] * s + jb];
    }
}

/* The grouped forward pass: for the m examples e_k = batch[k] (any m),
     z_k[j] = b[j] + Σ_{start[e_k] ≤ p < start[e_k + 1]} value[p] · wt[index[p]·s + j],  j < n,
   into z_k = z + k·zs, CNET_GROUP_MAX examples at a time sharing the rows */
static void cnet_rows_forward_group(const cnet_real *b, const cnet_real *wt, Py_ssize_t s,
                                    Py_ssize_t n, Py_ssize_t rows, const int *index,
                                    const cnet_real *value, const Py_ssize_t *start,
                                    const Py_ssize_t *batch, Py_ssize_t m, cnet_real *z, Py_ssize_t zs)
{
    Py_ssize_t k0, g;
    for (k0 = 0; k0 < m; k0 += g) {
        g = m - k0 < CNET_GROUP_MAX ? m - k0 : CNET_GROUP_MAX;
        /* no update: wt is only read */
        cnet_rows_step_sums((cnet_real *) wt, s, n, rows, index, value, start, NULL, 0, 0, NULL, 0,
                            b, batch + k0, g, z + k0 * zs, zs);
    }
}

/* The grouped update: for the m examples e_k = batch[k] (any m), k = 0, 1, … in order,
     wt[index[p]·s + j] += (−c · value[p]) · d_k[j],  j < n,  d_k = d + k·ds,
   CNET_GROUP_MAX examples at a time sharing the rows */
static void cnet_rows_update_group(cnet_real *wt, Py_ssize_t s, Py_ssize_t n, Py_ssize_t rows,
                                   const int *index, const cnet_real *value, const Py_ssize_t *start,
                                   const Py_ssize_t *batch, Py_ssize_t m, cnet_real c,
                                   const cnet_real *d, Py_ssize_t ds)
{
    Py_ssize_t k0, g;
    for (k0 = 0; k0 < m; k0 += g) {
        g = m - k0 < CNET_GROUP_MAX ? m - k0 : CNET_GROUP_MAX;
        cnet_rows_step_sums(wt, s, n, rows, index, value, start, batch + k0, g, c, d + k0 * ds, ds,
                            NULL, NULL, 0, NULL, 0);
    }
}

#endif
