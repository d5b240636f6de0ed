/* Chapter 6's loops: a convolutional layer as matrix products over each
   example's patches, max-pooling, and the counter-based dropout masks.

   Shapes as in the book's network3.py: an example's maps are C × H × W, the
   filters F × C × h × w; the valid convolution's output is F × OH × OW (OH =
   H − h + 1, OW = W − w + 1), P = OH · OW positions; K = C · h · w is a patch's
   length.  Theano's convolution flips the filter: with ``flipped`` the filters
   turned by 180° in each map (flipped[f][c][i][j] = filters[f][c][h−1−i][w−1−j]),
   out[f][p] = Σ_k flipped[f][k] · col[k][p], col the patches as columns.

   Every sum below runs over its terms in the order its comment gives, one
   multiply then one add each (the kernels are compiled without fused
   multiply-adds), so a result does not depend on how the loops are blocked,
   which vector width is compiled, or how the rows are shared among threads. */
#ifndef CNET_CONV_H
#define CNET_CONV_H

#include <stdint.h>
#include <string.h>
#include "vec.h"

/* to[x] = from[x], x < n: whole runs of 8 reals as fixed-size copies (the compiler's vector
   moves), then one by one */
CNET_INLINE void cnet_copy_run(cnet_real *to, const cnet_real *from, Py_ssize_t n)
{
    Py_ssize_t x = 0;
    for (; x + 8 <= n; x += 8) memcpy(to + x, from + x, 8 * sizeof(cnet_real));
    for (; x < n; x++) to[x] = from[x];
}

/* col[(c·h + i)·w + j][y·OW + x] = in[c][y + i][x + j] for maps OW = W − w + 1 wide */
CNET_INLINE void cnet_im2col_ow(const cnet_real *in, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                                Py_ssize_t h, Py_ssize_t w, Py_ssize_t OW, cnet_real *col, Py_ssize_t ld)
{
    Py_ssize_t OH = H - h + 1, c, i, j, y;
    for (c = 0; c < C; c++)
        for (i = 0; i < h; i++)
            for (j = 0; j < w; j++) {
                cnet_real *row = col + ((c * h + i) * w + j) * ld;
                for (y = 0; y < OH; y++) cnet_copy_run(row + y * OW, in + (c * H + y + i) * W + j, OW);
            }
}

/* col[(c·h + i)·w + j][y·OW + x] = in[c][y + i][x + j]: each patch a column (K × P, rows
   `ld` apart) */
static void cnet_im2col(const cnet_real *in, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t h, Py_ssize_t w, cnet_real *col, Py_ssize_t ld)
{
    Py_ssize_t OW = W - w + 1;
    if (OW == 8)            /* the book's maps (8 and 24 wide): the copies unrolled */
        cnet_im2col_ow(in, C, H, W, h, w, 8, col, ld);
    else if (OW == 24)
        cnet_im2col_ow(in, C, H, W, h, w, 24, col, ld);
    else
        cnet_im2col_ow(in, C, H, W, h, w, OW, col, ld);
}

/* colT[y·OW + x][k − k0] = in[c][y + i][x + j] for k = (c·h + i)·w + j, k0 ≤ k < k1, k0 and
   k1 whole runs of a filter row (multiples of w): those entries of each patch as its row
   (rows `ld` apart), a run at a time */
CNET_INLINE void cnet_im2row_w(const cnet_real *in, Py_ssize_t H, Py_ssize_t W, Py_ssize_t h, Py_ssize_t w,
                               Py_ssize_t k0, Py_ssize_t k1, cnet_real *colT, Py_ssize_t ld)
{
    Py_ssize_t OH = H - h + 1, OW = W - w + 1, y, x, r, c, i;
    Py_ssize_t r0 = k0 / w, r1 = k1 / w, c0 = r0 / h, i0 = r0 - c0 * h;    /* runs; k0's map and row */
    for (y = 0; y < OH; y++)
        for (x = 0; x < OW; x++) {
            cnet_real *row = colT + (y * OW + x) * ld;
            const cnet_real *at = in + y * W + x;
            for (r = r0, c = c0, i = i0; r < r1; r++, row += w) {
                memcpy(row, at + (c * H + i) * W, w * sizeof(cnet_real));
                if (++i == h) {
                    i = 0;
                    c++;
                }
            }
        }
}

