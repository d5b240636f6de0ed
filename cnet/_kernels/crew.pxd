# The crew of threads that chapter 6's kernels share a call among (crew.h).
cdef extern from "crew.h":
    ctypedef void (*cnet_crew_task)(void *job, int part, int parts) noexcept nogil
    void cnet_crew_run(cnet_crew_task task, void *job, int parts) noexcept nogil
    int cnet_atomic_add(int *p, int v) noexcept nogil
    int cnet_atomic_load(const int *p) noexcept nogil
