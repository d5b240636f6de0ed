# The kernels of _kernels.pxi in float32, compiled for any CPU (see setup.py).
include "_f32.pxi"
include "_kernels.pxi"

ISA = "baseline"
