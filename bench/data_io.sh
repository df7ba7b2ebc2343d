#!/usr/bin/env bash
# Data I/O benchmark: CSV import speed (MB/s of CSV) and shard read speed
# (GB/s of decoded rows, rows/s) on a generated 1,000,000 x 28 table.
# Targets (issue 3): read >= 1 GB/s uncompressed, import >= 50 MB/s.
# usage: bench/data_io.sh [BUILD_DIR] [ROWS]      (default build, 1000000)
# The headline reports the median of the three runs, in order and shuffled.
set -euo pipefail
build="${1:-build}" rows="${2:-1000000}"
kaizen="$build/kaizen" helper="$build/tests/bench_data_io"
[ -x "$kaizen" ] && [ -x "$helper" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$helper" gen "$tmp/table.csv" "$rows"
bytes=$(stat -c %s "$tmp/table.csv")
cat "$tmp/table.csv" > /dev/null # start warm, as a second epoch would
printf '%-26s %10s %10s\n' "import" "seconds" "MB/s"
import() { # import NAME OUT extra-args...
  local name="$1" out="$2"; shift 2
  local t0 t1
  t0=$(date +%s.%N)
  "$kaizen" data import --kind tabular --input "$tmp/table.csv" --out "$out" --label target "$@" > /dev/null
  t1=$(date +%s.%N)
  awk -v n="$name" -v a="$t0" -v b="$t1" -v s="$bytes" 'BEGIN { printf "%-26s %10.3f %10.1f\n", n, b - a, s / 1e6 / (b - a) }'
}
import "uncompressed" "$tmp/plain" | tee "$tmp/import.txt"
import "deflate 4" "$tmp/deflate" --compress
echo "csv: $rows rows x 28 columns, $((bytes / 1000000)) MB; shards: $(du -sm "$tmp/plain" | cut -f1) MiB plain, $(du -sm "$tmp/deflate" | cut -f1) MiB deflate"
echo "-- uncompressed shards"
"$helper" read "$tmp/plain" | tee "$tmp/read.txt"
echo "-- deflate shards"
"$helper" read "$tmp/deflate"
mbs=$(awk '{ print $3 }' "$tmp/import.txt")
median3() { sort -g | sed -n 2p; }
gbs=$(awk '/in order/ { print $7 }' "$tmp/read.txt" | median3)
gbs_shuf=$(awk '/shuffled/ { print $6 }' "$tmp/read.txt" | median3)
awk -v i="$mbs" -v r="$gbs" -v q="$gbs_shuf" 'BEGIN { printf "headline (medians): import %.1f MB/s = %.2fx the 50 MB/s target; read %.2f GB/s in order = %.2fx the 1 GB/s target, %.2f GB/s shuffled = %.2fx\n", i, i / 50, r, r / 1, q, q / 1 }'
