"""One kernel interface, two implementations.

``numpy_kernels`` (pure NumPy, the reference) and the compiled Cython kernels
(``_kernels.pxi``, built twice: ``_cy_base`` for any CPU and ``_cy_avx2``) both
provide ``supports``, ``feedforward``, ``predict``, ``backprop``, ``train`` and
``cost_sum`` with the same arguments and results.  ``get(name)`` picks one:
``"cython"``, ``"numpy"``, or ``None`` for the ``CNET_BACKEND`` environment
variable, else the compiled kernels when they are built.
"""
import os
import warnings

from cnet._kernels import numpy_kernels

BACKENDS = ("cython", "numpy")


def _load_compiled():
    """The fastest compiled kernel module this CPU runs, and why there is none."""
    try:
        from cnet._kernels import _cy_base
    except ImportError as exc:
        return None, str(exc)
    if os.environ.get("CNET_NO_AVX2") != "1" and _cy_base.cpu_has_avx2():
        try:
            from cnet._kernels import _cy_avx2
            return _cy_avx2, None
        except ImportError:
            pass
    return _cy_base, None


compiled, compiled_error = _load_compiled()
if compiled is None and os.environ.get("CNET_BACKEND", "").lower() != "numpy":
    warnings.warn(
        "cnet: the compiled kernels are not built ({}); using the pure-NumPy "
        "fallback, which is much slower. Reinstall with `pip install .` and a C "
        "compiler to build them.".format(compiled_error),
        RuntimeWarning,
        stacklevel=2,
    )


def get(name=None):
    """The kernel module for backend ``name`` ("cython", "numpy" or None)."""
    if name is None:
        name = os.environ.get("CNET_BACKEND") or ("cython" if compiled is not None else "numpy")
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError("backend must be one of {}, got {!r}".format(BACKENDS, name))
    if name.lower() == "numpy":
        return numpy_kernels
    if compiled is None:
        raise RuntimeError("backend='cython' was asked for, but the compiled kernels are "
                           "not built ({})".format(compiled_error))
    return compiled
