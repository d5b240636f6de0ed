/* The first layer's forward loop and weight update, one example after another in a
   shuffled order, for a hidden layer of H columns (32: [784, 30, 10]'s; 112:
   [784, 100, ...]'s, both padded as the kernels store them), with vectors of VW bytes:
   32 (AVX2, the kernels' width) or 64 (AVX-512).  Each pass over an example's
   non-zero pixels holds K ≤ 8 vectors of z (or of δ) in registers, as vec.h does,
   so a wider vector means fewer passes.  Each column is computed the same way at any
   width (a multiply, then an add, in pixel order): the checksum printed after the
   time (the sum of the weights after the epoch) is the same for both widths.
   Reads start/index/value/order from the current directory (wide.py writes them;
   limits.h's slurp);
   prints the CPU seconds of the best of 5 epochs and the checksum. */
#include <stdint.h>
#include <time.h>

#include "limits.h"     /* slurp */
#ifndef VW
#define VW 32
#endif
#ifndef H
#define H 112
#endif
typedef double wvec __attribute__((vector_size(VW)));     /* (limits.h's vec is 32 bytes) */
#define V (VW / 8)
#define WLOAD(v, p) memcpy(&(v), (p), sizeof(wvec))
#define WSTORE(p, v) memcpy((p), &(v), sizeof(wvec))
static int64_t *start, *order; static int *index_; static double *value;
static double wt[784 * H] __attribute__((aligned(64)));
static double now(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
/* z[jb …] += Σ_p value[p] · wt[index[p], jb …] over example e, K vectors in registers */
static inline void fwd(int K, int jb, int64_t e, double *z) {
    wvec acc[8], w;
    for (int k = 0; k < K; k++) WLOAD(acc[k], z + jb + k * V);
    for (int64_t p = start[e]; p < start[e + 1]; p++) {
        const double *r = wt + (int64_t) index_[p] * H + jb; double x = value[p];
        for (int k = 0; k < K; k++) { WLOAD(w, r + k * V); acc[k] += x * w; }
    }
    for (int k = 0; k < K; k++) WSTORE(z + jb + k * V, acc[k]);
}
/* wt[index[p], jb …] += (−c · value[p]) · d[jb …] over example e, K vectors of d in registers */
static inline void upd(int K, int jb, int64_t e, const double *d, double c) {
    wvec dv[8], w;
    for (int k = 0; k < K; k++) WLOAD(dv[k], d + jb + k * V);
    for (int64_t p = start[e]; p < start[e + 1]; p++) {
        double *r = wt + (int64_t) index_[p] * H + jb; double a = -(c * value[p]);
        for (int k = 0; k < K; k++) { WLOAD(w, r + k * V); w += a * dv[k]; WSTORE(r + k * V, w); }
    }
}
__attribute__((noinline)) static void forward(int64_t e, double *z) {
    int jb = 0;
    for (; jb + 8 * V <= H; jb += 8 * V) fwd(8, jb, e, z);
    for (; jb + 4 * V <= H; jb += 4 * V) fwd(4, jb, e, z);
    for (; jb + 2 * V <= H; jb += 2 * V) fwd(2, jb, e, z);
    for (; jb + V <= H; jb += V) fwd(1, jb, e, z);
}
__attribute__((noinline)) static void update(int64_t e, const double *d, double c) {
    int jb = 0;
    for (; jb + 8 * V <= H; jb += 8 * V) upd(8, jb, e, d, c);
    for (; jb + 4 * V <= H; jb += 4 * V) upd(4, jb, e, d, c);
    for (; jb + 2 * V <= H; jb += 2 * V) upd(2, jb, e, d, c);
    for (; jb + V <= H; jb += V) upd(1, jb, e, d, c);
}
int main(void) {
    size_t b; start = slurp(".", "start", &b); index_ = slurp(".", "index", &b); value = slurp(".", "value", &b);
    order = slurp(".", "order", &b);
    int64_t n = b / 8;
    double z[H] __attribute__((aligned(64))), best = 1e9, check = 0;
    for (int i = 0; i < 784 * H; i++) wt[i] = (i % 13) * 1e-3;
    for (int rep = 0; rep < 5; rep++) {
        double t = now();
        for (int64_t s = 0; s < n; s++) {
            int64_t e = order[s];
            memset(z, 0, sizeof z);
            forward(e, z);
            for (int j = 0; j < H; j++) z[j] = z[j] * 1e-3;
            update(e, z, 1e-3);
        }
        t = now() - t; if (t < best) best = t;
    }
    for (int i = 0; i < 784 * H; i++) check += wt[i];
    printf("%.4f %.6g\n", best, check);
    return 0;
}
