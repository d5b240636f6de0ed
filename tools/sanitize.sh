#!/bin/sh
# Build the compiled kernels with AddressSanitizer and UndefinedBehaviorSanitizer and
# run the test suite and the hypothesis properties under them.
#
#   tools/sanitize.sh [pytest arguments]        (from the repository root; Linux, gcc or clang)
#
# The working tree is copied to a temporary directory and built there with
# CNET_SANITIZE=1 (setup.py then adds -fsanitize=address,undefined), so the
# in-place build is left alone.  Python itself is not sanitized, so the ASan
# runtime is preloaded (LD_PRELOAD) to come first, as ASan requires, and
# PYTHONMALLOC=malloc sends Python's own allocations through it too.
# detect_leaks=0: CPython deliberately does not free everything at exit, and
# LeakSanitizer would report those blocks, not cnet's.
#
# Runs, each stopping at the first report (halt_on_error):
#   1. the whole suite (its tests train on 1, 2, 3 and 8 threads);
#   2. the suite's network tests and the properties with CNET_NUM_THREADS=2, then 3;
#   3. the kernel tests and the properties on the baseline (non-AVX2) build.
# Each run's output and ASan's reports are written to $SANITIZE_LOGS (default: a logs/
# directory in the copy) and the reports counted at the end; the script exits non-zero
# if there is any, or if a run fails (halt_on_error: a report also ends its run).
# CNET_HYPOTHESIS_PROFILE=long makes the property runs long ones.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/cnet-sanitize.XXXXXX")
logs=${SANITIZE_LOGS:-$work/logs}
mkdir -p "$logs"
echo "sanitize: building a copy of $root in $work"
cd "$root"
git ls-files -co --exclude-standard | grep -v '\.so$' | tar -cf - -T - | (cd "$work" && tar -xf -)
cd "$work"
# CNET_REQUIRE_COMPILED=1: a module that fails to build stops here, rather than
# leaving the suite to run on the NumPy kernels
CNET_REQUIRE_COMPILED=1 CNET_SANITIZE=1 python setup.py build_ext --inplace -j 2 >"$logs/build.txt" 2>&1 \
    || { tail -20 "$logs/build.txt"; exit 1; }

cc=${CC:-gcc}
asan=$($cc -print-file-name=libasan.so)
[ -f "$asan" ] || { echo "sanitize: no libasan.so for $cc" >&2; exit 1; }
# libstdc++ with it: ASan intercepts C++ exceptions (__cxa_throw) and must find the real
# one when it starts, or the first C++ extension that throws (matplotlib's) aborts
stdcxx=$($cc -print-file-name=libstdc++.so)
export LD_PRELOAD="$asan $stdcxx"
export PYTHONMALLOC=malloc
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
export PYTHONPATH="$work"

status=0
runs=0
run() {
    runs=$((runs + 1))
    echo "sanitize: $*"
    env "$@" >"$logs/run$runs.txt" 2>&1 || status=1
    tail -1 "$logs/run$runs.txt"
}
pytest="python -m pytest -q -p no:cacheprovider"
run $pytest "$@"
for threads in 2 3; do
    run CNET_NUM_THREADS=$threads $pytest tests/test_network.py tests/test_network2.py \
        tests/test_properties.py "$@"
done
run CNET_NO_AVX2=1 $pytest tests/test_kernels.py tests/test_properties.py "$@"

# ASan writes its reports to log_path; UBSan, linked with ASan, writes them to stderr
reports=$(cat "$logs"/asan* "$logs"/ubsan* "$logs"/run*.txt 2>/dev/null \
          | grep -c -e 'ERROR: AddressSanitizer' -e 'runtime error:' || true)
echo "sanitize: $reports sanitizer report(s) in $logs"
[ "$reports" -eq 0 ] || { grep -h -A12 -e 'ERROR: AddressSanitizer' -e 'runtime error:' \
                              "$logs"/asan* "$logs"/ubsan* "$logs"/run*.txt 2>/dev/null | head -60; status=1; }
[ "$status" -eq 0 ] && echo "sanitize: clean" && rm -rf "$work"
exit $status
