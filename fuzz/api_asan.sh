#!/bin/sh
# fuzz/api_asan.sh [api.lua options] — fuzz/api.lua on lunet built with ASan + UBSan
# (build-asan/, built here if needed), set up as ./run.sh asan runs the specs.
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DLUNET_SANITIZE=ON >/dev/null
cmake --build build-asan -j2 >/dev/null
# lua5.4 is not instrumented, so the runtimes are preloaded; leaks are not checked (the
# interpreter exits without closing its state); a failed huge allocation returns NULL,
# which lunet reports as a Lua error, as it does without the sanitizer.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LUNET_BUILD=build-asan OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 LUNET_NUM_THREADS=1
exec bin/lunet fuzz/api.lua "$@"
