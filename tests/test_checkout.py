"""A source checkout without compiled modules, imported instead of a compiled cnet installed
elsewhere, says so: both paths and the ways out, in its warning and in ``cnet info``."""
import importlib.machinery
import os
import shutil
import subprocess
import sys

import pytest

import cnet
from cnet import _checkout

INSTALLED = os.path.dirname(os.path.realpath(cnet.__file__))   # the cnet under test: compiled
ROOT = os.path.dirname(INSTALLED)
BUILD = "`pip install -e .` or `python setup.py build_ext --inplace`"
ERROR = "No module named 'cnet._kernels._cy_base'"

pytestmark = pytest.mark.skipif(not _checkout.has_kernels(INSTALLED),
                                reason="the cnet under test has no compiled kernels to be hidden")


def copy_without_kernels(where, checkout):
    """A copy of the cnet package under test in ``where``/cnet, without its compiled
    modules (a fresh clone's); with ``checkout`` a setup.py beside it, as in a source tree."""
    shutil.copytree(INSTALLED, os.path.join(where, "cnet"), ignore=shutil.ignore_patterns(
        "*.so", "*.pyd", "*.c", "__pycache__", "_build_failure.txt"))
    if checkout:
        with open(os.path.join(where, "setup.py"), "w") as f:
            f.write("# a source tree's setup.py\n")
    return os.path.join(where, "cnet")


def python(args, cwd, path):
    env = {k: v for k, v in os.environ.items() if k not in ("CNET_BACKEND", "PYTHONPATH")}
    env["PYTHONPATH"] = os.pathsep.join(path)
    return subprocess.run([sys.executable] + args, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=120)


def test_a_checkout_hiding_the_installed_cnet_says_so_and_how_out(tmp_path):
    tree = os.path.realpath(str(tmp_path / "tree"))
    os.mkdir(tree)
    package = copy_without_kernels(tree, checkout=True)
    # from the checkout's root: `python -m cnet` imports the checkout (the current
    # directory comes first), with the compiled cnet on sys.path after it
    r = python(["-m", "cnet", "info"], cwd=tree, path=[ROOT])
    assert r.returncode == 0, r.stderr
    why = ("this cnet, {}, is a source checkout without its compiled modules ({}), imported instead of "
           "the compiled cnet installed at {} because the current directory comes first on sys.path. "
           "To run the installed cnet, run from another directory; to develop in this checkout, build "
           "its kernels there with {}.".format(package, ERROR, INSTALLED, BUILD))
    assert "RuntimeWarning: cnet: the compiled kernels are not built; using the pure-NumPy fallback, " \
           "which is much slower: " + why + "\n" in r.stderr
    assert "reinstall" not in r.stderr.lower()          # the advice for an installed cnet
    lines = dict(line.split(None, 1) for line in r.stdout.splitlines())
    assert lines["compiled"] == "False" and lines["why_not_compiled"] == why
    # the first way out: from another directory, the installed cnet, compiled
    r = python(["-m", "cnet", "info"], cwd=str(tmp_path), path=[ROOT])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert dict(line.split(None, 1) for line in r.stdout.splitlines())["compiled"] == "True"


def test_a_copy_first_on_pythonpath_says_which_entry(tmp_path):
    where = os.path.realpath(str(tmp_path / "copy"))
    os.mkdir(where)
    package = copy_without_kernels(where, checkout=False)
    r = python(["-c", "import cnet"], cwd=str(tmp_path), path=[where, ROOT])
    assert r.returncode == 0, r.stderr
    assert ("this cnet, {}, is a copy of cnet without its compiled modules ({}), imported instead of the "
            "compiled cnet installed at {} because its directory, {}, comes first on sys.path. To run the "
            "installed cnet, take {} off sys.path (PYTHONPATH).\n".format(
                package, ERROR, INSTALLED, where, where)) in r.stderr
    assert "pip install -e" not in r.stderr          # not a source tree: nothing to build in place


def test_kernels_that_are_there_but_fail_are_not_called_missing():
    # the cnet under test has its compiled files: they failed for another reason
    why, warning = _checkout.explain("blocked", INSTALLED)
    assert why == "blocked" and "installed at" not in warning
    assert _checkout.shadowed(INSTALLED) is None


def only_this_cnet(monkeypatch, directory):
    """sys.path holds ``directory`` alone, and no finder but the path's (an editable
    install's) is left to find another cnet."""
    monkeypatch.setattr(sys, "path", [str(directory)])
    monkeypatch.setattr(sys, "meta_path", [m for m in sys.meta_path if m is importlib.machinery.PathFinder])


def test_a_checkout_with_no_compiled_cnet_elsewhere_is_told_to_build_in_place(tmp_path, monkeypatch):
    package = copy_without_kernels(str(tmp_path), checkout=True)
    only_this_cnet(monkeypatch, tmp_path)
    assert _checkout.shadowed(package) is None
    why, warning = _checkout.explain(ERROR, package)
    assert why == ERROR
    assert warning == ("cnet: the compiled kernels are not built ({}); using the pure-NumPy fallback, which "
                       "is much slower. To develop in this checkout, build its kernels there with {}.".format(
                           ERROR, BUILD))


def test_an_installed_cnet_built_without_a_compiler_is_told_how_to_rebuild(tmp_path, monkeypatch):
    # an installed cnet (no setup.py beside it), the only one: pip built it without a C
    # compiler, and a plain `pip install .` would reuse the cached wheel without kernels
    package = copy_without_kernels(str(tmp_path), checkout=False)
    only_this_cnet(monkeypatch, tmp_path)
    assert _checkout.shadowed(package) is None
    why, warning = _checkout.explain(ERROR, package)
    assert why == ERROR
    assert warning == ("cnet: the compiled kernels are not built ({}); using the pure-NumPy fallback, which "
                       "is much slower. Install a C compiler, then reinstall with `pip install "
                       "--force-reinstall --no-cache-dir .` from cnet's source tree (without "
                       "--no-cache-dir pip may reuse the wheel it built without them).".format(ERROR))