static void cnet_im2row(const cnet_real *in, Py_ssize_t H, Py_ssize_t W, Py_ssize_t h, Py_ssize_t w,
                        Py_ssize_t k0, Py_ssize_t k1, cnet_real *colT, Py_ssize_t ld)
{
    if (w == 5)         /* the book's filters: each copy of 5 reals inlined */
        cnet_im2row_w(in, H, W, h, 5, k0, k1, colT, ld);
    else
        cnet_im2row_w(in, H, W, h, w, k0, k1, colT, ld);
}

/* in[c][y + i][x + j] += dcol[(c·h + i)·w + j][y·OW + x] for maps OW = W − w + 1 wide */
CNET_INLINE void cnet_col2im_add_ow(const cnet_real *dcol, Py_ssize_t ld, Py_ssize_t C, Py_ssize_t H,
                                    Py_ssize_t W, Py_ssize_t h, Py_ssize_t w, Py_ssize_t OW, cnet_real *in)
{
    Py_ssize_t OH = H - h + 1, c, i, j, y, x;
    for (c = 0; c < C; c++)
        for (i = 0; i < h; i++)
            for (j = 0; j < w; j++) {
                const cnet_real *row = dcol + ((c * h + i) * w + j) * ld;
                for (y = 0; y < OH; y++) {
                    cnet_real *to = in + (c * H + y + i) * W + j;
                    const cnet_real *from = row + y * OW;
                    for (x = 0; x < OW; x++) to[x] += from[x];
                }
            }
}

/* in[c][y + i][x + j] += dcol[(c·h + i)·w + j][y·OW + x], for c, i, j, y, x in that
   order: a gradient with respect to the patches (K × P, rows `ld` apart) added back
   onto the maps */
static void cnet_col2im_add(const cnet_real *dcol, Py_ssize_t ld, Py_ssize_t C, Py_ssize_t H,
                            Py_ssize_t W, Py_ssize_t h, Py_ssize_t w, cnet_real *in)
{
    Py_ssize_t OW = W - w + 1;
    if (OW == 8)            /* the book's maps (8 and 24 wide): the loop over x unrolled */
        cnet_col2im_add_ow(dcol, ld, C, H, W, h, w, 8, in);
    else if (OW == 24)
        cnet_col2im_add_ow(dcol, ld, C, H, W, h, w, 24, in);
    else
        cnet_col2im_add_ow(dcol, ld, C, H, W, h, w, OW, in);
}

/* the filters (F × C × h × w) turned by 180° in each map: flipped[f][k] (F × K, K = C·h·w)
   = filters[f][c][h−1−i][w−1−j] for k = (c·h + i)·w + j, or with `transposed` its
   transpose (K × F) */
static void cnet_flip(const cnet_real *filters, Py_ssize_t F, Py_ssize_t C, Py_ssize_t h, Py_ssize_t w,
                      int transposed, cnet_real *flipped)
{
    Py_ssize_t K = C * h * w, f, c, k, hw = h * w;
    for (f = 0; f < F; f++)
        for (c = 0; c < C; c++) {
            const cnet_real *from = filters + (f * C + c) * hw + hw - 1;   /* its last entry */
            for (k = 0; k < hw; k++) {
                if (transposed) flipped[(c * hw + k) * F + f] = from[-k];
                else flipped[f * K + c * hw + k] = from[-k];
            }
        }
}

