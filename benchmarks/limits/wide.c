/* The first layer's forward loop and weight update, one example after another in a
   shuffled order, for a hidden layer of H columns (32: [784, 30, 10]'s; 104:
   [784, 100, ...]'s, both padded as the kernels store them), with vectors of VW bytes:
   32 (AVX2, the kernels' width) or 64 (AVX-512).  Each pass over an example's
   non-zero pixels holds K ≤ 8 vectors of z (or of δ) in registers, as vec.h does,
   so a wider vector means fewer passes.  Each column is computed the same way at any
   width (a multiply, then an add, in pixel order): the checksum printed after the
   time (the sum of the weights after the epoch) is the same for both widths.
   GROUP=10: mini-batches of 10 instead, as the kernels train them (group.h): the
   forward sums of the 10 examples, a block of rows at a time (each block read once
   for all 10), then their updates the same way, each weight getting its terms in
   example order (a mini-batch's examples all see the weights from before it); the
   columns in group.h's slices: as few as slices of up to 13 vectors allow, of
   about equal size.
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
#ifdef GROUP
/* the rows of wt in blocks of about 48 KB (BLOCK_BYTES) for a slice of K vectors, as group.h */
#ifndef BLOCK_BYTES
#define BLOCK_BYTES 49152
#endif
#define RB(K) (BLOCK_BYTES / ((K) * VW))
#define SLICE_MAX 13
/* z_k[jb …] += Σ_p value[p] · wt[index[p], jb …] for the examples es[k], k < GROUP,
   a block of rows at a time, each example's K vectors in registers */
static inline void gfwd(int K, int jb, const int64_t *es, double (*z)[H]) {
    int64_t cur[GROUP];
    wvec acc[SLICE_MAX], w;
    for (int k = 0; k < GROUP; k++) cur[k] = start[es[k]];
    for (int r1 = RB(K); r1 - RB(K) < 784; r1 += RB(K))
        for (int k = 0; k < GROUP; k++) {
            int64_t p = cur[k], end = start[es[k] + 1];
            if (p == end || index_[p] >= r1) continue;
            for (int i = 0; i < K; i++) WLOAD(acc[i], z[k] + jb + i * V);
            for (; p < end && index_[p] < r1; p++) {
                const double *r = wt + (int64_t) index_[p] * H + jb; double x = value[p];
                for (int i = 0; i < K; i++) { WLOAD(w, r + i * V); acc[i] += x * w; }
            }
            for (int i = 0; i < K; i++) WSTORE(z[k] + jb + i * V, acc[i]);
            cur[k] = p;
        }
}
/* wt[index[p], jb …] += (−c · value[p]) · d_k[jb …] for the examples es[k] in order,
   a block of rows at a time, d_k's K vectors in registers */
static inline void gupd(int K, int jb, const int64_t *es, double (*d)[H], double c) {
    int64_t cur[GROUP];
    wvec dv[SLICE_MAX], w;
    for (int k = 0; k < GROUP; k++) cur[k] = start[es[k]];
    for (int r1 = RB(K); r1 - RB(K) < 784; r1 += RB(K))
        for (int k = 0; k < GROUP; k++) {
            int64_t p = cur[k], end = start[es[k] + 1];
            if (p == end || index_[p] >= r1) continue;
            for (int i = 0; i < K; i++) WLOAD(dv[i], d[k] + jb + i * V);
            for (; p < end && index_[p] < r1; p++) {
                double *r = wt + (int64_t) index_[p] * H + jb; double a = -(c * value[p]);
                for (int i = 0; i < K; i++) { WLOAD(w, r + i * V); w += a * dv[i]; WSTORE(r + i * V, w); }
            }
            cur[k] = p;
        }
}
/* the H / V vectors of columns in as few slices of at most SLICE_MAX as there can be,
   the first ones a vector larger when they cannot all be equal (group.h's plan) */
#define SLICES(call) do { \
        int nv = H / V, n = (nv + SLICE_MAX - 1) / SLICE_MAX, jb = 0; \
        for (int q = 0; q < n; q++) { \
            int K = nv / n + (q < nv % n); \
            switch (K) { CASES(call) } \
            jb += K * V; \
        } \
    } while (0)
