/* The scan of evaluate for [784, 30, 10], alone, in plain C: what is left of the
   compiled scan's time when only its irreducible work is done.

   Reads the MNIST test inputs as the kernels keep them (start: int64 row offsets;
   index: int32 pixels, increasing within a row; value: float64), written by scan.py
   with weights w0 (784 x 32, the hidden layer padded to whole vectors), b0 (32),
   w1 (30 x 16), b1 (16), and times, per scan of the inputs in order (best of 15):
     z_1 = b_0 + Σ_{p : x_i ≠ 0} x_i · w0[i, :]   (8 vectors of 4 doubles, a multiply
                                                   then an add: the kernels' bits)
   and with FULL=1 also
     a_1 = σ(z_1) = 1 / (1 + exp(−z_1))          (libm's exp, 30 a row)
     z_2 = b_1 + Σ_i a_{1,i} · w1[i, :]           (4 vectors)
     label = argmax_j z_2[j], and σ of it          (one more exp: what sigmoid_argmax
                                                   computes when no other σ is near)
   ROW(i) picks w0's row for pixel i: i itself, i % 64 (all rows in L1: what moving
   rows from L2 costs) or 0 (one row, which the compiler keeps in registers: the
   multiplies and adds alone).  EXP: the exponential (exp; a stand-in such as fabs
   shows what libm's exp costs, not the same bits).  AHEAD: how many examples ahead
   the inputs are prefetched (4, as the kernels; 0: not); ROWS_AHEAD: how many entries
   ahead the weight rows are (8, as input_sum; 0: not).

   From the caller's columns (scan.py also writes the inputs as float32, 784 a row, as
   load_data_wrapper's list holds them: views of one array; APART=1: each column copied
   into its own malloc'd block), packed by the kernels' own loop (pack.h's cnet_pack_f32):
   PACK=1 packs the whole set into the compressed rows (buffers allocated once, reused
   by every repeat), then scans it -- evaluate's pass and scan without their checks;
   FUSED=B packs B examples at a time into a small buffer that stays in cache and scans
   them before the next B (one pass over the columns, no packed copy: what cnet's
   columns_part does). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limits.h"
#if defined(PACK) || defined(FUSED)
#define CNET_PRECISION 64
#include "pack.h"           /* the kernels' packing loop (cnet/_kernels; needs Python.h) */
#endif

#ifndef ROW
#define ROW(i) (i)
#endif
#ifndef FULL
#define FULL 0
#endif
#ifndef EXP
#define EXP exp
#endif
#ifndef AHEAD
#define AHEAD 4
#endif
#ifndef ROWS_AHEAD
#define ROWS_AHEAD 8
#endif

static int64_t *start;
static int *index_;
static double *value, *w0, *b0, *w1, *b1;

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* ask the cache for example e's entries, as the kernels do (prefetch_example) */
static void prefetch_example(int64_t e)
{
    for (int64_t p = start[e]; p < start[e + 1]; p += 8) __builtin_prefetch(&value[p], 0, 2);
    for (int64_t p = start[e]; p < start[e + 1]; p += 16) __builtin_prefetch(&index_[p], 0, 2);
}

/* z = b0 + Σ_p value[p] · w0[ROW(index[p]), :] over example e's non-zero pixels */
__attribute__((noinline)) static void first_layer(int64_t e, double *z)
{
    vec acc[8], w;
    for (int k = 0; k < 8; k++) LOAD(acc[k], b0 + 4 * k);
    for (int64_t p = start[e]; p < start[e + 1]; p++) {
        const double *r = w0 + (int64_t) ROW(index_[p]) * 32;
        double x = value[p];
        if (ROWS_AHEAD && p + ROWS_AHEAD < start[e + 1])
            for (int o = 0; o < 32; o += 8)
                __builtin_prefetch(w0 + (int64_t) ROW(index_[p + ROWS_AHEAD]) * 32 + o, 0, 3);
        for (int k = 0; k < 8; k++) { LOAD(w, r + 4 * k); acc[k] += x * w; }
    }
    for (int k = 0; k < 8; k++) STORE(z + 4 * k, acc[k]);
}

