#!/usr/bin/env bash
# train.precision bf16 through the kaizen binary, each step its own process,
# on a slice of austen.csv: MLM pre-training in bf16 lands within 2% of the
# fp32 run's validation loss; a bf16 run stopped at step 6 and resumed (the
# checkpoint holds the fp32 master weights, the bf16 copy is rebuilt from
# them) ends on the same model bytes as the uninterrupted one; a NaN-guard
# rollback in bf16 completes the run; kaizen eval
# of the bf16-trained model file (which evaluates in fp32) is within 1% of
# the trainer's bf16 validation loss.
# On the CPU (device: cpu): resume is bit for bit there; GPU scatter-adds
# use float atomics (test_transformer_bf16 cuda covers the GPU).
# usage: transformer_bf16_cli.sh KAIZEN SHARED_DATA_DIR VOCAB
set -u
kaizen="$1" data="$2" vocab="$3"
[ -f "$data/austen.csv" ] || { echo "skipped: $data/austen.csv not found"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

awk 'NR == 1 || NR % 40 == 0' "$data/austen.csv" >"$tmp/austen.csv"
"$kaizen" data import --kind text --input "$tmp/austen.csv" --out "$tmp/austen" --text-column text \
  --label book --vocab "$vocab" --cased --max-len 32 --valid-fraction 0.1 --seed 1 >/dev/null ||
  { echo "FAIL: import"; exit 1; }

cat >"$tmp/mlm.yaml" <<YAML
model:
  type: transformer
  task: mlm
  layers: 2
  hidden: 32
  heads: 2
  ffn: 64
data:
  train: $tmp/austen
train:
  lr: 0.002
  weight_decay: 0.01
  batch_size: 16
  steps: 12
  eval_every: 6
  seed: 5
  precision: bf16
  device: cpu
output:
  runs_dir: $tmp/runs
  checkpoint_every: 3
  keep_checkpoints: 20
YAML
run_dir() { echo "$tmp/runs/default/$1"; }
loss_of() { sed -n 's/.*valid\/logloss=\([-0-9.e+]*\).*/\1/p' "$1" | tail -1; }

"$kaizen" train "$tmp/mlm.yaml" --set output.run_id=b >"$tmp/b.out" 2>&1 ||
  fail "bf16 run: $(cat "$tmp/b.out")"
grep -q '^  precision: bf16$' "$(run_dir b)/config.yaml" || fail "config.yaml does not record bf16"
"$kaizen" train "$tmp/mlm.yaml" --set output.run_id=f --set train.precision=fp32 >"$tmp/f.out" 2>&1 ||
  fail "fp32 run: $(cat "$tmp/f.out")"
lb=$(loss_of "$tmp/b.out") lf=$(loss_of "$tmp/f.out")
echo "valid/logloss after 12 steps: bf16 $lb, fp32 $lf"
python3 -c "import sys; b, f = float(sys.argv[1]), float(sys.argv[2]); assert abs(b - f) <= 2e-2 * f, (b, f)" \
  "$lb" "$lf" || fail "bf16 and fp32 validation losses differ by more than 2%: $lb, $lf"

# stopped at step 6, resumed to 12: the same bytes
"$kaizen" train "$tmp/mlm.yaml" --quiet --set output.run_id=k --set train.steps=6 >/dev/null 2>&1 ||
  fail "short bf16 run"
"$kaizen" train "$tmp/mlm.yaml" --quiet --set output.run_id=k --resume --allow-changes \
  >"$tmp/k.out" 2>&1 || fail "bf16 resume: $(cat "$tmp/k.out")"
cmp -s "$(run_dir b)/model.kzm" "$(run_dir k)/model.kzm" || fail "resumed bf16 run: model.kzm differs"

# the NaN guard's rollback restores the f32 weights and re-casts the copy
"$kaizen" train "$tmp/mlm.yaml" --set output.run_id=nan --set train.inject_nan_at_step=4 \
  --set train.inject_nan_steps=3 >"$tmp/nan.out" 2>&1 || fail "bf16 run with a rollback: $(cat "$tmp/nan.out")"
grep -q 'rolled back to step 3' "$tmp/nan.out" || fail "no rollback: $(grep -i roll "$tmp/nan.out")"

# the model file holds the fp32 master weights; kaizen eval runs them in fp32
"$kaizen" eval --model "$(run_dir b)/model.kzm" --data "$tmp/austen" --split valid --json \
  >"$tmp/eval.json" 2>&1 || fail "eval: $(cat "$tmp/eval.json")"
python3 - "$tmp/eval.json" "$lb" <<'PY' || fail "fp32 eval of the bf16 model is not within 1% of the bf16 validation loss"
import json, sys
ev, want = json.load(open(sys.argv[1])), float(sys.argv[2])
print(f"kaizen eval (fp32) of the bf16-trained model: logloss {ev['logloss']:.6f}, trainer (bf16) {want:.6f}")
assert abs(float(ev["logloss"]) - want) <= 1e-2 * want
PY

[ "$fails" -eq 0 ] && echo "ok" || exit 1
