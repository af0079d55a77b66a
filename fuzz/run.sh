#!/bin/sh
# fuzz/run.sh TARGET SECONDS: one libFuzzer run of build/fuzz/TARGET (make
# fuzz builds it) from the repository root, over the seeds in
# fuzz/corpus/TARGET and what earlier runs found (build/fuzz/corpus/TARGET,
# where new inputs go: the committed seeds stay as they are). Prints the
# executions and the coverage of libFuzzer's final figures, then the line
# CI adds up: "1 passed, 0 failed", or "0 passed, 1 failed" with the crash
# and the file it is kept in (build/fuzz/crashes/).
target=$1
seconds=${2:-60}
bin=build/fuzz/$target
work=build/fuzz/corpus/$target
log=build/fuzz/$target.log
mkdir -p "$work" build/fuzz/crashes
dict=""
[ -f "fuzz/$target.dict" ] && dict="-dict=fuzz/$target.dict"
# -timeout: an input slower than 10 s (a quadratic path) is a failure too.
"$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
  -max_len=4096 -artifact_prefix="build/fuzz/crashes/$target-" $dict "$work" "fuzz/corpus/$target" \
  >"$log" 2>&1
status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
# the edges instrumented (the core and the harness): libFuzzer's counters
edges=$(sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' "$log" | head -n 1)
echo "fuzz $target: ${execs:-0} executions in ${seconds} s (${rate:-0}/s), coverage ${cov:-?} of ${edges:-?} edges, ${ft:-?} features, corpus ${corp:-?} inputs"
if [ "$status" = 0 ]; then
  echo "1 passed, 0 failed"
else
  grep -E -A 30 '^==[0-9]+==|fuzz oracle failed|runtime error' "$log" | head -n 60
  echo "the input that failed: $(ls build/fuzz/crashes/$target-* 2>/dev/null | tail -n 1)" \
    "(copy it into fuzz/corpus/$target/ with the fix)"
  echo "0 passed, 1 failed"
fi
exit "$status"
