#!/bin/sh
# fuzz/run.sh — build the libFuzzer targets and run each for a set time, one after the other.
#   fuzz/run.sh [seconds] [target...]   default: 240 seconds each; targets png idx tensor save
# Seeds come from fuzz/corpus/<target>/ (read only); what the fuzzer learns goes to
# build-fuzz/corpus/<target>/, crash files to build-fuzz/crashes/. Needs clang and
# libclang-rt-14-dev (apt-get install clang libclang-rt-14-dev).
set -eu
cd "$(dirname "$0")/.."
secs=${1:-240}
[ $# -gt 0 ] && shift
targets=${*:-png idx tensor save}
build=build-fuzz

cmake -S . -B $build -DCMAKE_C_COMPILER=clang -DLUNET_FUZZ=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build $build -j2 --target $(for t in $targets; do printf 'fuzz_%s ' "$t"; done) >/dev/null

# One thread: the fuzzers run one at a time on a shared machine.
export OPENBLAS_NUM_THREADS=1 LUNET_NUM_THREADS=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
summary=""
for t in $targets; do
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
