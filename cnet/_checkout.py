"""Why the compiled kernels are missing: a source checkout without them, hiding a compiled cnet installed elsewhere."""
import importlib.machinery
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))   # the directory of this cnet package
BUILD = "`pip install -e .` or `python setup.py build_ext --inplace`"


def has_kernels(package):
    """Whether the cnet package in directory ``package`` holds compiled float64 kernels
    that this Python can load (a ``_kernels/_cy_base`` file with one of its extension
    suffixes)."""
    kernels = os.path.join(package, "_kernels")
    return any(os.path.isfile(os.path.join(kernels, "_cy_base" + suffix))
               for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def _other_packages():
    """The directories of every cnet package this Python could import: ``cnet`` under
    each sys.path entry, then where the import system's other finders would find it
    (an editable install's finder maps the name to its source tree)."""
    for entry in sys.path:
        if isinstance(entry, str):
            yield os.path.join(entry or os.getcwd(), "cnet")
    for finder in sys.meta_path:
        if finder is importlib.machinery.PathFinder:
            continue                                  # sys.path's entries, seen above
        try:
            spec = finder.find_spec("cnet", None)
        except Exception:                             # a finder of another project's kind
            continue
        if spec is not None and spec.submodule_search_locations:
            yield from spec.submodule_search_locations


def shadowed(package=HERE):
    """The directory of a compiled cnet installed elsewhere that the cnet in ``package``,
    itself without compiled kernels, is imported instead of; None if there is none
    (or if ``package`` has its compiled kernels: they failed for another reason)."""
    if has_kernels(package):
        return None
    here = os.path.realpath(package)
    for other in _other_packages():
        if os.path.realpath(other) != here and has_kernels(other):
            return os.path.abspath(other)
    return None


def is_checkout(package=HERE):
    """Whether ``package`` sits in a source tree (its directory holds setup.py)."""
    return os.path.isfile(os.path.join(os.path.dirname(package), "setup.py"))


def _why_first(package):
    """Why Python imported ``package`` first, and how to import the installed cnet instead."""
    parent = os.path.dirname(package)
    if os.path.realpath(parent) == os.path.realpath(os.getcwd()) and (
            "" in sys.path or os.getcwd() in sys.path):
        return "the current directory comes first on sys.path", "run from another directory"
    return ("its directory, {}, comes first on sys.path".format(parent),
            "take {} off sys.path (PYTHONPATH)".format(parent))


def explain(error, package=HERE):
    """``(why, warning)`` for compiled kernels that failed to import with ``error``: why
    there are none (``error``, or for a checkout or copy that hides a compiled cnet
    installed elsewhere, both paths and the ways out), and the warning that says it."""
    fallback = "cnet: the compiled kernels are not built"
    slower = "using the pure-NumPy fallback, which is much slower"
    installed = shadowed(package)
    if installed is not None:
        checkout = is_checkout(package)
        reason, remedy = _why_first(package)
        why = ("this cnet, {}, is {} without its compiled modules ({}), imported instead of the compiled "
               "cnet installed at {} because {}. To run the installed cnet, {}{}.".format(
                   package, "a source checkout" if checkout else "a copy of cnet", error, installed, reason,
                   remedy, "; to develop in this checkout, build its kernels there with " + BUILD
                   if checkout else ""))
        return why, "{}; {}: {}".format(fallback, slower, why)
    if is_checkout(package) and not has_kernels(package):
        advice = "To develop in this checkout, build its kernels there with {}.".format(BUILD)
    else:
        advice = ("Install a C compiler, then reinstall with `pip install --force-reinstall --no-cache-dir .` "
                  "from cnet's source tree (without --no-cache-dir pip may reuse the wheel it built "
                  "without them).")
    return error, "{} ({}); {}. {}".format(fallback, error, slower, advice)
