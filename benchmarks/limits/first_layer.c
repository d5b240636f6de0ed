/* The first layer of a [784, 30, 10] epoch, alone, in plain C: how close the
   compiled kernels' loops are to what the memory system allows.

   Reads the compressed training inputs written by first_layer.py (start:
   int64 row offsets; index: int32 pixels; value: float64) and an order, then
   times, per epoch over the 50,000 examples (best of 7), the kernels' two
   loops over an example's non-zero pixels on a transposed 784 x 32 weight
   matrix:  forward  z += x_i * w[i, :]   and   update  w[i, :] += a_i * d.
   ROW(i) picks the weight row for pixel i: i itself, or (to see what the
   cache costs) i % 64 (all rows in L1) or 0 (one row: the input stream alone).
   UPDATE=1 adds the update loop after each mini-batch of 10 (in order).
   AHEAD: how many examples ahead the inputs are prefetched (4).

   GROUP=G: the forward loop takes G examples of the order at a time, as
   cnet_rows_forward_group does (G = 10: a mini-batch): the rows are cut into
   blocks of RB rows (RB · 256 bytes: 48 KB for RB = 192), and for each block,
   each example of the group loads its z, adds its pixels within the block
   (found with a cursor into its sorted pixels), and stores z -- each z still
   sums in pixel order (the same bits), and the block's rows are read from L2
   once per group, then from L1.  The next group's inputs are prefetched
   whole.  PRE=1: each example's pixel range in each block is looked up in a
   table made once for the data set (what packing could store) instead of
   found with the cursor.  UPDATE=2 (GROUP=10): the update loop grouped the
   same way (each row still gets its examples' terms in example order).
   UPDATE=3 (GROUP=10): momentum's least traffic -- the grouped update goes into
   the velocities vt (v += a_i · d), then each row the group touched in the
   block moves by them, w += s · v, once (the rows listed with a stamp, without
   a branch): per
   touched row and step, v read and written besides what UPDATE=2 moves.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limits.h"

#ifndef ROW
#define ROW(i) (i)
#endif
#ifndef UPDATE
#define UPDATE 0
#endif
#ifndef AHEAD
#define AHEAD 4
#endif
#ifndef GROUP
#define GROUP 0
#endif
#ifndef PRE
#define PRE 0
#endif
#ifndef RB
#define RB 192
#endif
#define NB ((784 + RB - 1) / RB)
#define H 32 /* the hidden layer, padded to whole vectors */

static int64_t *start, *order;
static int *index_;
static double *value;
static double wt[784 * H] __attribute__((aligned(64)));
static double vt[784 * H] __attribute__((aligned(64)));   /* UPDATE=3: the velocities */
static int64_t stamp[784];                                 /* UPDATE=3: the last step that listed a row */
static int64_t *bounds; /* PRE: example e's pixels in block b are bounds[e·(NB+1) + b] ≤ p < … b + 1] */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* z = Σ_p value[p] · wt[ROW(index[p]), :] over example e's non-zero pixels */
static void forward(int64_t e, double *z)
{
    vec acc[8], w;
    for (int k = 0; k < 8; k++) acc[k] = (vec) {0, 0, 0, 0};
    for (int64_t p = start[e]; p < start[e + 1]; p++) {
        const double *r = wt + (int64_t) ROW(index_[p]) * H;
        double x = value[p];
        for (int k = 0; k < 8; k++) { LOAD(w, r + 4 * k); acc[k] += x * w; }
    }
    for (int k = 0; k < 8; k++) STORE(z + 4 * k, acc[k]);
}

/* z[k] = forward(es[k]) for k < m, a block of RB rows at a time (each z summed in pixel order) */
static void forward_group(const int64_t *es, int m, double (*z)[H])
{
    int64_t cur[256];
    vec acc[8], w;
    for (int k = 0; k < m; k++) {
        cur[k] = start[es[k]];
        for (int j = 0; j < 8; j++) ((vec *) z[k])[j] = (vec) {0, 0, 0, 0};
    }
    for (int b = 0; b < NB; b++) {
        for (int k = 0; k < m; k++) {
            int64_t p = cur[k], end = PRE ? bounds[es[k] * (NB + 1) + b + 1] : start[es[k] + 1];
            if (p == end || (!PRE && index_[p] >= (b + 1) * RB)) continue;
            for (int j = 0; j < 8; j++) acc[j] = ((const vec *) z[k])[j];
            for (; p < end && (PRE || index_[p] < (b + 1) * RB); p++) {
                const double *r = wt + (int64_t) ROW(index_[p]) * H;
                double x = value[p];
                for (int j = 0; j < 8; j++) { LOAD(w, r + 4 * j); acc[j] += x * w; }
            }
            for (int j = 0; j < 8; j++) ((vec *) z[k])[j] = acc[j];
            cur[k] = p;
        }
    }
}

