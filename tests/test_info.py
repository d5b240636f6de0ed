"""cnet.info() and ``python -m cnet info``: which kernels this installation runs."""
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile

import pytest

import cnet
from cnet import _kernels

KEYS = {"version", "compiled", "build", "float32_compiled", "float32_build", "why_not_compiled",
        "not_built_at_install", "backend",
        "threads_supported", "python", "numpy", "platform", "cpu", "environment"}


def run(*args, env=None):
    """``python -m cnet ARGS`` from outside the source tree (the installed package)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "cnet"] + list(args), capture_output=True, text=True,
                          env=full_env, timeout=120, cwd=tempfile.gettempdir())


def test_info_says_which_kernels_run():
    facts = cnet.info()
    assert set(facts) == KEYS
    assert facts["version"] == cnet.__version__
    assert facts["compiled"] is (_kernels.compiled is not None)
    assert facts["float32_compiled"] is (_kernels.compiled_f32 is not None)
    if facts["compiled"]:
        assert facts["build"] == _kernels.compiled.ISA in ("baseline", "avx2", "avx512")
        assert facts["why_not_compiled"] is None
        assert facts["threads_supported"] is _kernels.compiled.threads_supported()
    else:
        assert facts["build"] is None and facts["why_not_compiled"] == _kernels.compiled_error
    assert facts["backend"] == _kernels.get().NAME
    import numpy
    assert facts["numpy"] == numpy.__version__
    assert set(facts["cpu"]) == {"arch", "model", "avx2", "fma", "avx512f"}


@pytest.mark.skipif(os.environ.get("CNET_REQUIRE_COMPILED") != "1",
                    reason="only where CNET_REQUIRE_COMPILED=1 promises a compiled build (CI)")
def test_the_compiled_build_is_in_use():
    facts = cnet.info()
    assert facts["compiled"] and facts["float32_compiled"] and facts["backend"] in ("cython", "numpy")
    assert facts["why_not_compiled"] is None and facts["not_built_at_install"] is None


def test_build_matches_the_cpu():
    facts = cnet.info()
    if not facts["compiled"]:
        pytest.skip("the compiled kernels are not built")
    cpu = facts["cpu"]
    if cpu["avx2"] is None or cpu["fma"] is None or os.environ.get("CNET_NO_AVX2") == "1":
        pytest.skip("this system does not say whether the CPU has AVX2 and FMA")
    here = os.path.dirname(_kernels.__file__)

    def has_module(name):
        return os.path.exists(os.path.join(here, name + ".pyx")) or any(
            f.startswith(name + ".") for f in os.listdir(here))

    expected = "avx2" if cpu["avx2"] and cpu["fma"] and has_module("_cy_avx2") else "baseline"
    if expected == "avx2" and has_module("_cy_avx512") and _kernels.common.cpu_has_avx512() \
            and os.environ.get("CNET_NO_AVX512") != "1":
        expected = "avx512"
    assert facts["build"] == expected


def test_info_without_the_compiled_kernels(monkeypatch):
    monkeypatch.setattr(_kernels, "compiled", None)
    monkeypatch.setattr(_kernels, "compiled_f32", None)
    monkeypatch.setattr(_kernels, "compiled_error", "No module named 'cnet._kernels._cy_base'")
    monkeypatch.delenv("CNET_BACKEND", raising=False)
    facts = cnet.info()
    assert facts["compiled"] is False and facts["float32_compiled"] is False
    assert facts["build"] is None and facts["float32_build"] is None
    assert facts["why_not_compiled"] == "No module named 'cnet._kernels._cy_base'"
    assert facts["backend"] == "numpy" and facts["threads_supported"] is False


def test_info_reports_the_environment_and_never_raises(monkeypatch):
    monkeypatch.setenv("CNET_BACKEND", "numpy")
    monkeypatch.setenv("CNET_NUM_THREADS", "2")
    facts = cnet.info()
    assert facts["backend"] == "numpy"
    assert facts["environment"]["CNET_BACKEND"] == "numpy" and facts["environment"]["CNET_NUM_THREADS"] == "2"
    monkeypatch.setenv("CNET_BACKEND", "gpu")    # wrong: a Network would refuse it; info() reports it
    facts = cnet.info()
    assert facts["backend"].startswith("error: backend must be one of")


def test_version_is_the_installed_distributions():
    if not os.path.realpath(cnet.__file__).startswith(os.path.realpath(sys.prefix)):
        pytest.skip("cnet is imported from a source tree, not from an installation")
    assert importlib.metadata.version("nndl-cnet") == cnet.__version__   # the distribution's name


def test_command_line_prints_one_key_a_line():
    r = run("info")
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(None, 1) for line in r.stdout.splitlines())
    assert set(lines) == KEYS
    facts = cnet.info()
    assert lines["version"] == facts["version"]
    assert lines["compiled"] == str(facts["compiled"]) and lines["build"] == str(facts["build"])
    assert lines["numpy"] == facts["numpy"]
    assert "avx2=" in lines["cpu"]


def test_command_line_json(monkeypatch):
    r = run("info", "--json", env={"CNET_NUM_THREADS": "3"})
    assert r.returncode == 0, r.stderr
    printed = json.loads(r.stdout)
    monkeypatch.setenv("CNET_NUM_THREADS", "3")
    assert printed == cnet.info()
