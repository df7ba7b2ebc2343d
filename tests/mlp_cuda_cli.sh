#!/usr/bin/env bash
# The MLP on --device cuda: trains (regression with categorical embeddings,
# ReLU, dropout and the MSE loss on diamonds; classification with GELU on
# pima2), evaluates and predicts on the GPU, and lands close to the CPU run
# of the same job (the GEMMs differ in rounding, so not bit for bit).
# Exits 77 (skipped) without a CUDA backend or a GPU, or without the data.
# usage: mlp_cuda_cli.sh KAIZEN SHARED_DATA_DIR
set -u
kaizen="$1" data="$2"
for f in diamonds pima2; do
  [ -f "$data/$f.csv" ] || { echo "skipped: $data/$f.csv not found"; exit 77; }
done
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$kaizen" data import --kind tabular --input "$data/diamonds.csv" --out "$tmp/diamonds" \
  --label price --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import"; exit 1; }
"$kaizen" data import --kind tabular --input "$data/pima2.csv" --out "$tmp/pima2" \
  --label diabetes --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import"; exit 1; }

# job FILE DATA ACTIVATION DROPOUT STEPS
job() {
  cat >"$1" <<YAML
model:
  type: mlp
  hidden: [32, 16]
  activation: $3
  dropout: $4
data:
  train: $2
train:
  lr: 0.003
  batch_size: 128
  steps: $5
  eval_every: $5
  seed: 2
output:
  runs_dir: $tmp/runs
YAML
}
job "$tmp/reg.yaml" "$tmp/diamonds" relu 0.1 80
job "$tmp/cls.yaml" "$tmp/pima2" gelu 0.0 40

out=$("$kaizen" train "$tmp/reg.yaml" --quiet --device cuda --set output.run_id=probe 2>&1)
if grep -qiE "no CUDA backend|0 CUDA device|no CUDA device|no GPU|cudaErrorNoDevice|no CUDA-capable" <<<"$out"; then
  echo "skipped: $out"
  exit 77
fi
[ -n "$(grep '^mlp ' <<<"$out")" ] || fail "cuda train: $out"

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
  # the GPU-trained model evaluates and predicts on the GPU as on the CPU
  ev=$("$kaizen" eval --model "$tmp/runs/default/$1-gpu/model.kzm" --data "$tmp/$([ $1 = reg ] && echo diamonds || echo pima2)" \
    --split valid --device cuda 2>&1 | awk -v m="$2" '$1 == m { print $2 }')
  [ -n "$ev" ] && close "$ev" "$a" 1e-4 || fail "$1: eval on cuda gave '$ev', training reported $a"
done

[ "$fails" -eq 0 ] && echo "ok" || exit 1
