"""The sdist: complete, and installable where no C compiler works.

Slow (each test builds or installs in a new environment, fetching the build's
requirements from PyPI), so marked ``packaging`` and left out of a plain
``pytest``; ``.ci/run`` runs them with ``pytest -m packaging``.  They test the
sdist named by ``CNET_SDIST`` (``tools/build_wheel.sh`` makes one), else one
built here from the source tree with ``python -m build --sdist``.
"""
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

pytestmark = pytest.mark.packaging

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NO_COMPILER = {"CC": "/bin/false", "CXX": "/bin/false"}
MESSAGE = "cnet: the compiled kernels were not built"

if sys.platform == "win32":
    pytest.skip("/bin/false is the failing compiler these tests use", allow_module_level=True)


def _env(**changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("CNET_REQUIRE_COMPILED", "CNET_BACKEND", "CNET_NO_AVX2", "PYTHONPATH")}
    env.update(changes)
    return env


def _run(args, env=None, cwd=None, timeout=900):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env or _env(), cwd=cwd,
                       timeout=timeout)
    return r, r.stdout + r.stderr


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    given = os.environ.get("CNET_SDIST")
    if given:
        return os.path.abspath(given)
    if not os.path.exists(os.path.join(ROOT, "setup.py")):
        pytest.skip("not run from a source tree, and CNET_SDIST names no sdist")
    out = tmp_path_factory.mktemp("sdist")
    r, log = _run([sys.executable, "-m", "build", "--sdist", "--outdir", out, ROOT])
    assert r.returncode == 0, log
    # (the NPY_NO_DEPRECATED_API define on compile lines is not a warning)
    assert "deprecat" not in log.lower().replace("npy_no_deprecated_api", ""), log
    (path,) = glob.glob(str(out / "nndl_cnet-*.tar.gz"))
    return path


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A new virtual environment's python, with nothing installed."""
    d = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(d)], check=True, timeout=300)
    return d / "bin" / "python"


def _members(sdist):
    with tarfile.open(sdist) as tar:
        names = [m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile() and "/" in m.name]
        pkg_info = tar.extractfile(next(m for m in tar.getmembers() if m.name.count("/") == 1
                                        and m.name.endswith("/PKG-INFO"))).read().decode()
    return set(names), pkg_info


def test_sdist_is_complete_and_holds_no_build_output(sdist):
    names, pkg_info = _members(sdist)
    generated = [n for n in names if n.endswith(".c") and n[:-2] + ".pyx" in names]
    assert not generated, "generated C in the sdist: {}".format(generated)
    assert not [n for n in names if n.endswith((".so", ".pyd", ".o"))]
    for required in ("setup.py", "pyproject.toml", "MANIFEST.in", "README.md", "LICENSE",
                     "cnet/_version.py", "cnet/_kernels/numpy_kernels.py", "tests/conftest.py"):
        assert required in names
    # every kernel source of the tree, whatever its name
    kernels = os.path.join(ROOT, "cnet", "_kernels")
    if os.path.isdir(kernels):
        for f in os.listdir(kernels):
            if f.endswith((".pyx", ".pxi", ".pxd", ".h")):
                assert "cnet/_kernels/" + f in names
    # and every file git tracks, but for CI's own
    r = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if r.returncode == 0 and r.stdout:
        tracked = {f for f in r.stdout.splitlines() if not f.startswith((".ci/", ".git"))}
        assert not tracked - names, "tracked files missing from the sdist: {}".format(sorted(tracked - names))
    # the metadata a package index shows
    version = re.search(r'__version__ = "([^"]+)"', open(os.path.join(ROOT, "cnet", "_version.py")).read())
    assert "\nVersion: {}\n".format(version.group(1)) in pkg_info
    assert "\nLicense-Expression: MIT\n" in pkg_info and "\nLicense-File: LICENSE\n" in pkg_info
    assert "\nRequires-Python: >=3.9\n" in pkg_info and "\nProvides-Extra: test\n" in pkg_info


TRAIN = """
import json, os, warnings
import numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import cnet
rng = np.random.default_rng(0)
xs = rng.random((300, 2, 1))
labels = [int(x[0, 0] > x[1, 0]) for x in xs]
onehot = [np.eye(2)[[j]].T for j in labels]
training, test = list(zip(xs[:200], onehot[:200])), list(zip(xs[200:], labels[200:]))
net = cnet.Network([2, 8, 2], seed=1)
before = net.evaluate(test)
net.SGD(training, 40, 10, 3.0)
print(json.dumps({"info": cnet.info(), "file": os.path.realpath(cnet.__file__), "backend": net.backend,
                  "before": before, "after": net.evaluate(test),
                  "warnings": [str(w.message) for w in caught]}))
"""


