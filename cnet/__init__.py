"""cnet: the networks of *Neural Networks and Deep Learning*, compiled.

``from cnet import network, network2, mnist_loader`` replaces the book's
modules; ``from cnet import Network`` is ``cnet.network.Network``.
``cnet.info()`` says which kernels are running (``python -m cnet info``).
"""
from cnet import network, network2
from cnet._version import __version__
from cnet.network import Network

__all__ = ["Network", "info", "network", "network2"]

# the environment variables cnet reads; info() reports those that are set
ENVIRONMENT = ("CNET_BACKEND", "CNET_NUM_THREADS", "CNET_NO_AVX2", "CNET_NO_AVX512", "CNET_DATA_DIR")


def info():
    """What this installation of cnet runs on, as a dict (for bug reports):

    ``version``; ``compiled`` (True when the compiled kernels serve float64) and
    ``build`` (which compiled variant this CPU uses: "avx512", "avx2" or "baseline", None
    when not compiled); ``float32_compiled`` and ``float32_build`` likewise for
    float32; ``why_not_compiled`` (why there are no compiled float64 kernels, or
    None); ``not_built_at_install`` (which compiled modules the install had to
    leave out, and why, or None); ``backend`` (what a Network uses by default: "cython" or "numpy");
    ``threads_supported`` (whether ``num_threads`` > 1 can share the work);
    ``python``, ``numpy``, ``platform``; ``cpu`` (the architecture, model and
    whether it has AVX2, FMA and AVX-512F: True, False, or None where this
    system cannot tell); ``environment`` (the CNET_* variables that are set).
    """
    import os
    import platform

    import numpy

    from cnet import _kernels

    compiled, compiled_f32 = _kernels.compiled, getattr(_kernels, "compiled_f32", None)
    not_built = None
    record = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_build_failure.txt")
    if os.path.exists(record):          # written by setup.py when the build left modules out
        with open(record, encoding="utf-8") as f:
            not_built = " ".join(f.read().split())
    why = None if compiled is not None else str(getattr(_kernels, "compiled_error", None) or "unknown")
    try:
        backend = _kernels.get().NAME
    except (ValueError, RuntimeError) as exc:
        backend = "error: {}".format(exc)
    threads = getattr(compiled, "threads_supported", None)
    return {
        "version": __version__,
        "compiled": compiled is not None,
        "build": getattr(compiled, "ISA", None) if compiled is not None else None,
        "float32_compiled": compiled_f32 is not None,
        "float32_build": getattr(compiled_f32, "ISA", None) if compiled_f32 is not None else None,
        "why_not_compiled": why,
        "not_built_at_install": not_built,
        "backend": backend,
        "threads_supported": bool(threads()) if threads is not None else False,
        "python": "{} {}".format(platform.python_implementation(), platform.python_version()),
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cpu": _cpu(),
        "environment": {k: os.environ[k] for k in ENVIRONMENT if k in os.environ},
    }


def _cpu():
    """The CPU's architecture, model and the features the kernels care about
    (None for a feature this system does not say)."""
    import platform
    import sys

    cpu = {"arch": platform.machine(), "model": None, "avx2": None, "fma": None, "avx512f": None}
    x86 = cpu["arch"].lower() in ("x86_64", "amd64", "i386", "i686", "x86")
    if not x86:
        cpu.update(avx2=False, fma=False, avx512f=False)
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            text = ""
        for line in text.splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "hardware", "cpu model") and cpu["model"] is None:
                cpu["model"] = value.strip()
            elif key == "flags" and x86:
                flags = set(value.split())
                cpu.update(avx2="avx2" in flags, fma="fma" in flags, avx512f="avx512f" in flags)
                break
    elif sys.platform == "win32" and x86:
        try:
            import ctypes
            present = ctypes.windll.kernel32.IsProcessorFeaturePresent
            # PF_AVX2_INSTRUCTIONS_AVAILABLE = 40, PF_AVX512F_INSTRUCTIONS_AVAILABLE = 41
            cpu.update(avx2=bool(present(40)), avx512f=bool(present(41)))
        except (AttributeError, OSError):
            pass
    if cpu["model"] is None:
        cpu["model"] = platform.processor() or None
    return cpu