/* the rest of the forward pass and the label (FULL), else a use of z */
static long rest(const double *z)
{
#if FULL
    double a[32], z2[16];
    vec acc[4], w;
    int best = 0;
    for (int j = 0; j < 30; j++) a[j] = 1 / (1 + EXP(-z[j]));
    for (int k = 0; k < 4; k++) LOAD(acc[k], b1 + 4 * k);
    for (int i = 0; i < 30; i++)
        for (int k = 0; k < 4; k++) { LOAD(w, w1 + i * 16 + 4 * k); acc[k] += a[i] * w; }
    for (int k = 0; k < 4; k++) STORE(z2 + 4 * k, acc[k]);
    for (int j = 1; j < 10; j++)
        if (z2[j] > z2[best]) best = j;
    return best + (1 / (1 + EXP(-z2[best])) > 0.5);
#else
    return z[0] > 0;
#endif
}

int main(int argc, char **argv)
{
    size_t bytes;
    if (argc < 2) { fprintf(stderr, "usage: scan DIR\n"); return 2; }
    start = slurp(argv[1], "start", &bytes);
    int64_t n = (int64_t) (bytes / sizeof(int64_t)) - 1;
    index_ = slurp(argv[1], "index", &bytes);
    value = slurp(argv[1], "value", &bytes);
    w0 = slurp(argv[1], "w0", &bytes);
    b0 = slurp(argv[1], "b0", &bytes);
    w1 = slurp(argv[1], "w1", &bytes);
    b1 = slurp(argv[1], "b1", &bytes);
    double z[32] __attribute__((aligned(64))), best = 1e9;
    long check = 0;
#if defined(PACK) || defined(FUSED)
    float *pixels = slurp(argv[1], "pixels", &bytes);
    const float **cols = malloc(n * sizeof(*cols));
    for (int64_t e = 0; e < n; e++) {
        cols[e] = pixels + 784 * e;
#if APART
        float *own = malloc(784 * sizeof(float));
        memcpy(own, cols[e], 784 * sizeof(float));
        cols[e] = own;
#endif
    }
    cnet_pack_init();
#endif
#if defined(PACK)
    Py_ssize_t *all_start = malloc((n + 1) * sizeof(Py_ssize_t));
    int *all_index = malloc((start[n] + 784 + CNET_PACK_SLACK) * sizeof(int));
    double *all_value = malloc((start[n] + 784 + CNET_PACK_SLACK) * sizeof(double));
    start = (int64_t *) all_start;
    index_ = all_index;
    value = all_value;
#elif defined(FUSED)
    Py_ssize_t block_start[FUSED + 1];
    int *block_index = malloc((FUSED * 784 + CNET_PACK_SLACK) * sizeof(int));
    double *block_value = malloc((FUSED * 784 + CNET_PACK_SLACK) * sizeof(double));
    start = (int64_t *) block_start;
    index_ = block_index;
    value = block_value;
#endif
    for (int rep = 0; rep < 15; rep++) {
        double t = cpu_seconds();
#if defined(PACK)
        int finite = 1;
        all_start[0] = 0;
        for (int64_t e = 0; e < n; e++)
            all_start[e + 1] = cnet_pack_f32((const char *) cols[e], 4, 784, all_index, all_value,
                                             all_start[e], &finite);
        check += finite;
#endif
#if defined(FUSED)
        int finite = 1;
        for (int64_t e0 = 0; e0 < n; e0 += FUSED) {
            int64_t m = n - e0 < FUSED ? n - e0 : FUSED;
            block_start[0] = 0;
            for (int64_t k = 0; k < m; k++)
                block_start[k + 1] = cnet_pack_f32((const char *) cols[e0 + k], 4, 784, block_index,
                                                   block_value, block_start[k], &finite);
            for (int64_t k = 0; k < m; k++) {
                first_layer(k, z);
                check += rest(z);
            }
        }
        check += finite;
#else
        for (int64_t e = 0; e < n; e++) {
            if (AHEAD && e + AHEAD < n) prefetch_example(e + AHEAD);
            first_layer(e, z);
            check += rest(z);
        }
#endif
        t = cpu_seconds() - t;
        if (t < best) best = t;
    }
    printf("%.6f %ld\n", best, check);
    return 0;
}
