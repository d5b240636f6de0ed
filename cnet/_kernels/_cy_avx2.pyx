# The kernels of _kernels.pxi in float64, compiled with AVX2 enabled;
# import only where _cy_base.cpu_has_avx2() is true (see setup.py).
include "_f64.pxi"
include "_kernels.pxi"

ISA = "avx2"
