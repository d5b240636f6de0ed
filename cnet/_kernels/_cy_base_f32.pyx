# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The compiled kernels in float32 (CNET_PRECISION=32), for any CPU: see _interface.pxi and setup.py."""
include "_interface.pxi"

ISA = "baseline"
