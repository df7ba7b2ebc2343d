#!/usr/bin/env bash
# LoRA adapters on the TFT through the kaizen binary, each step its own
# process: a base TFT trained on txhousing; a LoRA run from it
# (train.init_from + model.lora, all-linear) training fewer parameters than
# the model holds and leaving adapter/ in PEFT's layout under the TFT's
# module names; the LoRA run's model.kzm (merged at prediction) and the base
# + --adapter predict and evaluate the same; a second LoRA run (two groups,
# bias lora_only, no head) the same; the adapter on another base refused
# naming both fingerprints; a base of another layout, an unknown target and
# adapter dropout refused; export --format peft rewrites the run's adapter.
# usage: tft_lora_cli.sh KAIZEN SHARED_DATA_DIR
set -u
kaizen="$1" data="$2"
[ -f "$data/txhousing.csv" ] || {
  echo "skipped: txhousing.csv not found in $data"
  exit 77
}
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" | head -5; fails=$((fails + 1)); }

"$kaizen" data import --kind timeseries --input "$data/txhousing.csv" --out "$tmp/tx" \
  --series-id city --time date --label sales --known year,month --valid-fraction 0.1 >/dev/null ||
  { echo "FAIL: import txhousing"; exit 1; }

# job FILE EXPERIMENT SEED STEPS [model lines...]: a small TFT; INIT (when
# set) as train.init_from
job() {
  local file="$1" exp="$2" seed="$3" steps="$4"; shift 4
  {
    echo "model:"
    echo "  type: tft"
    echo "  hidden: ${HIDDEN:-16}"
    echo "  heads: 4"
    echo "  encoder_length: 24"
    echo "  horizon: 6"
    echo "  season: 12"
    for l in "$@"; do echo "$l"; done
    echo "data:"
    echo "  train: $tmp/tx"
    echo "train:"
    echo "  lr: 0.003"
    echo "  batch_size: 64"
    echo "  steps: $steps"
    echo "  log_every: 10"
    echo "  clip_norm: 1.0"
    echo "  seed: $seed"
    echo "  threads: 1"
    [ -n "${INIT:-}" ] && echo "  init_from: $INIT"
    echo "output:"
    echo "  runs_dir: $tmp/runs"
    echo "  experiment: $exp"
  } >"$file"
}
run() { ls -d "$tmp/runs/$1"/*/ 2>/dev/null | grep -v /a2/ | head -1; }
metric() { awk -v n="$1" '$1 == n { print $2 }'; }

job "$tmp/base.yaml" base 3 40
"$kaizen" train "$tmp/base.yaml" --quiet >/dev/null 2>"$tmp/base.err" ||
  { echo "FAIL: train base: $(cat "$tmp/base.err")"; exit 1; }
base="$(run base)model.kzm"
job "$tmp/base2.yaml" base2 4 20
"$kaizen" train "$tmp/base2.yaml" --quiet >/dev/null 2>&1 || fail "train base2"
base2="$(run base2)model.kzm"

# ---- the LoRA run -----------------------------------------------------------------------
INIT="$base" job "$tmp/a.yaml" a 5 30 "  lora:" "    r: 4" "    alpha: 8" \
  "    target_modules: [all-linear]"
"$kaizen" train "$tmp/a.yaml" >"$tmp/a.out" 2>&1 || fail "lora run a: $(tail -3 "$tmp/a.out")"
a="$(run a)"
line=$(grep "LoRA: .* parameters trainable" "$tmp/a.out")
trained=$(echo "$line" | sed -n 's/.*LoRA: \([0-9]*\) of \([0-9]*\) parameters.*/\1/p')
total=$(echo "$line" | sed -n 's/.*LoRA: \([0-9]*\) of \([0-9]*\) parameters.*/\2/p')
[ -n "$trained" ] && [ "$trained" -lt "$total" ] || fail "trainable count: '$line'"
grep -q "train.init_from .*: the base's [0-9]* parameters and scaling, frozen" "$tmp/a.out" ||
  fail "init_from note: $(grep init_from "$tmp/a.out")"
echo "lora run: $line"
for f in adapter_config.json adapter_model.safetensors; do
  [ -f "$a/adapter/$f" ] || fail "no adapter/$f in run a"
done
cfg="$a/adapter/adapter_config.json"
grep -q '"peft_type": "LORA"' "$cfg" && grep -q '"vp.var0.fc1"' "$cfg" && grep -q '"enc.wh"' "$cfg" &&
  grep -q '"kaizen_model_type": "tft"' "$cfg" || fail "adapter_config.json: $(head -c 600 "$cfg")"
head -c 40000 "$a/adapter/adapter_model.safetensors" | grep -aq 'base_model.model.attn.wq.lora_A.weight' &&
  head -c 40000 "$a/adapter/adapter_model.safetensors" | grep -aq 'kaizen_base_fingerprint' ||
  fail "adapter_model.safetensors: keys"

# stopped at step 4 and resumed: the same model (the checkpoint's optimizer
# state covers the trained ranges only)
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a2 --set train.steps=4 \
  --set output.checkpoint_every=2 >/dev/null 2>&1 || fail "short lora run"
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a2 --set output.checkpoint_every=2 \
  --resume --allow-changes >"$tmp/a2.out" 2>&1 || fail "lora resume: $(cat "$tmp/a2.out")"
cmp -s "$a/model.kzm" "$tmp/runs/a/a2/model.kzm" || fail "resumed lora run: model.kzm differs"

# the run's model and base + adapter forecast the same; the base alone does not
"$kaizen" predict --model "$a/model.kzm" --data "$tmp/tx" --out "$tmp/p_run.csv" 2>/dev/null ||
  fail "predict run a"
"$kaizen" predict --model "$base" --adapter "$a/adapter" --data "$tmp/tx" --out "$tmp/p_ad.csv" \
  2>"$tmp/p_ad.err" || fail "predict --adapter: $(cat "$tmp/p_ad.err")"
grep -q "base fingerprint kz64:[0-9a-f]* (matches)" "$tmp/p_ad.err" ||
  fail "predict --adapter note: $(cat "$tmp/p_ad.err")"
"$kaizen" predict --model "$base" --data "$tmp/tx" --out "$tmp/p_base.csv" 2>/dev/null ||
  fail "predict base"
cmp -s "$tmp/p_run.csv" "$tmp/p_ad.csv" || fail "run a vs base + adapter: forecasts differ"
cmp -s "$tmp/p_run.csv" "$tmp/p_base.csv" && fail "the adapter does not change the base's forecasts"
[ "$(wc -l <"$tmp/p_ad.csv")" -gt 100 ] || fail "predict --adapter: $(head -3 "$tmp/p_ad.csv")"
e1=$("$kaizen" eval --model "$a/model.kzm" --data "$tmp/tx" 2>/dev/null | metric q_risk_p50)
e2=$("$kaizen" eval --model "$base" --adapter "a=$a/adapter" --use a --data "$tmp/tx" 2>/dev/null |
  metric q_risk_p50)
[ -n "$e1" ] && [ "$e1" = "$e2" ] || fail "eval: run a $e1, base + adapter $e2"
echo "lora run a: q_risk_p50 $e1 (base + adapter $e2)"

# ---- two groups, biases of the adapted layers, no head ----------------------------------
INIT="$base" job "$tmp/b.yaml" b 6 20 "  lora:" "    r: 2" "    alpha: 4" "    use_rslora: true" \
  "    target_modules: [lstm_hh, query]" "    bias: lora_only" "    train_head: false"
"$kaizen" train "$tmp/b.yaml" >"$tmp/b.out" 2>&1 || fail "lora run b: $(tail -3 "$tmp/b.out")"
b="$(run b)"
grep -q '"modules_to_save": null' "$b/adapter/adapter_config.json" || fail "run b: modules_to_save"
"$kaizen" predict --model "$b/model.kzm" --data "$tmp/tx" --out "$tmp/pb_run.csv" 2>/dev/null ||
  fail "predict run b"
"$kaizen" predict --model "$base" --adapter "$b/adapter" --data "$tmp/tx" --out "$tmp/pb_ad.csv" \
  2>/dev/null || fail "predict --adapter b"
cmp -s "$tmp/pb_run.csv" "$tmp/pb_ad.csv" || fail "run b vs base + adapter: forecasts differ"
# a LoRA model given its own adapter: its adapters stripped (the base's
# weights back bit for bit), the file's loaded and merged
"$kaizen" predict --model "$a/model.kzm" --adapter "$a/adapter" --data "$tmp/tx" \
  --out "$tmp/p_aa.csv" 2>/dev/null || fail "predict a's model --adapter a"
cmp -s "$tmp/p_run.csv" "$tmp/p_aa.csv" || fail "a's adapter on a's model: not a's forecasts"
# b's adapter onto a's model is onto another base: a trained the head
out=$("$kaizen" predict --model "$a/model.kzm" --adapter "$b/adapter" --data "$tmp/tx" \
  --out "$tmp/x.csv" 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "(a different base)" || fail "b's adapter on a's model: $out"

# ---- refused ----------------------------------------------------------------------------
out=$("$kaizen" predict --model "$base2" --adapter "$a/adapter" --data "$tmp/tx" \
  --out "$tmp/x.csv" 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "was trained on the base model .* with fingerprint kz64:[0-9a-f]*; this base model's is kz64:[0-9a-f]* (a different base)" ||
  fail "adapter on another base: $out"
HIDDEN=8 INIT="$base" job "$tmp/c.yaml" c 5 10 "  lora:" "    r: 4"
out=$("$kaizen" train "$tmp/c.yaml" --quiet 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "train.init_from: .*: its config differs from this LoRA job's" ||
  fail "base of another layout: $out"
INIT="$base" job "$tmp/d.yaml" d 5 10 "  lora:" "    target_modules: [query, dense]"
out=$("$kaizen" train "$tmp/d.yaml" --quiet 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "'dense' is not a TFT layer group" || fail "bad target: $out"
INIT="$base" job "$tmp/e.yaml" e 5 10 "  lora:" "    dropout: 0.1"
out=$("$kaizen" train "$tmp/e.yaml" --quiet 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "take no dropout" || fail "adapter dropout: $out"

# ---- export --format peft writes the run's adapter ----------------------------------------
"$kaizen" export --model "$a/model.kzm" --format peft --out "$tmp/exported" --base "$base" \
  >/dev/null 2>&1 || fail "export --format peft"
cmp -s "$tmp/exported/adapter_model.safetensors" "$a/adapter/adapter_model.safetensors" ||
  fail "exported adapter differs from the run's"

[ $fails -eq 0 ] && echo "ok" || { echo "$fails failure(s)"; exit 1; }