/* wt[ROW(index[p]), :] += (-c · value[p]) · d over example e's non-zero pixels */
static void update(int64_t e, double c, const double *d)
{
    vec dv[8], w;
    for (int k = 0; k < 8; k++) LOAD(dv[k], d + 4 * k);
    for (int64_t p = start[e]; p < start[e + 1]; p++) {
        double *r = wt + (int64_t) ROW(index_[p]) * H;
        double a = -(c * value[p]);
        for (int k = 0; k < 8; k++) { LOAD(w, r + 4 * k); w += a * dv[k]; STORE(r + 4 * k, w); }
    }
}

/* update(es[k], c, d[k]) for k < m on the rows of target (wt, or vt for momentum), a
   block of RB rows at a time, with cursors; step > 0 (momentum): then each row of the
   block that the group touched, w += s · v, once */
static void update_group(const int64_t *es, int m, double c, double (*d)[H], double *target, int64_t step)
{
    int64_t cur[256];
    int listed[784], count;
    vec dv[8], w, v, sv = {1e-3, 1e-3, 1e-3, 1e-3};
    for (int k = 0; k < m; k++) cur[k] = start[es[k]];
    for (int r1 = RB; r1 < 784 + RB; r1 += RB) {
        count = 0;
        for (int k = 0; k < m; k++) {
            int64_t p = cur[k], end = start[es[k] + 1];
            if (p == end || index_[p] >= r1) continue;
            for (int j = 0; j < 8; j++) dv[j] = ((const vec *) d[k])[j];
            for (; p < end && index_[p] < r1; p++) {
                int i = ROW(index_[p]);
                double *r = target + (int64_t) i * H;
                double a = -(c * value[p]);
                for (int j = 0; j < 8; j++) { LOAD(w, r + 4 * j); w += a * dv[j]; STORE(r + 4 * j, w); }
                if (step) {             /* listed once, without a branch */
                    listed[count] = i;
                    count += stamp[i] != step;
                    stamp[i] = step;
                }
            }
            cur[k] = p;
        }
        for (int q = 0; q < count; q++) {      /* momentum: w += s · v on the rows touched */
            double *r = wt + (int64_t) listed[q] * H, *u = vt + (int64_t) listed[q] * H;
            for (int j = 0; j < 8; j++) { LOAD(w, r + 4 * j); LOAD(v, u + 4 * j); w += sv * v; STORE(r + 4 * j, w); }
        }
    }
}

static void prefetch(int64_t e)
{
    for (int64_t p = start[e]; p < start[e + 1]; p += 8) __builtin_prefetch(&value[p], 0, 2);
    for (int64_t p = start[e]; p < start[e + 1]; p += 16) __builtin_prefetch(&index_[p], 0, 2);
}

int main(int argc, char **argv)
{
    size_t bytes;
    if (argc != 2) { fprintf(stderr, "usage: first_layer DIR\n"); return 2; }
    start = slurp(argv[1], "start", &bytes);
    int64_t n = (int64_t) (bytes / sizeof(int64_t)) - 1;
    index_ = slurp(argv[1], "index", &bytes);
    value = slurp(argv[1], "value", &bytes);
    order = slurp(argv[1], "order", &bytes);
    if (PRE) {  /* not timed: made once for the data set */
        bounds = malloc(sizeof(int64_t) * (NB + 1) * n);
        for (int64_t e = 0; e < n; e++) {
            int64_t *bd = bounds + e * (NB + 1), p = start[e];
            for (int b = 0; b <= NB; b++) {
                while (p < start[e + 1] && index_[p] < b * RB) p++;
                bd[b] = p;
            }
        }
    }
    static double z[256][H] __attribute__((aligned(64)));
    double best = 1e9, check = 0;
    const int G = GROUP ? GROUP : 10;
    for (int rep = 0; rep < 7; rep++) {
        for (int i = 0; i < 784 * H; i++) wt[i] = 1e-3 * ((i * 7919) % 1000 - 500);
        double t = now();
        for (int64_t s = 0; s < n; s += G) {
            int m = n - s < G ? (int) (n - s) : G;
            if (GROUP) {
                for (int64_t f = s + G; f < s + 2 * G && f < n; f++) prefetch(order[f]);
                forward_group(order + s, m, z);
            } else {
                for (int k = 0; k < m; k++) {
                    if (s + k + AHEAD < n) prefetch(order[s + k + AHEAD]);
                    forward(order[s + k], z[k]);
                }
            }
            if (UPDATE == 3)
                update_group(order + s, m, 1e-6, z, vt, s + 1);
            else if (UPDATE == 2)
                update_group(order + s, m, 1e-6, z, wt, 0);
            else if (UPDATE)
                for (int k = 0; k < m; k++) update(order[s + k], 1e-6, z[k]);
        }
        t = now() - t;
        if (t < best) best = t;
        for (int j = 0; j < H; j++) check += z[0][j];
    }
    printf("%.4f %g\n", best, check);
    return 0;
}
