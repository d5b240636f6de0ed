# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The compiled kernels in float32 (CNET_PRECISION=32), with AVX-512 (64-byte vectors in the input
layer's loops, the same bits): see _interface.pxi and setup.py."""
include "_interface.pxi"

ISA = "avx512"
