#!/usr/bin/env bash
# LoRA adapters through the kaizen binary, each step its own process: a
# small classification model of the book (the base); two LoRA runs from it
# (train.init_from + model.lora) that leave adapter/ in PEFT's layout and a
# note on trainable parameters and optimizer memory; the base's frozen
# tensors unchanged by them (the fingerprint the adapter records matches the
# base file); predict with --adapter NAME=DIR (merged)
# giving the LoRA run's own predictions; several adapters chosen with
# --use; an adapter refused on another base (both fingerprints named);
# export --format peft; a LoRA run stopped and resumed ends on the same model;
# bf16 with adapters close to fp32 and resumed bit for bit.
# usage: lora_cli.sh KAIZEN SHARED_DATA_DIR VOCAB
set -u
kaizen="$1" data="$2" vocab="$3"
[ -f "$data/austen.csv" ] || { echo "skipped: $data/austen.csv not found"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

awk 'NR == 1 || NR % 60 == 0' "$data/austen.csv" >"$tmp/austen.csv"
"$kaizen" data import --kind text --input "$tmp/austen.csv" --out "$tmp/austen" --text-column text \
  --label book --vocab "$vocab" --cased --max-len 32 --valid-fraction 0.1 --seed 1 >/dev/null ||
  { echo "FAIL: import"; exit 1; }

# job FILE STEPS SEED [LORA_YAML]
job() {
  cat >"$1" <<YAML
model:
  type: transformer
  task: classification
  layers: 2
  hidden: 32
  heads: 2
  ffn: 64
$4
data:
  train: $tmp/austen
train:
  lr: 0.005
  batch_size: 16
  steps: $2
  eval_every: 4
  seed: $3
output:
  runs_dir: $tmp/runs
YAML
}
run() { echo "$tmp/runs/default/$1"; }

job "$tmp/base.yaml" 6 5 ""
"$kaizen" train "$tmp/base.yaml" --quiet --set output.run_id=base >/dev/null 2>&1 || fail "base run"
base="$(run base)/model.kzm"
job "$tmp/base2.yaml" 6 9 ""
"$kaizen" train "$tmp/base2.yaml" --quiet --set output.run_id=base2 >/dev/null 2>&1 ||
  fail "second base run"

lora_a="  lora:
    r: 4
    alpha: 8
    target_modules: [query, value]"
lora_b="  lora:
    r: 2
    alpha: 4
    use_rslora: true
    target_modules: all-linear
    bias: lora_only"
job "$tmp/a.yaml" 8 6 "$lora_a"
"$kaizen" train "$tmp/a.yaml" --set output.run_id=a --set "train.init_from=$base" >"$tmp/a.out" 2>&1 ||
  fail "lora run a: $(cat "$tmp/a.out")"
grep -q "kaizen: LoRA: .* parameters trainable (.*%); optimizer state .* MiB (.* MiB when training all)" \
  "$tmp/a.out" || fail "no LoRA note: $(head -5 "$tmp/a.out")"
for f in adapter_config.json adapter_model.safetensors; do
  [ -f "$(run a)/adapter/$f" ] || fail "no adapter/$f in run a"
done
grep -q '"peft_type": "LORA"' "$(run a)/adapter/adapter_config.json" || fail "adapter_config.json"
# stopped at step 4 and resumed: the same model (the optimizer state covers the adapters only)
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a2 --set "train.init_from=$base" \
  --set train.steps=4 --set output.checkpoint_every=2 >/dev/null 2>&1 || fail "short lora run"
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a2 --set "train.init_from=$base" \
  --set output.checkpoint_every=2 --resume --allow-changes >"$tmp/a2.out" 2>&1 ||
  fail "lora resume: $(cat "$tmp/a2.out")"
cmp -s "$(run a)/model.kzm" "$(run a2)/model.kzm" || fail "resumed lora run: model.kzm differs"
# bf16 with adapters: trains close to the fp32 run (not the same bytes: bf16 is used), and
# stopped at step 4 and resumed from its adapter-only checkpoint it ends on the same model
"$kaizen" train "$tmp/a.yaml" --set output.run_id=a16 --set "train.init_from=$base" \
  --set train.precision=bf16 >"$tmp/a16.out" 2>&1 || fail "lora with bf16: $(cat "$tmp/a16.out")"
python3 - "$tmp/a.out" "$tmp/a16.out" <<'PY' || fail "bf16 lora run not close to the fp32 one"
import re, sys
f, b = [float(re.findall(r"valid/logloss=([-0-9.e+]+)", open(p).read())[-1]) for p in sys.argv[1:]]
print(f"lora valid/logloss after 8 steps: fp32 {f}, bf16 {b}")
assert abs(b - f) <= 2e-2 * f, (f, b)
PY
cmp -s "$(run a)/model.kzm" "$(run a16)/model.kzm" && fail "bf16 lora run: the same bytes as fp32"
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a17 --set "train.init_from=$base" \
  --set train.precision=bf16 --set train.steps=4 --set output.checkpoint_every=2 >/dev/null 2>&1 ||
  fail "short bf16 lora run"
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a17 --set "train.init_from=$base" \
  --set train.precision=bf16 --set output.checkpoint_every=2 --resume --allow-changes \
  >"$tmp/a17.out" 2>&1 || fail "bf16 lora resume: $(cat "$tmp/a17.out")"
cmp -s "$(run a16)/model.kzm" "$(run a17)/model.kzm" || fail "resumed bf16 lora run: model.kzm differs"
job "$tmp/b.yaml" 8 7 "$lora_b"
"$kaizen" train "$tmp/b.yaml" --quiet --set output.run_id=b --set "train.init_from=$base" \
  >/dev/null 2>&1 || fail "lora run b"

# the adapter run's model and base + adapter (merged) predict the same
"$kaizen" predict --model "$(run a)/model.kzm" --data "$tmp/austen" --split valid \
  --out "$tmp/a_own.csv" >/dev/null 2>&1 || fail "predict with the run's model"
"$kaizen" predict --model "$base" --adapter "a=$(run a)/adapter" --data "$tmp/austen" \
  --split valid --out "$tmp/a_base.csv" >/dev/null 2>"$tmp/a_base.err" ||
  fail "predict --adapter: $(cat "$tmp/a_base.err")"
grep -q "(matches)" "$tmp/a_base.err" || fail "no fingerprint note: $(cat "$tmp/a_base.err")"
"$kaizen" predict --model "$base" --data "$tmp/austen" --split valid --out "$tmp/base.csv" \
  >/dev/null 2>&1 || fail "predict with the base"
python3 - "$tmp/a_own.csv" "$tmp/a_base.csv" "$tmp/base.csv" <<'PY' || fail "predictions differ"
import csv, sys
rows = [list(csv.reader(open(p))) for p in sys.argv[1:]]
a, b, base = rows
assert a[0] == b[0] and len(a) == len(b) > 2, (a[0], b[0], len(a), len(b))
worst = max(abs(float(x) - float(y)) for ra, rb in zip(a[1:], b[1:]) for x, y in zip(ra[1:], rb[1:]))
moved = max(abs(float(x) - float(y)) for ra, rb in zip(a[1:], base[1:]) for x, y in zip(ra[1:], rb[1:]))
print(f"adapter run vs base + adapter: max difference {worst:.2e}; vs the base alone {moved:.2e}")
assert worst < 1e-5 and moved > 1e-4
PY

# several adapters: --use picks one; none picked or an unknown name fails
"$kaizen" predict --model "$base" --adapter "a=$(run a)/adapter" --adapter "b=$(run b)/adapter" \
  --use b --data "$tmp/austen" --split valid --out "$tmp/b_base.csv" >/dev/null 2>&1 ||
  fail "predict --use b"
"$kaizen" predict --model "$(run b)/model.kzm" --data "$tmp/austen" --split valid \
  --out "$tmp/b_own.csv" >/dev/null 2>&1 || fail "predict with run b's model"
python3 - "$tmp/b_own.csv" "$tmp/b_base.csv" <<'PY' || fail "run b's predictions differ"
import csv, sys
a, b = [list(csv.reader(open(p))) for p in sys.argv[1:]]
worst = max(abs(float(x) - float(y)) for ra, rb in zip(a[1:], b[1:]) for x, y in zip(ra[1:], rb[1:]))
assert len(a) == len(b) and worst < 1e-5, worst
PY
out=$("$kaizen" predict --model "$base" --adapter "a=$(run a)/adapter" \
  --adapter "b=$(run b)/adapter" --data "$tmp/austen" --split valid 2>&1)
[ $? -eq 2 ] && echo "$out" | grep -q "2 adapters given (a, b): pick one with --use NAME" ||
  fail "two adapters without --use: $out"
out=$("$kaizen" predict --model "$base" --adapter "a=$(run a)/adapter" --use c \
  --data "$tmp/austen" 2>&1)
[ $? -eq 2 ] && echo "$out" | grep -q "no --adapter of that name (a)" || fail "--use c: $out"

# another base: refused, both fingerprints named
out=$("$kaizen" predict --model "$(run base2)/model.kzm" --adapter "$(run a)/adapter" \
  --data "$tmp/austen" --split valid 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "fingerprint kz64:[0-9a-f]*; this base model's is kz64:" ||
  fail "adapter on another base: $out"

# export --format peft writes the same adapter
"$kaizen" export --model "$(run a)/model.kzm" --format peft --out "$tmp/exported" \
  --base "$base" >/dev/null 2>&1 || fail "export --format peft"
cmp -s "$tmp/exported/adapter_model.safetensors" "$(run a)/adapter/adapter_model.safetensors" ||
  fail "exported adapter differs from the run's"
out=$("$kaizen" export --model "$base" --format peft --out "$tmp/none" 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "has no LoRA adapters" || fail "peft export of a plain model: $out"

[ $fails -eq 0 ] && echo "ok" || { echo "$fails failure(s)"; exit 1; }
