#!/usr/bin/env bash
# Runs libFuzzer harnesses for a bounded time each (docs/TESTING.md, "Fuzzing").
# usage: fuzz/run.sh BUILD_DIR SECONDS [NAME...]   (no NAME: every fuzz_* in BUILD_DIR/fuzz)
# Each NAME runs from the committed seeds fuzz/corpus/NAME plus its growing
# corpus BUILD_DIR/corpus/NAME (ignored by git; kept between runs); crashes go
# to BUILD_DIR/artifacts/NAME/, the full log to BUILD_DIR/fuzz-logs/NAME.log.
# Prints one line per fuzzer (executions per second, corpus size, coverage)
# and exits 1 if any found a crash, leak, timeout or out-of-memory.
# FUZZ_JOBS=N runs N fuzzers at once (default 1).
set -u
build="$1"
seconds="$2"
shift 2
src="$(cd "$(dirname "$0")" && pwd)"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in "$build"/fuzz/fuzz_*; do names+=("$(basename "$f" | sed 's/^fuzz_//')"); done
fi
mkdir -p "$build/fuzz-logs"

one() {
  local name="$1" bin="$build/fuzz/fuzz_$1"
  local corpus="$build/corpus/$name" art="$build/artifacts/$name" log="$build/fuzz-logs/$name.log"
  [ -x "$bin" ] || { echo "fuzz_$name: no binary $bin (build with -DKZ_FUZZ=ON)"; return 1; }
  mkdir -p "$corpus" "$art"
  local dict=()
  [ -f "$src/dict/$name.dict" ] && dict=(-dict="$src/dict/$name.dict")
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb also caps any
  # single allocation, so a size taken from the input unchecked is reported.
  # Leak checking stays on (libFuzzer's default with ASan).
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art/" "${dict[@]}" "$corpus" "$src/corpus/$name" >"$log" 2>&1
  local rc=$?
  local execs rate cov files bytes rss
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}')
  # libFuzzer's own average is unreliable on short runs; runs over wall time.
  rate=$(awk -v n="${execs:-0}" -v s="$seconds" 'BEGIN {printf "%d", n / (s > 0 ? s : 1)}')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -o 'cov: [0-9]* ft: [0-9]*')
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | awk '{print $2}')
  files=$(find "$corpus" -type f | wc -l)
  bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  local verdict="ok"
  if [ "$rc" -ne 0 ]; then
    verdict="FAILED (exit $rc): $(ls "$art" | head -n 3 | tr '\n' ' ')see $log"
  fi
  printf 'fuzz_%-14s %4ss %9s runs %6s exec/s  corpus %5s files %8s bytes  %s  rss %s MB  %s\n' \
    "$name" "$seconds" "${execs:-?}" "${rate:-?}" "$files" "$bytes" "${cov:-}" "${rss:-?}" "$verdict"
  [ "$rc" -eq 0 ]
}

fails=0
jobs_max="${FUZZ_JOBS:-1}"
pids=()
for name in "${names[@]}"; do
  one "$name" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs_max" ]; then
    wait "${pids[0]}" || fails=$((fails + 1))
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
exit $((fails > 0))