#define CASE(k, call) case k: call(k); break;
#define CASES(call) CASE(1, call) CASE(2, call) CASE(3, call) CASE(4, call) CASE(5, call) \
    CASE(6, call) CASE(7, call) CASE(8, call) CASE(9, call) CASE(10, call) CASE(11, call) \
    CASE(12, call) CASE(13, call)
__attribute__((noinline)) static void forward_group(const int64_t *es, double (*z)[H]) {
#define FWD(k) gfwd(k, jb, es, z)
    SLICES(FWD);
}
__attribute__((noinline)) static void update_group(const int64_t *es, double (*d)[H], double c) {
#define UPD(k) gupd(k, jb, es, d, c)
    SLICES(UPD);
}
#ifdef ROWWISE
/* ROWWISE (with GROUP): the update row by row instead -- each touched row's K vectors
   loaded once per mini-batch, its examples' terms added in example order from lists
   built once per mini-batch (the same weights), then stored once */
typedef struct { int k; double a; } term;
static int count_[784];
static term terms[784][GROUP];
/* terms[i][0 … count_[i]) = (k, −c · x_{k,i}) for the examples es[k] with x_{k,i} ≠ 0, k increasing */
static void list_terms(const int64_t *es, double c) {
    memset(count_, 0, sizeof count_);
    for (int k = 0; k < GROUP; k++)
        for (int64_t p = start[es[k]]; p < start[es[k] + 1]; p++) {
            int i = index_[p];
            terms[i][count_[i]].k = k;
            terms[i][count_[i]++].a = -(c * value[p]);
        }
}
/* wt[i, jb …] += Σ_t a_t · d_{k_t}[jb …] over row i's terms, in order, the row in registers */
static inline void rupd(int K, int jb, double (*d)[H]) {
    wvec w[SLICE_MAX], dv;
    for (int i = 0; i < 784; i++) {
        if (!count_[i]) continue;
        double *r = wt + (int64_t) i * H + jb;
        for (int q = 0; q < K; q++) WLOAD(w[q], r + q * V);
        for (int t = 0; t < count_[i]; t++) {
            const double *dk = d[terms[i][t].k] + jb;
            for (int q = 0; q < K; q++) { WLOAD(dv, dk + q * V); w[q] += terms[i][t].a * dv; }
        }
        for (int q = 0; q < K; q++) WSTORE(r + q * V, w[q]);
    }
}
__attribute__((noinline)) static void update_rows(const int64_t *es, double (*d)[H], double c) {
    list_terms(es, c);
#define RUPD(k) rupd(k, jb, d)
    SLICES(RUPD);
}
#define update_group update_rows
#endif
#endif
int main(void) {
    size_t b; start = slurp(".", "start", &b); index_ = slurp(".", "index", &b); value = slurp(".", "value", &b);
    order = slurp(".", "order", &b);
    int64_t n = b / 8;
    double best = 1e9, check = 0;
    for (int i = 0; i < 784 * H; i++) wt[i] = (i % 13) * 1e-3;
    for (int rep = 0; rep < 5; rep++) {
        double t = now();
#ifdef GROUP
        static double zs[GROUP][H] __attribute__((aligned(64)));
        for (int64_t s = 0; s + GROUP <= n; s += GROUP) {
            memset(zs, 0, sizeof zs);
            forward_group(order + s, zs);
            for (int k = 0; k < GROUP; k++)
                for (int j = 0; j < H; j++) zs[k][j] = zs[k][j] * 1e-3;
            update_group(order + s, zs, 1e-3);
        }
#else
        double z[H] __attribute__((aligned(64)));
        for (int64_t s = 0; s < n; s++) {
            int64_t e = order[s];
            memset(z, 0, sizeof z);
            forward(e, z);
            for (int j = 0; j < H; j++) z[j] = z[j] * 1e-3;
            update(e, z, 1e-3);
        }
#endif
        t = now() - t; if (t < best) best = t;
    }
    for (int i = 0; i < 784 * H; i++) check += wt[i];
    printf("%.4f %.6g\n", best, check);
    return 0;
}
