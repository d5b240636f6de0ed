# A team of threads meeting at a barrier (team.h).
cdef extern from "team.h":
    ctypedef struct cnet_team:
        int n
    # 1 where threads are supported (GCC or Clang, not Windows)
    int CNET_THREADS
    int cnet_arrive(cnet_team *t) noexcept nogil
    void cnet_release(cnet_team *t) noexcept nogil
    void cnet_barrier(cnet_team *t) noexcept nogil
    void cnet_go(cnet_team *t, int n, int stop) noexcept nogil
    int cnet_join(cnet_team *t, int me) noexcept nogil
    long cnet_take(cnet_team *t) noexcept nogil
    double cnet_seconds() noexcept nogil
