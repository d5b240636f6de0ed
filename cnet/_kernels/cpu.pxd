# What the CPU can run (cpu.h).
cdef extern from "cpu.h":
    int cnet_cpu_has_avx2() noexcept nogil
    int cnet_cpu_has_avx512() noexcept nogil
