# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The compiled kernels in float64 (CNET_PRECISION=64), for any CPU: see _interface.pxi and setup.py."""
include "_interface.pxi"

ISA = "baseline"
