"""Build the compiled kernels -- or, where they cannot be built, install without them.

One kernel source (cnet/_kernels/_interface.pxi and the files it includes) is
compiled for float64 (``_cy_base``) and float32 (``_cy_base_f32``), the precision
set by the define CNET_PRECISION (real.h), and, on x86-64, again for each with
AVX2 enabled (``_cy_avx2``, ``_cy_avx2_f32``) and with AVX-512, whose input-layer
loops take 64-byte vectors (``_cy_avx512``, ``_cy_avx512_f32``; not with MSVC);
cnet picks the widest one the CPU supports at import time.  ``_common`` (the shuffle, the CPU check) is compiled
once.  All are built with ``-ffp-contract=off`` so
that no multiply-add is fused: a base module and its AVX2 twin give the same
bits, and the wider one is only faster.  ``EXTENSIONS`` below is the one table
of what is built.

The .pyx files are translated to C by Cython at build time (the sdist ships no
generated .c).  If there is no working C compiler, or Cython is missing, or a
module fails to compile, the install still succeeds: the modules that did not
build are left out and cnet runs them on its pure-NumPy kernels (``import cnet``
warns; ``cnet.info()`` says why).  ``CNET_REQUIRE_COMPILED=1`` makes any such
failure fail the build instead.

Set ``CNET_NATIVE=1`` to compile the base modules with ``-march=native``
(faster on the build machine, not portable).
"""
import os
import sys
import sysconfig
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CCompilerError, ExecError, PlatformError

if sys.platform == "win32":
    base_flags = ["/O2"]
    avx2_flags = ["/O2", "/arch:AVX2"]
    avx512_flags = None
else:
    base_flags = ["-O3", "-ffp-contract=off"]
    avx2_flags = base_flags + ["-mavx2", "-mfma"]
    # CNET_WIDE: the input layer's loops in 64-byte vectors (vec.h)
    avx512_flags = avx2_flags + ["-mavx512f", "-mavx512vl", "-mavx512dq", "-DCNET_WIDE=1"]
    if os.environ.get("CNET_NATIVE") == "1":
        base_flags = base_flags + ["-march=native"]
# the target platform (cibuildwheel cross-compiles on macOS and says so here)
x86_64 = sysconfig.get_platform().lower().endswith(("x86_64", "amd64"))

# the crew of threads that chapter 6's kernels share a call among (crew.h) is POSIX threads
threads_link = [] if sys.platform == "win32" else ["-pthread"]

# CNET_SANITIZE=1: AddressSanitizer and UndefinedBehaviorSanitizer (tools/sanitize.sh)
sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"] if os.environ.get("CNET_SANITIZE") == "1" else []

KERNELS = "cnet/_kernels/"
# The kernels' C headers (real.h, vec.h, group.h, team.h, alloc.h, cpu.h, pack.h) are in
# cnet/_kernels, NumPy's (packing reads arrays through its C API) where
# numpy.get_include() says, added at build time; Cython's directives
# (boundscheck=False, ...) are at the top of each .pyx.
INCLUDE_DIRS = ["cnet/_kernels"]


def precision(bits):
    """The define that sets the kernels' reals to float64 (64) or float32 (32): real.h."""
    return [("CNET_PRECISION", str(bits))]


# (module, sources, extra compile flags, define_macros) -- every compiled module
EXTENSIONS = [
    ("cnet._kernels._common", [KERNELS + "_common.pyx"], base_flags, []),
    ("cnet._kernels._cy_base", [KERNELS + "_cy_base.pyx"], base_flags, precision(64)),
    ("cnet._kernels._cy_base_f32", [KERNELS + "_cy_base_f32.pyx"], base_flags, precision(32)),
]
if x86_64:
    EXTENSIONS += [
        ("cnet._kernels._cy_avx2", [KERNELS + "_cy_avx2.pyx"], avx2_flags, precision(64)),
        ("cnet._kernels._cy_avx2_f32", [KERNELS + "_cy_avx2_f32.pyx"], avx2_flags, precision(32)),
    ]
if x86_64 and avx512_flags is not None:
    EXTENSIONS += [
        ("cnet._kernels._cy_avx512", [KERNELS + "_cy_avx512.pyx"], avx512_flags, precision(64)),
        ("cnet._kernels._cy_avx512_f32", [KERNELS + "_cy_avx512_f32.pyx"], avx512_flags, precision(32)),
    ]

# passed to cythonize for every module
COMPILER_DIRECTIVES = {"language_level": "3"}

# the files every module may include: a change to any of them rebuilds all
DEPENDS = sorted(KERNELS + f for f in os.listdir(KERNELS) if f.endswith((".pxi", ".pxd", ".h")))

