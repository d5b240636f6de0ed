"""Build the compiled kernels.

One kernel source (cnet/_kernels/_interface.pxi and the files it includes) is
compiled for float64 (``_cy_base``) and float32 (``_cy_base_f32``), the precision
set by the define CNET_PRECISION (real.h), and, on x86-64, again for each with
AVX2 enabled (``_cy_avx2``, ``_cy_avx2_f32``); cnet picks the widest one the CPU
supports at import time.  ``_common`` (the shuffle, the CPU check) is compiled
once.  All are built with ``-ffp-contract=off`` so
that no multiply-add is fused: a base module and its AVX2 twin give the same
bits, and the wider one is only faster.

Set ``CNET_NATIVE=1`` to compile the base module with ``-march=native``
(faster on the build machine, not portable).
"""
import os
import platform
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

if sys.platform == "win32":
    base_flags = ["/O2"]
    avx2_flags = ["/O2", "/arch:AVX2"]
else:
    base_flags = ["-O3", "-ffp-contract=off"]
    avx2_flags = base_flags + ["-mavx2", "-mfma"]
    if os.environ.get("CNET_NATIVE") == "1":
        base_flags = base_flags + ["-march=native"]

# (module, compiler flags, bits of the kernels' reals: the CNET_PRECISION define)
modules = [("cnet._kernels._common", base_flags, None),
           ("cnet._kernels._cy_base", base_flags, 64), ("cnet._kernels._cy_base_f32", base_flags, 32)]
if platform.machine().lower() in ("x86_64", "amd64"):
    modules += [("cnet._kernels._cy_avx2", avx2_flags, 64), ("cnet._kernels._cy_avx2_f32", avx2_flags, 32)]

# The C headers (real.h, vec.h, team.h, alloc.h, cpu.h) are in cnet/_kernels; Cython's
# directives (boundscheck=False, ...) are at the top of each .pyx.
extensions = [
    Extension(name, [name.replace(".", "/") + ".pyx"], extra_compile_args=flags,
              include_dirs=["cnet/_kernels"],
              define_macros=[("CNET_PRECISION", str(bits))] if bits else [])
    for name, flags, bits in modules
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3"},
    ),
)
