#!/usr/bin/env bash
# The main job, on the CPU: show the build and devices, then check and time
# every kernel, then import and inspect the bundled data sets. Later milestones
# add training runs on that data here.
set -euo pipefail
build="${1:-build}"
kaizen="$build/kaizen"
echo "== kaizen info"
"$kaizen" info --device cpu
echo
echo "== op parity on the CPU (every op against the double-precision reference)"
"$kaizen" kernels test --device cpu
echo
echo "== op benchmark on the CPU"
"$kaizen" kernels bench --device cpu

data_dir="${KZ_DATA_DIR:-../shared/data}"
if [ -d "$data_dir" ]; then
  out="${build}/demo-data"
  mkdir -p "$out"
  echo
  echo "== import of the bundled data sets from $data_dir into $out"
  "$kaizen" data import --kind tabular --input "$data_dir/diamonds.csv" --out "$out/diamonds" \
    --label price --valid-fraction 0.1 --seed 1 --overwrite
  "$kaizen" data import --kind timeseries --input "$data_dir/txhousing.csv" --out "$out/txhousing" \
    --series-id city --time date --label sales --known year,month --valid-fraction 0.1 --overwrite
  "$kaizen" data import --kind text --input "$data_dir/austen.csv" --out "$out/austen" \
    --text-column text --label book --vocab tests/fixtures/wordpiece/vocab_austen_cased.txt \
    --cased --max-len 64 --overwrite
  echo
  echo "== inspect"
  "$kaizen" data inspect "$out/diamonds"
else
  echo "(no data directory at $data_dir; set KZ_DATA_DIR to import the bundled data sets)"
fi