/* grad[f][c][h−1−i][w−1−j] = sums[f][k − k0] for k = (c·h + i)·w + j, k0 ≤ k < k1, f < F:
   those entries of the filters' gradient from the gradient of their flipped entries (rows
   `ld` apart) */
static void cnet_unflip(const cnet_real *sums, Py_ssize_t ld, Py_ssize_t k0, Py_ssize_t k1, Py_ssize_t F,
                        Py_ssize_t C, Py_ssize_t h, Py_ssize_t w, cnet_real *grad)
{
    Py_ssize_t f, c, k, r0, n, t, hw = h * w;
    for (f = 0; f < F; f++)
        /* the entries of map c from r0 on, n of them, reversed */
        for (k = k0; k < k1; k += n) {
            const cnet_real *from = sums + f * ld + k - k0;
            c = k / hw;
            r0 = k - c * hw;
            n = hw - r0 < k1 - k ? hw - r0 : k1 - k;
            cnet_real *to = grad + (f * C + c) * hw + hw - 1 - r0;
            for (t = 0; t < n; t++) to[-t] = from[t];
        }
}

/* out_row[x] = max over i < ph, j < pw of rows[i·OW + x·pw + j], x < PW: one row of
   windows, taken in the order i, j (each maximum the first of its equals), without
   branches */
CNET_INLINE void cnet_maxpool_row(const cnet_real *rows, Py_ssize_t OW, Py_ssize_t PW, Py_ssize_t ph,
                                  Py_ssize_t pw, cnet_real *out_row)
{
    Py_ssize_t x, i, j;
    for (x = 0; x < PW; x++) {
        const cnet_real *win = rows + x * pw;
        cnet_real best = win[0];
        for (i = 0; i < ph; i++)
            for (j = 0; j < pw; j++) {
                cnet_real v = win[i * OW + j];
                best = v > best ? v : best;
            }
        out_row[x] = best;
    }
}

/* out[f][py][px] = max over the window's a[f][py·ph + i][px·pw + j], i < ph, j < pw, of
   the F maps of OH × OW; the rows and columns that fill no window are left out */
static void cnet_maxpool(const cnet_real *a, Py_ssize_t F, Py_ssize_t OH, Py_ssize_t OW,
                         Py_ssize_t ph, Py_ssize_t pw, cnet_real *out)
{
    Py_ssize_t PH = OH / ph, PW = OW / pw, f, y;
    for (f = 0; f < F; f++)
        for (y = 0; y < PH; y++) {
            const cnet_real *rows = a + (f * OH + y * ph) * OW;
            if (ph == 2 && pw == 2)      /* the book's pools: the loops unrolled */
                cnet_maxpool_row(rows, OW, PW, 2, 2, out + (f * PH + y) * PW);
            else
                cnet_maxpool_row(rows, OW, PW, ph, pw, out + (f * PH + y) * PW);
        }
}

/* g where a equals best, else +0: its bits masked by the comparison, without a branch
   (the comparison's outcome on real data is a coin toss that a branch would mispredict) */
CNET_INLINE cnet_real cnet_pick(cnet_real a, cnet_real best, cnet_real g)
{
    cnet_real_bits bits, keep = (cnet_real_bits) 0 - (cnet_real_bits) (a == best);
    memcpy(&bits, &g, sizeof bits);
    bits &= keep;
    memcpy(&g, &bits, sizeof g);
    return g;
}

/* da_row[x·pw + j] = dout_row[x] where a_row[x·pw + j] equals out_row[x], else 0, for
   x < PW, j < pw: one input row's share of a row of windows, without branches */
CNET_INLINE void cnet_maxpool_grad_row(const cnet_real *__restrict a_row, const cnet_real *__restrict out_row,
                                       const cnet_real *__restrict dout_row, Py_ssize_t PW, Py_ssize_t pw,
                                       cnet_real *__restrict da_row)
{
    Py_ssize_t x, j;
    for (x = 0; x < PW; x++)
        for (j = 0; j < pw; j++)
            da_row[x * pw + j] = cnet_pick(a_row[x * pw + j], out_row[x], dout_row[x]);
}

