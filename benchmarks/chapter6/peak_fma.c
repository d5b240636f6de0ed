/* This core's peak multiply-add rate: a loop of independent fused multiply-adds
   on vectors of reals (float or double, the width the compiler targets), enough
   accumulators to hide the FMA unit's latency, so that only its throughput
   bounds the loop.  Runs on 1..T threads at once; prints one line per thread
   count: "<type> threads=<t> gflops=<2 * multiply-adds / s / 1e9>".

   cc -O2 -march=native -ffp-contract=fast -pthread peak_fma.c -o peak_fma && ./peak_fma float 2
   (peak.py compiles and runs it.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__AVX512F__)
#define BYTES 64
#elif defined(__AVX__)
#define BYTES 32
#else
#define BYTES 16
#endif
#define ACC 16            /* independent accumulators: > latency (4) x ports (2) */
#define ROUNDS 50000000L

typedef float vf __attribute__((vector_size(BYTES)));
typedef double vd __attribute__((vector_size(BYTES)));

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* acc_k = acc_k * m + a for ROUNDS rounds, every k: ROUNDS * ACC * lanes multiply-adds */
#define FMA_LOOP(V, out)                                                      \
    do {                                                                      \
        typedef __typeof__(((V){0})[0]) E;                                    \
        V acc[ACC], m, a;                                                     \
        for (int k = 0; k < ACC; k++) acc[k] = (V){0} + (E) ((k + 1) * 1e-3); \
        m = (V){0} + (E) 0.999999;                                            \
        a = (V){0} + (E) 1e-7;                                                \
        for (long r = 0; r < ROUNDS; r++) {                                   \
            _Pragma("GCC unroll 16")                                          \
            for (int k = 0; k < ACC; k++) acc[k] = acc[k] * m + a;            \
        }                                                                     \
        double s = 0;                                                         \
        for (int k = 0; k < ACC; k++) s += acc[k][0];                         \
        *(out) = s;                                                           \
    } while (0)

static int use_double;

static void *run(void *out)
{
    if (use_double) FMA_LOOP(vd, (double *) out);
    else FMA_LOOP(vf, (double *) out);
    return NULL;
}

int main(int argc, char **argv)
{
    use_double = argc > 1 && strcmp(argv[1], "double") == 0;
    int most = argc > 2 ? atoi(argv[2]) : 1;
    long lanes = BYTES / (use_double ? 8 : 4);
    for (int t = 1; t <= most; t++) {
        pthread_t th[64];
        double sink[64];
        double start = now();
        for (int i = 0; i < t; i++) pthread_create(&th[i], NULL, run, &sink[i]);
        for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
        double seconds = now() - start;
        double flops = 2.0 * ROUNDS * ACC * lanes * t;
        printf("%s threads=%d gflops=%.1f (vector bytes %d, check %g)\n", use_double ? "double" : "float",
               t, flops / seconds / 1e9, BYTES, sink[0]);
    }
    return 0;
}
