#!/usr/bin/env bash
# `kaizen train / predict / eval` end to end with the linear model on pima2:
#   determinism (two runs, identical losses and model bytes), kill -9 during
#   training then --resume (identical final model and losses), a truncated
#   newest checkpoint (skipped with a warning, previous one used), bad configs
#   (exit 1, one error line, no run directory), the NaN guard (skip; rollback
#   with a lower lr), predict and eval on the saved model.
# usage: train_cli.sh KAIZEN SHARED_DATA_DIR
set -u
kaizen="$1" data="$2"
[ -f "$data/pima2.csv" ] || { echo "skipped: $data/pima2.csv not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$kaizen" data import --kind tabular --input "$data/pima2.csv" --out "$tmp/pima2" \
  --label diabetes --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import"; exit 1; }

# job FILE STEPS [extra yaml lines under train:] -- writes a linear job.
job() {
  local file="$1" steps="$2"; shift 2
  {
    echo "model:"
    echo "  type: linear"
    echo "data:"
    echo "  train: $tmp/pima2"
    echo "train:"
    echo "  lr: 0.05"
    echo "  batch_size: 16"
    echo "  steps: $steps"
    echo "  log_every: 5"
    echo "  eval_every: 20"
    echo "  clip_norm: 5.0"
    echo "  schedule: cosine"
    echo "  warmup_steps: 10"
    echo "  seed: 7"
    for l in "$@"; do echo "  $l"; done
    echo "output:"
    echo "  runs_dir: $tmp/runs"
    echo "  checkpoint_every: 10"
    echo "  keep_checkpoints: 3"
  } >"$file"
}
losses() { cut -d, -f1,3- "$1"; } # metrics.csv without the wall_s column
run_dir() { echo "$tmp/runs/default/$1"; }

# ---- (a) determinism ------------------------------------------------------------------------
job "$tmp/short.yaml" 60
for id in d1 d2; do
  "$kaizen" train "$tmp/short.yaml" --quiet --set output.run_id=$id >"$tmp/$id.out" 2>&1 ||
    fail "train $id: $(cat "$tmp/$id.out")"
done
grep -q "^linear valid/logloss=.* valid/accuracy=.* valid/error=.* run $(run_dir d1)" "$tmp/d1.out" || fail "final line: $(cat "$tmp/d1.out")"
[ "$(losses "$(run_dir d1)/metrics.csv")" = "$(losses "$(run_dir d2)/metrics.csv")" ] ||
  fail "two identical runs logged different losses"
[ "$(wc -l <"$(run_dir d1)/metrics.csv")" -ge 12 ] || fail "metrics.csv too short"
cmp -s "$(run_dir d1)/model.kzm" "$(run_dir d2)/model.kzm" || fail "two identical runs: model.kzm differ"
for f in config.yaml params.json summary.json best.kzm model.kzm; do
  [ -s "$(run_dir d1)/$f" ] || fail "run directory lacks $f"
done
# keep_checkpoints 3 (+ the best one's step)
n_ckpt=$(ls "$(run_dir d1)/checkpoints" | grep -c '\.kzc$')
[ "$n_ckpt" -ge 3 ] && [ "$n_ckpt" -le 4 ] || fail "expected 3-4 checkpoints, found $n_ckpt"

# ---- (b) kill -9 during training, then --resume -----------------------------------------------
job "$tmp/long.yaml" 3000
"$kaizen" train "$tmp/long.yaml" --quiet --set output.run_id=ref >"$tmp/ref.out" 2>&1 ||
  fail "reference run: $(cat "$tmp/ref.out")"
"$kaizen" train "$tmp/long.yaml" --quiet --set output.run_id=killed >"$tmp/killed.out" 2>&1 &
pid=$!
for _ in $(seq 1 2000); do
  ls "$(run_dir killed)/checkpoints/" 2>/dev/null | grep -q 'ckpt-0*[1-9][0-9]*[0-9]\.kzc$' && break
  sleep 0.005
done
if kill -9 $pid 2>/dev/null; then
  wait $pid 2>/dev/null
  [ -s "$(run_dir killed)/model.kzm" ] && fail "killed run has a final model: kill came too late"
  "$kaizen" train "$tmp/long.yaml" --set output.run_id=killed --resume >"$tmp/resumed.out" 2>&1 ||
    fail "resume: $(cat "$tmp/resumed.out")"
  grep -q '"event":"resume"' "$tmp/resumed.out" || fail "resume did not report its step: $(head -3 "$tmp/resumed.out")"
  cmp -s "$(run_dir ref)/model.kzm" "$(run_dir killed)/model.kzm" ||
    fail "resumed run's model.kzm differs from the uninterrupted run's"
  [ "$(losses "$(run_dir ref)/metrics.csv")" = "$(losses "$(run_dir killed)/metrics.csv")" ] ||
    fail "resumed run's metrics differ from the uninterrupted run's"
else
  fail "the training process ended before it could be killed (make the job longer)"
fi

# ---- (c) a truncated newest checkpoint is skipped with a warning ---------------------------------
ckdir="$(run_dir d1)/checkpoints"
newest=$(ls "$ckdir" | grep '\.kzc$' | sort | tail -1)
truncate -s 100 "$ckdir/$newest"
rm -f "$(run_dir d1)/model.kzm"
"$kaizen" train "$tmp/short.yaml" --set output.run_id=d1 --resume >"$tmp/trunc.out" 2>&1 ||
  fail "resume past a truncated checkpoint: $(cat "$tmp/trunc.out")"
grep -q "warning: skipping checkpoint: .*$newest" "$tmp/trunc.out" ||
  fail "no warning naming $newest: $(head -3 "$tmp/trunc.out")"
cmp -s "$(run_dir d1)/model.kzm" "$(run_dir d2)/model.kzm" ||
  fail "resuming from the previous checkpoint did not reproduce the run"

# ---- (c2) --resume with a changed config: refused, or --allow-changes keeps the old config -------
cp "$(run_dir d1)/config.yaml" "$tmp/d1.config"
out=$("$kaizen" train "$tmp/short.yaml" --quiet --set output.run_id=d1 --resume \
  --set train.lr=0.07 2>&1) && fail "resume with a changed train.lr was accepted"
grep -qF "train.lr (0.05 -> 0.07)" <<<"$out" || fail "changed lr on resume: $out"
cmp -s "$tmp/d1.config" "$(run_dir d1)/config.yaml" || fail "a refused resume rewrote config.yaml"
"$kaizen" train "$tmp/short.yaml" --set output.run_id=d1 --resume --set train.lr=0.07 \
  --allow-changes >"$tmp/allow.out" 2>&1 || fail "--allow-changes: $(cat "$tmp/allow.out")"
grep -q 'config changes (--allow-changes' "$tmp/allow.out" ||
  fail "the resume event does not record the change: $(grep resume "$tmp/allow.out")"
kept=$(ls "$(run_dir d1)" | grep '^config\.before-step-[0-9]*\.yaml$' | head -n 1)
[ -n "$kept" ] && cmp -s "$tmp/d1.config" "$(run_dir d1)/$kept" ||
  fail "--allow-changes did not keep the old config ($kept)"
grep -q '^  lr: 0.07$' "$(run_dir d1)/config.yaml" || fail "config.yaml lacks the new lr"

# ---- (d) bad configs: exit 1, one error line, no run directory ----------------------------------
bad() { # bad NAME NEEDLE [--set ...]
  local name="$1" needle="$2"; shift 2
  local out rc
  out=$("$kaizen" train "$tmp/short.yaml" --quiet --set output.run_id=bad_$name "$@" 2>&1); rc=$?
  [ $rc -eq 1 ] || fail "bad config $name: exit $rc, wanted 1"
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "bad config $name: not one line: $out"
  grep -qF -- "$needle" <<<"$out" || fail "bad config $name: wanted '$needle', got: $out"
  [ -e "$(run_dir bad_$name)" ] && fail "bad config $name left a run directory"
}
bad unknown_key "unknown key 'train.lrr'" --set train.lrr=0.1
bad wrong_type "train.batch_size" --set train.batch_size=lots
bad missing_data "$tmp/nowhere" --set data.train=$tmp/nowhere
bad negative_lr "train.lr" --set train.lr=-0.5
bad bf16 "train.precision: bf16: model.type linear trains in fp32 only" --set train.precision=bf16
bad fp16 "train.precision" --set train.precision=fp16
bad resume_no_id "needs output.run_id" --set output.run_id= --resume
[ -e "$tmp/runs/default" ] && [ -n "$(ls "$tmp/runs/default" | grep bad_)" ] && fail "a bad config created a run"
# in a file, the error names the line of the offending key
job "$tmp/bad_lr.yaml" 60
sed -i 's/^  lr: 0.05$/  lr: 0/' "$tmp/bad_lr.yaml" # line 6
out=$("$kaizen" train "$tmp/bad_lr.yaml" --quiet --set output.run_id=bad_file_lr 2>&1) &&
  fail "lr: 0 in a file was accepted"
grep -qF "bad_lr.yaml:6: train.lr: must be > 0" <<<"$out" || fail "lr: 0 in a file: $out"
job "$tmp/bad_key.yaml" 60 "lrr: 1" # line 15
out=$("$kaizen" train "$tmp/bad_key.yaml" --quiet --set output.run_id=bad_file_key 2>&1) &&
  fail "an unknown key in a file was accepted"
grep -qF "bad_key.yaml:15: unknown key 'train.lrr'" <<<"$out" || fail "unknown key in a file: $out"
[ -e "$(run_dir bad_file_lr)" ] || [ -e "$(run_dir bad_file_key)" ] && fail "a bad config file created a run"

# ---- (e) NaN guard ----------------------------------------------------------------------------
"$kaizen" train "$tmp/short.yaml" --set output.run_id=nan1 --set train.inject_nan_at_step=15 \
  >"$tmp/nan1.out" 2>&1 || fail "nan skip run: $(cat "$tmp/nan1.out")"
grep -q '"event":"nan_skip","step":15' "$tmp/nan1.out" || fail "no nan_skip event at step 15"
grep -q '"event":"rollback"' "$tmp/nan1.out" && fail "one NaN step must not roll back"
grep -qE '^linear valid/logloss=[0-9.e+-]+ ' "$tmp/nan1.out" || fail "nan skip run: no finite final loss"
"$kaizen" train "$tmp/short.yaml" --set output.run_id=nan3 --set train.inject_nan_at_step=23 \
  --set train.inject_nan_steps=3 >"$tmp/nan3.out" 2>&1 || fail "nan rollback run: $(cat "$tmp/nan3.out")"
grep -q '"event":"rollback","step":20,"detail":"rolled back to step 20, lr multiplier now 0.5"' \
  "$tmp/nan3.out" || fail "no rollback to step 20 with lr x0.5: $(grep event "$tmp/nan3.out" | grep -v progress)"
grep -qE '^linear valid/logloss=[0-9.e+-]+ ' "$tmp/nan3.out" || fail "rollback run: no finite final loss"
tail -1 "$(run_dir nan3)/metrics.csv" | grep -qv nan || fail "rollback run: last row not finite"

# ---- progress on a non-TTY: one JSON object per log interval, with every field --------------------
n=$(grep -c '"event":"progress"' "$tmp/nan1.out")
[ "$n" -ge 10 ] || fail "wanted a progress object per 5 steps of 60, got $n"
line=$(grep -m1 '"event":"progress"' "$tmp/nan1.out")
/usr/bin/python3 -c '
import json, sys
d = json.loads(sys.argv[1])
for k in ("step", "loss", "lr", "samples_per_s", "flops_per_s", "peak_pct", "eta_s"):
    assert k in d, k
assert d["step"] == 5 and d["samples_per_s"] > 0 and d["flops_per_s"] > 0 and d["eta_s"] >= 0
' "$line" || fail "progress object lacks a field or a value is off: $line"

# ---- (f) predict and eval on the saved model --------------------------------------------------
model="$(run_dir d2)/model.kzm"
"$kaizen" predict --model "$model" --data "$tmp/pima2" --out "$tmp/preds.csv" 2>"$tmp/pred.err" ||
  fail "predict: $(cat "$tmp/pred.err")"
[ "$(head -1 "$tmp/preds.csv")" = "row,p_neg,p_pos" ] || fail "predict header: $(head -1 "$tmp/preds.csv")"
[ "$(wc -l <"$tmp/preds.csv")" -eq 769 ] || fail "predict: wanted 768 rows + header"
[ -e "$tmp/preds.csv.tmp" ] && fail "predict left its .tmp"
out=$("$kaizen" eval --model "$model" --data "$tmp/pima2" 2>&1) || fail "eval: $out"
grep -qE '^accuracy 0\.[6-9]' <<<"$out" || fail "eval accuracy below 0.6 or missing: $out"
# --split: only the validation shards (their row count is in the manifest)
nvalid=$("$kaizen" data inspect "$tmp/pima2" | awk '$2 == "split" && $3 == "valid" { n += $5 } END { print n + 0 }')
[ "$nvalid" -gt 0 ] || fail "could not read the valid split's row count"
"$kaizen" predict --model "$model" --data "$tmp/pima2" --split valid --out "$tmp/pv.csv" ||
  fail "predict --split valid"
[ "$(wc -l <"$tmp/pv.csv")" -eq $((nvalid + 1)) ] || fail "predict --split valid: wanted $nvalid rows"
out=$("$kaizen" eval --model "$model" --data "$tmp/pima2" --split nosuch 2>&1) &&
  fail "eval of an absent split succeeded"
grep -q "nosuch" <<<"$out" || fail "eval --split nosuch: the error does not name the split: $out"
out=$("$kaizen" eval --model "$model" --data "$tmp/pima2" --json 2>&1) || fail "eval --json: $out"
/usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["rows"]==768 and 0<d["logloss"]<1 and abs(d["accuracy"]+d["error"]-1)<1e-9' \
  "$out" || fail "eval --json: $out"
out=$("$kaizen" predict --model "$tmp/pima2/manifest.json" --data "$tmp/pima2" --out "$tmp/x.csv" 2>&1) &&
  fail "predict with a non-model file succeeded"
grep -q "not a kaizen model file" <<<"$out" || fail "predict on a non-model: $out"
[ -e "$tmp/x.csv" ] && fail "a failed predict left output"

# ---- the MLP through the same CLI: class-named predictions, --device recorded ---------------------
"$kaizen" train "$tmp/short.yaml" --quiet --device cpu --set output.run_id=mlp --set model.type=mlp \
  --set "model.hidden=[8]" --set model.dropout=0.1 >"$tmp/mlp.out" 2>&1 || fail "mlp run: $(cat "$tmp/mlp.out")"
grep -q '^  device: cpu$' "$(run_dir mlp)/config.yaml" || fail "config.yaml does not record --device cpu"
"$kaizen" predict --model "$(run_dir mlp)/model.kzm" --data "$tmp/pima2" --out "$tmp/mlp.csv" ||
  fail "mlp predict"
[ "$(head -1 "$tmp/mlp.csv")" = "row,p_neg,p_pos" ] || fail "mlp predict header: $(head -1 "$tmp/mlp.csv")"

# ---- early stopping, gradient accumulation + SGD, continued training -----------------------------
"$kaizen" train "$tmp/short.yaml" --quiet --set output.run_id=es --set train.early_stopping.patience=1 \
  --set train.early_stopping.min_delta=2 >"$tmp/es.out" 2>&1 || fail "early stopping run: $(cat "$tmp/es.out")"
grep -q '"status": *"stopped_early"' "$(run_dir es)/summary.json" || fail "summary lacks stopped_early"
[ "$(tail -1 "$(run_dir es)/metrics.csv" | cut -d, -f1)" = 40 ] || fail "early stopping did not stop at step 40"
for id in acc1 acc2; do
  "$kaizen" train "$tmp/short.yaml" --quiet --set output.run_id=$id --set train.grad_accum=3 \
    --set train.optimizer=sgd >"$tmp/$id.out" 2>&1 || fail "grad_accum run: $(cat "$tmp/$id.out")"
done
cmp -s "$(run_dir acc1)/model.kzm" "$(run_dir acc2)/model.kzm" || fail "grad_accum+sgd runs differ"
cmp -s "$(run_dir acc1)/model.kzm" "$(run_dir d2)/model.kzm" && fail "grad_accum+sgd changed nothing"
"$kaizen" train "$tmp/short.yaml" --quiet --set output.run_id=cont --set train.init_from="$(run_dir d2)/model.kzm" \
  --set train.rewarm_steps=5 >"$tmp/cont.out" 2>&1 || fail "init_from run: $(cat "$tmp/cont.out")"
first() { sed -n 2p "$1" | cut -d, -f3; } # train/loss of the first logged row
/usr/bin/python3 -c 'import sys; assert float(sys.argv[1]) < float(sys.argv[2])' \
  "$(first "$(run_dir cont)/metrics.csv")" "$(first "$(run_dir d2)/metrics.csv")" ||
  fail "continued training did not start from the trained weights"
[ "$(sed -n 2p "$(run_dir cont)/metrics.csv" | cut -d, -f4)" = 0.05 ] || fail "rewarm: lr at step 5 is not the peak"

[ $fails -eq 0 ] && echo "train_cli: all checks passed"
exit $((fails > 0))
