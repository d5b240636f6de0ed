# The kernels of _kernels.pxi, compiled for any x86-64 (or other) CPU (see setup.py).
include "_kernels.pxi"

ISA = "baseline"
