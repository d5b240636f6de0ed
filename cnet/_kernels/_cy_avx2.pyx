# The kernels of _kernels.pxi, compiled with AVX2 enabled (see setup.py).
# Import only where _cy_base.cpu_has_avx2() is true.
include "_kernels.pxi"

ISA = "avx2"