HOW_TO_GET_THEM = ("to get them, install a C compiler (and Cython>=3 for builds without isolation) and "
                   "reinstall with `pip install --force-reinstall --no-cache-dir` and the same sdist or source "
                   "tree, or install a wheel; set CNET_REQUIRE_COMPILED=1 to make such a build fail instead")

# written into the installed package when modules were left out; cnet.info() reads it
FAILURE_RECORD = "_build_failure.txt"


class optional_build_ext(build_ext):
    """build_ext that cythonizes at build time and, unless CNET_REQUIRE_COMPILED=1,
    leaves out the modules that cannot be built instead of failing."""

    def run(self):
        self.failures = {}
        reason = self._why_not_buildable()
        if reason is not None:
            self._give_up(reason, [ext.name for ext in self.extensions])
            return
        import numpy
        for ext in self.extensions:
            ext.include_dirs.append(numpy.get_include())
            ext.define_macros.append(("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"))
        from Cython.Build import cythonize
        translated = cythonize(self.extensions, compiler_directives=COMPILER_DIRECTIVES,
                               nthreads=self.parallel if isinstance(self.parallel, int) else 0)
        sources = {ext.name: ext.sources for ext in translated}
        for ext in self.extensions:     # keep the objects finalize_options prepared
            ext.sources = sources[ext.name]
        super().run()
        if self.failures:
            self._give_up("; ".join("{}: {}".format(k, v) for k, v in sorted(self.failures.items())),
                          sorted(self.failures))
        else:
            self._record(None)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except (CCompilerError, ExecError, PlatformError, OSError) as exc:
            self.failures[ext.name] = _one_line(exc)

    def _why_not_buildable(self):
        """None if Cython is there and a C compiler compiles a trivial file, else why not."""
        try:
            import Cython  # noqa: F401
        except ImportError:
            return "Cython is not installed"
        try:
            import numpy  # noqa: F401
        except ImportError:
            return "NumPy is not installed"
        # the distutils setuptools builds with (its own copy, once setuptools is imported)
        from distutils.ccompiler import new_compiler
        from distutils.sysconfig import customize_compiler
        try:
            compiler = new_compiler(compiler=self.compiler)
            customize_compiler(compiler)
            here = os.getcwd()
            with tempfile.TemporaryDirectory() as tmp:
                os.chdir(tmp)           # so that the error names probe.c, not a long path
                try:
                    with open("probe.c", "w") as f:
                        f.write("int cnet_probe(void) { return 0; }\n")
                    compiler.compile(["probe.c"])
                finally:
                    os.chdir(here)
        except Exception as exc:        # whatever stops a trivial file from compiling
            return "no working C compiler ({})".format(_one_line(exc))
        return None

    def _give_up(self, reason, names):
        message = "cnet: the compiled kernels were not built ({}): {}".format(
            ", ".join(name.rsplit(".", 1)[-1] for name in names), reason)
        if os.environ.get("CNET_REQUIRE_COMPILED") == "1":
            raise CCompilerError(message + "; CNET_REQUIRE_COMPILED=1 makes this an error")
        if not self.inplace:
            # an earlier build's module left in build/ would otherwise ship, stale
            for name in names:
                path = self.get_ext_fullpath(name)
                if os.path.exists(path):
                    os.remove(path)
        print("\n{}; cnet will run on its pure-NumPy kernels, which are much slower; {}\n".format(
            message, HOW_TO_GET_THEM), file=sys.stderr, flush=True)
        self._record(message)

    def _record(self, message):
        # cnet/_build_failure.txt in the built package: what failed, for cnet.info()
        if self.inplace:
            return
        path = os.path.join(self.build_lib, "cnet", FAILURE_RECORD)
        if message is None:
            if os.path.exists(path):
                os.remove(path)
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(message + "\n")

    def get_outputs(self):
        # the modules that were left out are not outputs (bdist_wheel checks)
        outputs = [p for p in super().get_outputs() if os.path.exists(p)]
        record = os.path.join(self.build_lib, "cnet", FAILURE_RECORD)
        if not self.inplace and os.path.exists(record):
            outputs.append(record)
        return outputs


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


setup(
    ext_modules=[
        Extension(name, sources, extra_compile_args=flags + threads_link + sanitize,
                  extra_link_args=threads_link + sanitize,
                  define_macros=macros, include_dirs=INCLUDE_DIRS, depends=DEPENDS)
        for name, sources, flags, macros in EXTENSIONS
    ],
    cmdclass={"build_ext": optional_build_ext},
)