def test_sdist_installs_without_a_compiler_and_trains_on_numpy(sdist, venv, tmp_path):
    r, log = _run([venv, "-m", "pip", "install", "-v", "--no-cache-dir", "--disable-pip-version-check", sdist],
                  env=_env(**NO_COMPILER))
    assert r.returncode == 0, log
    # pip -v shows the one line that says why and how to get them
    line = next(line for line in log.splitlines() if MESSAGE in line)
    assert "no working C compiler" in line and "pip install --force-reinstall" in line
    assert "CNET_REQUIRE_COMPILED=1" in line
    # from a directory without the source tree
    r, log = _run([venv, "-c", TRAIN], cwd=tmp_path)
    assert r.returncode == 0, log
    out = json.loads(r.stdout.splitlines()[-1])     # after SGD's "Epoch j complete" lines
    assert out["file"].startswith(os.path.realpath(str(venv.parent.parent)))
    facts = out["info"]
    assert facts["compiled"] is False and facts["float32_compiled"] is False and facts["build"] is None
    assert facts["backend"] == "numpy" == out["backend"]
    assert "No module named" in facts["why_not_compiled"]
    assert facts["not_built_at_install"].startswith(MESSAGE + " (_common, _cy_base, _cy_base_f32")
    assert "no working C compiler" in facts["not_built_at_install"]
    assert any("compiled kernels are not built" in w for w in out["warnings"])
    assert out["after"] >= 90 > out["before"] or out["after"] >= out["before"] + 30, out
    r, log = _run([venv, "-m", "cnet", "info"], cwd=tmp_path)
    assert r.returncode == 0, log
    lines = dict(line.split(None, 1) for line in r.stdout.splitlines())
    assert lines["compiled"] == "False" and lines["backend"] == "numpy"
    assert lines["not_built_at_install"].startswith(MESSAGE)


def test_require_compiled_makes_a_failed_compile_fail_the_install(sdist, tmp_path):
    target = tmp_path / "target"
    r, log = _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-cache-dir",
                   "--disable-pip-version-check", "--target", target, sdist],
                  env=_env(CNET_REQUIRE_COMPILED="1", **NO_COMPILER))
    assert r.returncode != 0, log
    assert MESSAGE in log and "no working C compiler" in log
    assert "CNET_REQUIRE_COMPILED=1 makes this an error" in log
    assert not os.path.exists(target / "cnet")


def test_a_module_that_fails_to_compile_is_left_out_and_the_rest_serve(sdist, tmp_path):
    # a compiler that builds everything but the AVX2 (and AVX-512) modules: the baseline ones must serve
    real = shutil.which("gcc") or shutil.which("cc")
    if real is None or platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("needs a C compiler on x86-64 (where the AVX2 modules are built)")
    fake = tmp_path / "cc-without-avx2"
    fake.write_text("#!/bin/sh\ncase \" $* \" in *\" -mavx2 \"*) echo 'no AVX2 here' >&2; exit 1;; esac\n"
                    "exec {} \"$@\"\n".format(real))
    fake.chmod(0o755)
    target = tmp_path / "target"
    r, log = _run([sys.executable, "-m", "pip", "install", "-v", "--no-deps", "--no-cache-dir",
                   "--disable-pip-version-check", "--target", target, sdist], env=_env(CC=str(fake)))
    assert r.returncode == 0, log
    assert MESSAGE + " (_cy_avx2, _cy_avx2_f32, _cy_avx512, _cy_avx512_f32): " in log
    r, log = _run([sys.executable, "-c", "import json, cnet; print(json.dumps(cnet.info()))"], cwd=tmp_path,
                  env=_env(PYTHONPATH=str(target)))
    assert r.returncode == 0, log
    facts = json.loads(r.stdout)
    assert facts["compiled"] and facts["float32_compiled"] and facts["why_not_compiled"] is None
    assert facts["build"] == facts["float32_build"] == "baseline"
    assert facts["not_built_at_install"].startswith(MESSAGE + " (_cy_avx2, _cy_avx2_f32, _cy_avx512, _cy_avx512_f32): ")
    assert fake.name in facts["not_built_at_install"]     # the failed command
