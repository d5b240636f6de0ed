/* The one allocator of the compiled kernels: zeroed memory at an address that
   is a multiple of 64 bytes (a cache line), so that threads writing different
   lines of one buffer never share a line.  Every buffer the kernels allocate
   comes from cnet_alloc (or is resized by cnet_realloc) and goes back through
   cnet_free.

   It is built on Python's raw allocator (callable without the GIL), so that
   tracemalloc counts what the kernels hold. */
#ifndef CNET_ALLOC_H
#define CNET_ALLOC_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

#define CNET_ALIGN 64

/* the address in the block `raw` where the caller's bytes start: aligned, with
   room before it for the word that remembers raw */
static inline char *cnet_aligned_in(char *raw)
{
    return (char *) (((uintptr_t) (raw + sizeof(void *)) + (CNET_ALIGN - 1))
                     & ~(uintptr_t) (CNET_ALIGN - 1));
}

/* n zero bytes, aligned (n may be 0); NULL when there is no memory */
static void *cnet_alloc(size_t n)
{
    char *raw = (char *) PyMem_RawCalloc(n + CNET_ALIGN + sizeof(void *), 1), *p;
    if (raw == NULL) return NULL;
    p = cnet_aligned_in(raw);
    ((void **) p)[-1] = raw;
    return p;
}

/* give back what cnet_alloc or cnet_realloc returned (NULL: nothing) */
static void cnet_free(void *p)
{
    if (p != NULL) PyMem_RawFree(((void **) p)[-1]);
}

/* p (from cnet_alloc, cnet_realloc, or NULL) grown or shrunk to n bytes, aligned,
   keeping the first min(old, n) of them; bytes beyond the old size are not
   zeroed.  The system's realloc moves a large block by remapping its pages
   rather than copying them.  NULL when there is no memory (p is then intact). */
static void *cnet_realloc(void *p, size_t old, size_t n)
{
    char *raw = p == NULL ? NULL : (char *) ((void **) p)[-1], *grown, *q;
    size_t offset = p == NULL ? 0 : (size_t) ((char *) p - raw);
    grown = (char *) PyMem_RawRealloc(raw, n + CNET_ALIGN + sizeof(void *));
    if (grown == NULL) return NULL;
    q = cnet_aligned_in(grown);
    if (p != NULL && (size_t) (q - grown) != offset)   /* the block moved to another alignment */
        memmove(q, grown + offset, old < n ? old : n);
    ((void **) q)[-1] = grown;
    return q;
}

#endif
