#!/bin/sh
# run.sh — set up lunet on a Debian 12 machine and run it.
#   ./run.sh main    install what is missing, build, run the assignment's experiments
#   ./run.sh test    install what is missing, build, run every spec
#   ./run.sh pages   a --quick run of main, its report pages checked in headless Chromium
#   ./run.sh lint    luacheck over every Lua file (.luacheckrc)
#   ./run.sh docs    the reference (LDoc, config.ld) into docs/api/; `docs --check` fails if the committed one is stale
#   ./run.sh asan    the spec suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   ./run.sh apifuzz a 25 s smoke run of the API fuzzer (fuzz/api.lua, fixed seed) under ASan + UBSan
#   ./run.sh bench   the benchmark suite (installs PyTorch from Debian for the side-by-side columns)
# Extra arguments after main/bench go to the scripts (e.g. ./run.sh main --quick).
set -eu
cd "$(dirname "$0")"
root=$(pwd)

PACKAGES="lua5.4 liblua5.4-dev libopenblas-dev libpng-dev zlib1g-dev lua-busted luarocks cmake
  gnuplot-nox lua-argparse lua-filesystem pkg-config gcc make openmpi-bin libopenmpi-dev"

install_missing() {
  missing=""
  for p in $PACKAGES "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  echo "run.sh: installing$missing"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing
}

build() { # $1: build dir, rest: cmake options
  dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$dir" -j2 >/dev/null
}

cmd=${1:-main}
[ $# -gt 0 ] && shift
case "$cmd" in
  main)
    install_missing
    build build
    # Parts 1 and 3 are sweeps of independent runs: one MPI rank per core, each dealt runs
    # by their length, each run on one thread (its results do not depend on the thread
    # count). Part 2 and the quantized inference use Part 1's models, with every core.
    ranks=$(nproc)
    sweep() {
      if [ "$ranks" -gt 1 ] && [ -e build/lunet/mpi.so ]; then
        mpirun --allow-run-as-root --oversubscribe -n "$ranks" bin/lunet "$@"
      else
        bin/lunet "$@"
      fi
    }
    sweep experiments/cifar10_lenet.lua "$@"
    bin/lunet experiments/quantized_inference.lua "$@"
    bin/lunet experiments/cifar10_deconvnet.lua "$@"
    sweep experiments/mnist_rnn.lua "$@"
    bin/lunet experiments/index.lua
    ;;
  test)
    # the report pages are checked in a headless browser; spec/doc_coverage_spec.lua runs ldoc
    install_missing chromium lua-ldoc
    build build
    bin/lunet /usr/bin/busted spec
    ;;
  pages)
    install_missing chromium
    "$0" main --quick
    bin/lunet experiments/check_pages.lua results
    ;;
  lint)
    install_missing lua-check
    luacheck -q .
    ;;
  docs)
    install_missing lua-ldoc
    if [ "${1:-}" = "--check" ]; then
      # a fresh build beside the committed one; any difference means docs/api is stale
      out=$(mktemp -d)
      ldoc --testing -q -d "$out" . >/dev/null
      if ! diff -r docs/api "$out" >/dev/null; then
        rm -rf "$out"
        echo "run.sh docs: docs/api differs from a fresh build of the reference: run ./run.sh docs and commit docs/api" >&2
        exit 1
      fi
      rm -rf "$out"
    else
      rm -rf docs/api
      ldoc --testing -q . >/dev/null
      echo "run.sh docs: the reference is in docs/api/index.html"
    fi
    ;;
  asan)
    install_missing
    build build-asan -DLUNET_SANITIZE=ON
    # lua5.4 itself is not instrumented, so the runtime is preloaded. Leak checking is
    # off: the interpreter exits without closing its state. A failed huge allocation must
    # come back as NULL (a Lua error), as it does without the sanitizer.
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LUNET_BUILD=build-asan bin/lunet /usr/bin/busted spec
    ;;
  apifuzz)
    install_missing
    fuzz/api_asan.sh --seed 1 --seconds 25 --out build-asan/apifuzz
    ;;
  bench)
    install_missing python3-torch python3-pil
    build build
    bin/lunet bench/run.lua "$@"
    ;;
  *)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
