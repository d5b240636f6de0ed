"""The source is lint-clean: ruff for Python, cython-lint for the kernels
(configured in pyproject.toml).  Both come with the ``[test]`` extra."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(tool, *args):
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip("{} is not installed (pip install '.[test]')".format(tool))
    if not os.path.exists(os.path.join(ROOT, "pyproject.toml")):
        pytest.skip("not run from a source tree")
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_is_clean():
    result = _run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_cython_lint_is_clean():
    pyx = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(ROOT, "cnet"))
           for f in files if f.endswith((".pyx", ".pxi", ".pxd"))]
    result = _run("cython-lint", *pyx)
    assert result.returncode == 0, result.stdout + result.stderr
