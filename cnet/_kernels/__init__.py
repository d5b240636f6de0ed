"""One kernel interface, two implementations.

``numpy_kernels`` (pure NumPy, the reference) and the compiled Cython kernels
(``_interface.pxi`` and the files it includes, built for float64 and float32,
each for any CPU, with AVX2 and with AVX-512) all provide the interface written
down in ``interface.Kernels`` (``supports``, ``prepare``, ``feedforward``,
``predict``, ``backprop``, ``train``, ``cost_and_predict`` and ``cost_sum``) with
the same arguments and results; each takes ``spec``, the layers as a tuple of
``spec.LayerSpec``.  ``get(name, dtype)`` picks
one: ``"cython"``, ``"numpy"``, or ``None`` for the ``CNET_BACKEND`` environment
variable, else the compiled kernels when they are built.  The NumPy kernels
compute in the dtype of the weights they are given; each compiled module in its
own.

``common`` is the compiled module that does not depend on the precision or the
instruction set (``_common.pyx``: the book's shuffle, the CPU check), or None
when it is not built.
"""
import importlib
import os
import warnings

from cnet._kernels import numpy_kernels

BACKENDS = ("cython", "numpy")


def _load_common():
    try:
        return importlib.import_module("cnet._kernels._common")
    except ImportError:
        return None


common = _load_common()


def _load_compiled(suffix=""):
    """The fastest compiled kernel module for this CPU (``suffix`` "" for float64,
    "_f32" for float32), and why there is none."""
    try:
        base = importlib.import_module("cnet._kernels._cy_base" + suffix)
    except ImportError as exc:
        return None, str(exc)
    if os.environ.get("CNET_NO_AVX2") != "1" and common is not None and common.cpu_has_avx2():
        names = ["_cy_avx2"]
        if os.environ.get("CNET_NO_AVX512") != "1" and common.cpu_has_avx512():
            names.insert(0, "_cy_avx512")
        for name in names:
            try:
                return importlib.import_module("cnet._kernels." + name + suffix), None
            except ImportError:
                pass
    return base, None


compiled, compiled_error = _load_compiled()
compiled_f32, _ = _load_compiled("_f32")
if compiled is None:
    from cnet import _checkout
    # why, in words: for a source checkout hiding a compiled cnet installed elsewhere, both paths
    compiled_error, _warning = _checkout.explain(compiled_error)
    if os.environ.get("CNET_BACKEND", "").lower() != "numpy":
        warnings.warn(_warning, RuntimeWarning, stacklevel=2)


def dtype_of(dtype):
    """``dtype`` as np.float64 or np.float32; anything else is a ValueError."""
    import numpy as np
    try:
        d = np.dtype(dtype)
    except (TypeError, ValueError, AttributeError):
        d = None
    if d is None or d.type not in (np.float64, np.float32):
        raise ValueError("dtype must be numpy.float64 or numpy.float32, got {!r}".format(dtype))
    return d.type


def get(name=None, dtype=None):
    """The kernel module for backend ``name`` ("cython", "numpy" or None) computing
    in ``dtype`` (float64 by default, or float32)."""
    if name is None:
        name = os.environ.get("CNET_BACKEND") or ("cython" if compiled is not None else "numpy")
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError("backend must be one of {}, got {!r}".format(BACKENDS, name))
    if name.lower() == "numpy":
        return numpy_kernels
    module = compiled if dtype is None or dtype_of(dtype) is dtype_of("float64") else compiled_f32
    if module is None:
        raise RuntimeError("backend='cython' was asked for, but the compiled kernels are "
                           "not built ({})".format(compiled_error))
    return module
