#!/usr/bin/env bash
# TFT training speed by CPU time, for a loaded host where bench/tft_speed.sh's wall clock
# measures scheduling: the same two programs and config (hidden 64, 4 heads, k=168, tau=24,
# batch 64), OMP_WAIT_POLICY=passive so idle workers sleep instead of spinning, alternated
# REPS times. Each side reports CPU seconds per step of all its threads and of its main thread
# alone; the main thread's time stands in for a quiet host's wall time (it excludes waits for
# the CPU). Prints the medians and the ratios last.
# usage: bench/tft_speed_cpu.sh BUILD_DIR [STEPS] [THREADS] [REPS]
set -eu
build="$1" steps="${2:-4}" threads="${3:-2}" reps="${4:-3}"
py=${PYTHON:-/work/venv/bin/python}
here=$(cd "$(dirname "$0")/.." && pwd)
cfg="64 64 4 168 24 $steps $threads"
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS="$threads"
kall="" kmain="" pall="" pmain=""
for r in $(seq "$reps"); do
  k=$("$build/tests/test_tft" bench $cfg | sed -n 's/^kaizen tft cpu: \([0-9.]*\) .*, \([0-9.]*\) s\/step main.*/\1 \2/p')
  p=$("$py" "$here/bench/torch_tft_cpu.py" $cfg | sed -n 's/^pytorch tft cpu: \([0-9.]*\) .*, \([0-9.]*\) s\/step main.*/\1 \2/p')
  echo "rep $r: kaizen ${k% *} s/step all threads, ${k#* } main; pytorch ${p% *} all, ${p#* } main"
  kall="$kall ${k% *}" kmain="$kmain ${k#* }" pall="$pall ${p% *}" pmain="$pmain ${p#* }"
done
med() { echo "$@" | tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ka=$(med $kall) km=$(med $kmain) pa=$(med $pall) pm=$(med $pmain)
echo "medians ($threads threads, $steps steps, $reps reps): kaizen $ka s/step all threads, $km main thread; pytorch $pa, $pm"
awk -v a="$ka" -v b="$pa" -v c="$km" -v d="$pm" 'BEGIN {
  printf "kaizen / pytorch training windows per CPU second (all threads): %.2fx\n", b / a
  printf "kaizen / pytorch training windows/s, main-thread CPU (quiet-host wall proxy): %.2fx\n", d / c }'
