/* What the plain-C limit loops of first_layer.c and scan.c share: GCC's vectors of
   four doubles (the kernels' AVX2 width), loaded and stored at any alignment, and a
   file of the data dump their .py writes, read whole into memory aligned to 64 bytes. */
#ifndef CNET_LIMITS_H
#define CNET_LIMITS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef double vec __attribute__((vector_size(32)));
#define LOAD(v, p) memcpy(&(v), (p), sizeof(vec))
#define STORE(p, v) memcpy((p), &(v), sizeof(vec))

/* the file dir/name, read whole; its size in *bytes (exits on any error) */
static void *slurp(const char *dir, const char *name, size_t *bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    *bytes = (size_t) ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = aligned_alloc(64, (*bytes + 63) / 64 * 64);
    if (!p || fread(p, 1, *bytes, f) != *bytes) { perror(path); exit(1); }
    fclose(f);
    return p;
}

#endif
