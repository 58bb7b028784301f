#!/bin/sh
# fuzz/run.sh — build the libFuzzer targets and run each for a set time, one after the other.
#   fuzz/run.sh [seconds] [target...]   default: 240 seconds each; targets png idx tensor save api
# Seeds come from fuzz/corpus/<target>/ (read only); what the fuzzer learns goes to
# build-fuzz/corpus/<target>/, crash files to build-fuzz/crashes/. Needs clang and
# libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev).
# The target `api` is fuzz/api.lua (the Lua API against a Lua model) on lunet built with
# gcc's ASan + UBSan in build-asan/, as ./run.sh asan does; its findings (one line
# each, with a reproducer) go to build-fuzz/api/findings.txt. Seed: $API_SEED (default 1).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-240}
[ $# -gt 0 ] && shift
targets=${*:-png idx tensor save api}
build=build-fuzz

libfuzzer=$(for t in $targets; do [ "$t" = api ] || printf 'fuzz_%s ' "$t"; done)
if [ -n "$libfuzzer" ]; then
  cmake -S . -B $build -DCMAKE_C_COMPILER=clang -DLUNET_FUZZ=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build $build -j2 --target $libfuzzer >/dev/null
fi

# One thread: the fuzzers run one at a time on a shared machine.
export OPENBLAS_NUM_THREADS=1 LUNET_NUM_THREADS=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
summary=""
for t in $targets; do
  if [ "$t" = api ]; then
    log=$build/api.log
    echo "api: $secs s (log: $log)"
    mkdir -p $build/api
    rm -f $build/api/findings.txt
    fuzz/api_asan.sh --seed "${API_SEED:-1}" --seconds "$secs" --keep-going --out $build/api >"$log" 2>&1 || true
    runs=$(sed -n 's/^api.lua: .*executions \([0-9]*\).*/\1/p' "$log" | tail -1)
    found=$(grep -c '^FINDING' "$log" || true)
    summary="$summary$(printf '%-12s %12s executions  %3s findings' api "${runs:-?}" "$found")\n"
    continue
  fi
  mkdir -p $build/corpus/$t $build/crashes
  log=$build/fuzz_$t.log
  echo "fuzz_$t: $secs s (log: $log)"
  $build/fuzz/fuzz_$t -max_total_time="$secs" -timeout=10 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$t-" $build/corpus/$t fuzz/corpus/$t >"$log" 2>&1 || true
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  crashes=$(ls $build/crashes | grep -c "^$t-" || true)
  summary="$summary$(printf '%-12s %12s executions  %3s crash files' "fuzz_$t" "${runs:-?}" "$crashes")\n"
done
printf "\n$summary"
