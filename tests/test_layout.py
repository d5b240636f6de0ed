"""The kernels' source: Cython's directives take effect (no bounds checks in the
loops), and cnet still imports, and shuffles as the book does, without any
compiled module."""
import os
import re
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "cnet", "_kernels")

# the cdef functions that run inside an epoch or a scan, without the GIL
LOOPS = ["count_nonzero", "gather_nonzero", "prefetch_example", "input_sum", "finish_forward",
         "forward", "backward", "step_layer", "scale_decay", "scale_fold", "output_error",
         "cost_value", "sigmoid", "train_part", "scan_part"]
# what Cython writes where an index is checked at run time
CHECKS = ["__Pyx_RaiseBufferIndexError", "Out of bounds on buffer access"]
RAISE = "__Pyx_RaiseBufferIndexError("


def cythonize(pyx, out_dir):
    """The C that Cython generates for ``pyx`` (with the directives in the file itself)."""
    Main = pytest.importorskip("Cython.Compiler.Main")
    if not os.path.exists(pyx):
        pytest.skip("not run from a source tree")
    out = os.path.join(out_dir, os.path.basename(pyx)[:-4] + ".c")
    options = Main.CompilationOptions(Main.default_options, output_file=out, include_path=[ROOT])
    result = Main.compile(pyx, options, full_module_name="cnet._kernels." + os.path.basename(pyx)[:-4])
    assert result.num_errors == 0
    with open(out) as f:
        return f.read()


def c_functions(source, module, name):
    """The bodies of the C functions Cython generated for the cdef function ``name``
    of ``cnet._kernels.<module>`` (one, or one per type of a fused function)."""
    c_name = r"(?:__pyx_fuse_\d+)?__pyx_f_4cnet_8_kernels_{}{}_{}".format(len(module), module, name)
    bodies = []
    for match in re.finditer(r"^static [^;{]*\b" + c_name + r"\([^;{]*\)\s*\{\n", source, re.M):
        bodies.append(source[match.end():source.index("\n}\n", match.end())])
    assert bodies, "no C function for {} in the generated source".format(name)
    return bodies


@pytest.mark.parametrize("module", ["_cy_base", "_cy_base_f32", "_cy_avx2", "_cy_avx2_f32", "_cy_avx512",
                                    "_cy_avx512_f32"])
def test_the_loops_have_no_bounds_checks(module, tmp_path):
    source = cythonize(os.path.join(KERNELS, module + ".pyx"), str(tmp_path))
    for name in LOOPS:
        for body in c_functions(source, module, name):
            for check in CHECKS:
                assert check not in body, "{} checks its indexes ({})".format(name, check)
    # nor anywhere else: boundscheck is off for the whole module
    assert RAISE not in source


def test_the_shuffle_has_no_bounds_checks(tmp_path):
    source = cythonize(os.path.join(KERNELS, "_common.pyx"), str(tmp_path))
    for check in CHECKS:
        assert check not in c_functions(source, "_common", "mt_next")[0]
    assert RAISE not in source     # shuffle_permutation's loop indexes memoryviews


def test_without_any_compiled_module_cnet_trains_and_shuffles_as_the_book():
    code = """
import importlib.abc, random, sys, warnings
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.startswith(("cnet._kernels._cy_", "cnet._kernels._common")):
            raise ImportError("blocked for the test")
sys.meta_path.insert(0, Block())
warnings.simplefilter("ignore")
import numpy as np
from cnet import _kernels, network
data = [(np.full((3, 1), i / 10.0), np.eye(2)[:, [i % 2]]) for i in range(10)]
random.seed(5)
expected = list(data)
random.shuffle(expected)
random.seed(5)
net = network.Network([3, 2], seed=None)
net.SGD(data, 1, 5, 1.0)
print(_kernels.common, _kernels.compiled, net.backend, all(a is b for a, b in zip(data, expected)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tempfile.gettempdir(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].split() == ["None", "None", "numpy", "True"]


def test_what_the_kernels_allocate_is_counted_by_tracemalloc():
    # The one allocator (alloc.h) is Python's raw allocator, so that tracemalloc sees
    # the packed inputs (the suite's memory figures rely on it), and gives it all back.
    import tracemalloc

    import numpy as np

    from cnet import _kernels
    K = _kernels.compiled
    if K is None:
        pytest.skip("the compiled kernels are not built")
    rng = np.random.default_rng(0)
    X = rng.random((2000, 300))
    X[X < 0.5] = 0.0
    nonzero = int(np.count_nonzero(X))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        packed = K.prepare(X)
        held = tracemalloc.get_traced_memory()[0] - before
        del packed
        left = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    entry = 4 + 8                                       # an int index and a float64 value
    assert nonzero * entry <= held <= nonzero * entry * 1.1 + 2001 * 8 + 4096
    assert left < 4096


def test_the_kernel_sources_stay_small_and_keep_their_c_in_headers():
    # One concern per file, each readable in one sitting; C lives in the .h files,
    # declared in .pxd files, never in Python strings (`cdef extern from *`).
    if not os.path.isdir(KERNELS):
        pytest.skip("not run from a source tree")
    names = [f for f in os.listdir(KERNELS) if f.endswith((".pyx", ".pxi", ".pxd", ".h", ".py"))]
    assert {"real.h", "vec.h", "team.h", "alloc.h", "_common.pyx", "_interface.pxi"} <= set(names)
    for name in names:
        with open(os.path.join(KERNELS, name), encoding="utf-8") as f:
            text = f.read()
        assert text.count("\n") <= 400, "{} has grown past 400 lines".format(name)
        if name.endswith((".pyx", ".pxi", ".pxd")):
            assert not re.search(r"cdef\s+extern\s+from\s+\*", text), "{} holds C in a string".format(name)


def test_every_package_of_the_source_tree_is_installed():
    # pyproject.toml lists the packages a wheel holds; a package left out of it is
    # missing from every install but an editable one (cnet.cli was, once)
    tomllib = pytest.importorskip("tomllib")
    if not os.path.exists(os.path.join(ROOT, "pyproject.toml")):
        pytest.skip("not run from a source tree")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
    found = {os.path.relpath(d, ROOT).replace(os.sep, ".")
             for d, _, files in os.walk(os.path.join(ROOT, "cnet")) if "__init__.py" in files}
    assert found == listed
