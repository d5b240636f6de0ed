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
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef ROW
#define ROW(i) (i)
#endif
#ifndef UPDATE
#define UPDATE 0
#endif
#define H 32 /* the hidden layer, padded to whole vectors */

typedef double vec __attribute__((vector_size(32)));
#define LOAD(v, p) memcpy(&(v), (p), sizeof(vec))
#define STORE(p, v) memcpy((p), &(v), sizeof(vec))

static int64_t *start, *order;
static int *index_;
static double *value;
static double wt[784 * H] __attribute__((aligned(64)));

static void *slurp(const char *dir, const char *name, size_t *bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    *bytes = (size_t) ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc(*bytes);
    if (!p || fread(p, 1, *bytes, f) != *bytes) { perror(path); exit(1); }
    fclose(f);
    return p;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
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

int main(int argc, char **argv)
{
    size_t bytes;
    if (argc != 2) { fprintf(stderr, "usage: first_layer DIR\n"); return 2; }
    start = slurp(argv[1], "start", &bytes);
    int64_t n = (int64_t) (bytes / sizeof(int64_t)) - 1;
    index_ = slurp(argv[1], "index", &bytes);
    value = slurp(argv[1], "value", &bytes);
    order = slurp(argv[1], "order", &bytes);
    double z[10][H] __attribute__((aligned(64))), best = 1e9, check = 0;
    for (int rep = 0; rep < 7; rep++) {
        for (int i = 0; i < 784 * H; i++) wt[i] = 1e-3 * ((i * 7919) % 1000 - 500);
        double t = now();
        for (int64_t s = 0; s < n; s += 10) {
            int m = n - s < 10 ? (int) (n - s) : 10;
            for (int k = 0; k < m; k++) {
                int64_t e = order[s + k];
                if (s + k + 4 < n) {  /* as the kernels do: prefetch 4 examples ahead */
                    int64_t f = order[s + k + 4];
                    for (int64_t p = start[f]; p < start[f + 1]; p += 8) __builtin_prefetch(&value[p], 0, 2);
                    for (int64_t p = start[f]; p < start[f + 1]; p += 16) __builtin_prefetch(&index_[p], 0, 2);
                }
                forward(e, z[k]);
            }
            if (UPDATE)
                for (int k = 0; k < m; k++) update(order[s + k], 1e-6, z[k]);
        }
        t = now() - t;
        if (t < best) best = t;
        for (int j = 0; j < H; j++) check += z[0][j];
    }
    printf("%.4f %g\n", best, check);
    return 0;
}