/* the same for 2 × 2 windows, both input rows (a0, a1) of a row of PW windows at once:
   d0[2x + j] = dout_row[x] where a0[2x + j] equals out_row[x], else 0, and d1 from a1 */
CNET_INLINE void cnet_maxpool_grad_rows22(const cnet_real *__restrict a0, const cnet_real *__restrict a1,
                                          const cnet_real *__restrict out_row,
                                          const cnet_real *__restrict dout_row, Py_ssize_t PW,
                                          cnet_real *__restrict d0, cnet_real *__restrict d1)
{
    Py_ssize_t x;
    for (x = 0; x < PW; x++) {
        cnet_real best = out_row[x], g = dout_row[x];
        d0[2 * x] = cnet_pick(a0[2 * x], best, g);
        d0[2 * x + 1] = cnet_pick(a0[2 * x + 1], best, g);
        d1[2 * x] = cnet_pick(a1[2 * x], best, g);
        d1[2 * x + 1] = cnet_pick(a1[2 * x + 1], best, g);
    }
}

/* da[f][y][x] = dout of the window holding (y, x) where a[f][y][x] equals the window's
   maximum out (every maximum of a tie gets it, as in Theano), else 0; 0 in the border */
static void cnet_maxpool_grad(const cnet_real *a, const cnet_real *out, const cnet_real *dout,
                              Py_ssize_t F, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t ph, Py_ssize_t pw,
                              cnet_real *da)
{
    Py_ssize_t PH = OH / ph, PW = OW / pw, f, y, i;
    for (f = 0; f < F; f++) {
        for (y = 0; y < PH; y++) {
            Py_ssize_t w = (f * PH + y) * PW, at = (f * OH + y * ph) * OW;
            if (ph == 2 && pw == 2) {   /* the book's pools, on its 8- and 24-wide maps unrolled */
                if (PW == 4)
                    cnet_maxpool_grad_rows22(a + at, a + at + OW, out + w, dout + w, 4, da + at, da + at + OW);
                else if (PW == 12)
                    cnet_maxpool_grad_rows22(a + at, a + at + OW, out + w, dout + w, 12, da + at, da + at + OW);
                else
                    cnet_maxpool_grad_rows22(a + at, a + at + OW, out + w, dout + w, PW, da + at, da + at + OW);
            } else {
                for (i = 0; i < ph; i++)
                    cnet_maxpool_grad_row(a + at + i * OW, out + w, dout + w, PW, pw, da + at + i * OW);
            }
            /* the columns that fill no window */
            for (i = 0; i < ph; i++) memset(da + at + i * OW + PW * pw, 0, (OW - PW * pw) * sizeof(cnet_real));
        }
        /* the rows that fill no window */
        memset(da + (f * OH + PH * ph) * OW, 0, (OH - PH * ph) * OW * sizeof(cnet_real));
    }
}

/* SplitMix64's output function of z + 2^64/φ (arithmetic mod 2^64) */
static inline uint64_t cnet_mix64(uint64_t z)
{
    z += UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* keep[u] = 1 when unit u of example `example` is kept at step `step`: the top 53
   bits of mix64(mix64(mix64(mix64(seed) + step) + example) + u), as a fraction of
   2^53, are at least p (numpy_conv.dropout_keep, bit for bit) */
static void cnet_dropout_keep(uint64_t seed, uint64_t step, uint64_t example, Py_ssize_t units,
                              double p, unsigned char *keep)
{
    uint64_t key = cnet_mix64(cnet_mix64(cnet_mix64(seed) + step) + example);
    Py_ssize_t u;
    for (u = 0; u < units; u++)
        keep[u] = (double) (cnet_mix64(key + (uint64_t) u) >> 11) * (1.0 / 9007199254740992.0) >= p;
}

#endif
