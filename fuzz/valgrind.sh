#!/bin/sh
# fuzz/valgrind.sh — a short training run (fuzz/valgrind.lua) under valgrind's memcheck, on
# the normal build. Exits non-zero on any memory error or definite (or indirect) leak. The
# thread pools (lunet's and OpenBLAS's) live until exit; their thread stacks show as "possibly
# lost", which is not counted.
#   fuzz/valgrind.sh [dataDir]   (dataDir: default ../shared/data, for one PNG and one IDX file)
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 >/dev/null
LUA_PATH="$PWD/lua/?.lua;$PWD/lua/?/init.lua;;" LUA_CPATH="$PWD/build/?.so;;" LUNET_NUM_THREADS=2 \
  exec valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --num-callers=30 \
    lua5.4 fuzz/valgrind.lua "$@"
