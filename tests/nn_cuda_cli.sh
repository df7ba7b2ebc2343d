#!/usr/bin/env bash
# A neural model (mlp or linear) on --device cuda: trains (regression on
# diamonds, whose categorical columns go through the embedding ops;
# classification on pima2), evaluates and predicts on the GPU, and lands
# close to the CPU run of the same job (the GEMMs and scatter-adds differ in
# rounding, so not bit for bit). The MLP runs ReLU with dropout on
# diamonds and GELU on pima2.
# Exits 77 (skipped) without a CUDA backend or a GPU, python3 or the data.
# usage: nn_cuda_cli.sh KAIZEN SHARED_DATA_DIR mlp|linear
set -u
kaizen="$1" data="$2" type="$3"
for f in diamonds pima2; do
  [ -f "$data/$f.csv" ] || { echo "skipped: $data/$f.csv not found"; exit 77; }
done
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$kaizen" data import --kind tabular --input "$data/diamonds.csv" --out "$tmp/reg" \
  --label price --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import"; exit 1; }
"$kaizen" data import --kind tabular --input "$data/pima2.csv" --out "$tmp/cls" \
  --label diabetes --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import"; exit 1; }

# job FILE DATA ACTIVATION DROPOUT STEPS
job() {
  {
    echo "model:"
    echo "  type: $type"
    if [ "$type" = mlp ]; then
      echo "  hidden: [32, 16]"
      echo "  activation: $3"
      echo "  dropout: $4"
    fi
    echo "data:"
    echo "  train: $2"
    echo "train:"
    echo "  lr: $([ "$type" = mlp ] && echo 0.003 || echo 0.05)"
    echo "  batch_size: 128"
    echo "  steps: $5"
    echo "  eval_every: $5"
    echo "  seed: 2"
    echo "output:"
    echo "  runs_dir: $tmp/runs"
  } >"$1"
}
job "$tmp/reg.yaml" "$tmp/reg" relu 0.1 80
job "$tmp/cls.yaml" "$tmp/cls" gelu 0.0 40

out=$("$kaizen" train "$tmp/reg.yaml" --quiet --device cuda --set output.run_id=probe 2>&1)
if grep -qiE "no CUDA backend|0 CUDA device|no CUDA device|no GPU|cudaErrorNoDevice|no CUDA-capable" <<<"$out"; then
  echo "skipped: $out"
  exit 77
fi
[ -n "$(grep "^$type " <<<"$out")" ] || fail "cuda train: $out"

# metric LINE NAME: a valid/NAME value from a final line
metric() { tr ' ' '\n' <<<"$1" | awk -F= -v k="valid/$2" '$1 == k { print $2 }'; }
close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t * (b < 0 ? -b : b)) }'; }

for spec in "reg rmse 0.02" "cls logloss 0.02"; do
  set -- $spec
  cpu=$("$kaizen" train "$tmp/$1.yaml" --quiet --device cpu --set output.run_id=$1-cpu 2>&1 | tail -1)
  gpu=$("$kaizen" train "$tmp/$1.yaml" --quiet --device cuda --set output.run_id=$1-gpu 2>&1 | tail -1)
  a=$(metric "$gpu" "$2") b=$(metric "$cpu" "$2")
  [ -n "$a" ] && [ -n "$b" ] || { fail "$1: no $2 in '$gpu' / '$cpu'"; continue; }
  close "$a" "$b" "$3" || fail "$1: valid/$2 on cuda $a, on cpu $b (more than ${3} apart)"
  # the GPU-trained model evaluates on the GPU as training reported, and
  # predicts on the GPU as on the CPU
  model="$tmp/runs/default/$1-gpu/model.kzm"
  ev=$("$kaizen" eval --model "$model" --data "$tmp/$1" --split valid --device cuda 2>&1 |
    awk -v m="$2" '$1 == m { print $2 }')
  [ -n "$ev" ] && close "$ev" "$a" 1e-4 || fail "$1: eval on cuda gave '$ev', training reported $a"
  for dev in cpu cuda; do
    "$kaizen" predict --model "$model" --data "$tmp/$1" --split valid --device $dev \
      --out "$tmp/$1-$dev.csv" >/dev/null 2>&1 || fail "$1: predict on $dev"
  done
  python3 - "$tmp/$1-cpu.csv" "$tmp/$1-cuda.csv" <<'PY' || fail "$1: predictions on cuda and cpu differ"
import csv, sys
a, b = (list(csv.reader(open(p))) for p in sys.argv[1:3])
assert len(a) == len(b) > 1 and a[0] == b[0]
for ra, rb in zip(a[1:], b[1:]):
    for x, y in zip(ra, rb):
        fx, fy = float(x), float(y)
        assert abs(fx - fy) <= 1e-4 * max(1.0, abs(fy)), (x, y)
PY
done

[ "$fails" -eq 0 ] && echo "ok" || exit 1
