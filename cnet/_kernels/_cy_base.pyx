# The kernels of _kernels.pxi in float64, compiled for any CPU (see setup.py).
include "_f64.pxi"
include "_kernels.pxi"

ISA = "baseline"
