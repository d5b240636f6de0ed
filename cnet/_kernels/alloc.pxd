# The one allocator of the kernels (alloc.h): zeroed, 64-byte aligned, counted by
# tracemalloc; everything from cnet_alloc or cnet_realloc goes back by cnet_free.
cdef extern from "alloc.h":
    void *cnet_alloc(size_t n) noexcept nogil
    void *cnet_realloc(void *p, size_t old, size_t n) noexcept nogil
    void cnet_free(void *p) noexcept nogil
