/* What packing a list of examples must cost at least, in plain C: the memory
   traffic alone, over the very arrays of the caller's list.

   Built by packing.py as a shared library and called through ctypes with the
   addresses of the n input arrays (each n_in float32, contiguous), in the
   list's order:
     cnet_limit_read    reads every pixel (sums them): the 157 MB of MNIST's
                        training inputs, from 50,000 separate arrays;
     cnet_limit_touch   writes `bytes` bytes of fresh memory, one byte a 64-byte
                        line, with 4 KB pages (huge = 0) or 2 MB ones (huge = 1):
                        what the packed copy costs before anything is in it;
     cnet_limit_pack    both: reads every pixel and writes each non-zero one as
                        (int index, double value) into fresh memory with 2 MB
                        pages, branchless -- the packing with no checks at all.
   Each returns its seconds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void *fresh(size_t bytes, int huge)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (huge) madvise(p, bytes, MADV_HUGEPAGE);
    return p;
}

double cnet_limit_read(const float *const *xs, long n, long n_in, double *sum)
{
    double t = now();
    float acc[16] = {0};
    long e, i;
    int k;
    for (e = 0; e < n; e++) {
        const float *x = xs[e];
        for (i = 0; i + 16 <= n_in; i += 16)
            for (k = 0; k < 16; k++) acc[k] += x[i + k];
        for (; i < n_in; i++) acc[0] += x[i];
    }
    *sum = 0;
    for (k = 0; k < 16; k++) *sum += acc[k];
    return now() - t;
}

double cnet_limit_touch(size_t bytes, int huge)
{
    double t = now();
    char *p = fresh(bytes, huge);
    size_t i;
    if (p == NULL) return -1;
    for (i = 0; i < bytes; i += 64) p[i] = 1;
    t = now() - t;
    munmap(p, bytes);
    return t;
}

double cnet_limit_pack(const float *const *xs, long n, long n_in, long entries)
{
    double t = now();
    size_t room = (size_t) (entries + n_in + 1);
    int *index = fresh(room * sizeof(int), 1);
    double *value = fresh(room * sizeof(double), 1);
    long e, i, p = 0;
    if (index == NULL || value == NULL) return -1;
    for (e = 0; e < n; e++) {
        const float *x = xs[e];
        for (i = 0; i < n_in; i++) {
            float v = x[i];
            index[p] = (int) i;
            value[p] = v;
            p += v != 0;
        }
    }
    t = now() - t;
    munmap(index, room * sizeof(int));
    munmap(value, room * sizeof(double));
    return p == entries ? t : -1;
}
