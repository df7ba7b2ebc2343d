#!/usr/bin/env bash
# Data-parallel training of the transformer (MLM) and the TFT through the CLI
# (docs/DISTRIBUTED.md): `mpirun -np 2` with batch_size b against one process
# with 2b (MLM and book classification). Both models' batch losses are means over items that differ in
# number between ranks (masked tokens, windows): the trainer weighs each
# rank's mean by its share of the global batch's items (loss_items), and MLM
# masks are keyed by the row's place in the global batch. Checks: train/loss
# of every step within 1e-5 relative, and the final validation metric.
# Dropout 0 (masks are drawn per rank). The MLM run on 2 ranks reduces its
# gradients in small buckets, most started during the backward pass
# (docs/DISTRIBUTED.md "Overlap"). Needs ../shared/data (77 without).
# usage: dist_models.sh KAIZEN SHARED_DATA_DIR VOCAB
set -u
kaizen="$1" data="$2" vocab="$3"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/dist_mpirun.sh"
have_mpi || { echo "skipped: no mpirun"; exit 77; }
[ -f "$data/austen.csv" ] && [ -f "$data/txhousing.csv" ] ||
  { echo "skipped: austen.csv / txhousing.csv not in $data"; exit 77; }
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
cd "$tmp" || exit 1

awk 'NR == 1 || NR % 40 == 0' "$data/austen.csv" >austen.csv
"$kaizen" data import --kind text --input austen.csv --out austen --text-column text \
  --label book --vocab "$vocab" --cased --max-len 32 --valid-fraction 0.1 --seed 1 >/dev/null ||
  { echo "FAIL: import austen"; exit 1; }
"$kaizen" data import --kind timeseries --input "$data/txhousing.csv" --out tx --series-id city \
  --time date --label sales --known year,month --valid-fraction 0.1 >/dev/null ||
  { echo "FAIL: import txhousing"; exit 1; }

mlm() { # NAME BATCH [TASK]
  cat >"$1.yaml" <<EOT
model: {type: transformer, task: ${3:-mlm}, layers: 2, hidden: 32, heads: 2, ffn: 64, dropout: 0, attention_dropout: 0}
data: {train: austen}
train: {lr: 0.002, weight_decay: 0.01, batch_size: $2, steps: 10, log_every: 1, eval_every: 10, seed: 5}
output: {runs_dir: runs, experiment: $1, run_id: r}
EOT
}
tft() { # NAME BATCH
  cat >"$1.yaml" <<EOT
model: {type: tft, hidden: 16, heads: 4, encoder_length: 24, horizon: 6, season: 12}
data: {train: tx}
train: {lr: 0.003, batch_size: $2, steps: 12, log_every: 1, clip_norm: 1.0, seed: 3}
output: {runs_dir: runs, experiment: $1, run_id: r}
EOT
}
loss_col() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train/loss") c = i; next }
  $c != "" { print $1, $c }' "$1"; }
same_curve() { # ONE TWO STEPS [TOLERANCE, relative; 1e-5]
  loss_col "runs/$1/r/metrics.csv" >"$1.loss"
  loss_col "runs/$2/r/metrics.csv" >"$2.loss"
  [ "$(wc -l <"$1.loss")" = "$3" ] || fail "$1: $(wc -l <"$1.loss") steps logged"
  paste -d' ' "$1.loss" "$2.loss" | awk -v tol="${4:-1e-5}" '{ d = $2 - $4; if (d < 0) d = -d;
    r = d / ($2 < 0 ? -$2 : $2); if ($1 != $3 || r > tol) { bad++;
    print "step " $1 ": " $2 " vs " $4 " (rel " r ")" } }
    END { exit bad > 0 }' >"$1.diff" || fail "$1 vs $2: loss curves differ: $(head -3 "$1.diff")"
  echo "$1: last step $(tail -1 "$1.loss") vs $(tail -1 "$2.loss")"
}
final() { sed -n "s|.*$2=\([^ ]*\).*|\1|p" "$1"; }

mlm mlm1 16
mlm mlm2 8
"$kaizen" train mlm1.yaml --quiet >mlm1.out 2>&1 || fail "mlm one process: $(cat mlm1.out)"
# buckets of 4 Ki floats, so that the model has several and the top ones
# start reducing (non-blocking) during the backward pass of the layers below
KZ_DIST_BUCKET_FLOATS=4096 mpirun_np 2 "$kaizen" train mlm2.yaml >mlm2.out 2>mlm2.err ||
  fail "mlm -np 2: $(tail -5 mlm2.err)"
same_curve mlm1 mlm2 10
grep '"event":"overlap"' mlm2.err | sed 's/.*bucket(s) of up to [0-9]* floats; \([0-9]*\) of \([0-9]*\) .*/\1 \2/' |
  awk '{ n++; early = $1; all = $2 } END { exit !(n == 1 && early > 0 && all > 10) }' ||
  fail "mlm -np 2: no bucket started during the backward pass: $(grep overlap mlm2.err)"
echo "mlm -np 2: $(grep -o 'gradient all-reduce in[^"]*' mlm2.err)"
a=$(final mlm1.out valid/logloss) b=$(final mlm2.out valid/logloss)
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5 * a) }' ||
  fail "mlm final valid/logloss $a vs $b"

# classification: a mean over labelled rows
mlm cls1 16 classification
mlm cls2 8 classification
"$kaizen" train cls1.yaml --quiet >cls1.out 2>&1 || fail "cls one process: $(cat cls1.out)"
mpirun_np 2 "$kaizen" train cls2.yaml --quiet >cls2.out 2>&1 || fail "cls -np 2: $(tail -5 cls2.out)"
same_curve cls1 cls2 10

tft tft1 64
tft tft2 32
"$kaizen" train tft1.yaml --quiet >tft1.out 2>&1 || fail "tft one process: $(cat tft1.out)"
mpirun_np 2 "$kaizen" train tft2.yaml --quiet >tft2.out 2>&1 || fail "tft -np 2: $(tail -5 tft2.out)"
same_curve tft1 tft2 12
a=$(final tft1.out valid/q_risk_p50) b=$(final tft2.out valid/q_risk_p50)
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5 * a) }' ||
  fail "tft final valid/q_risk_p50 $a vs $b"

# train.precision bf16 with ZeRO-1: each rank's optimizer rewrites the bf16
# copy of its own chunk only, so the copy is refreshed from the gathered
# fp32 block; 2 ranks with and without ZeRO-1 then train alike (without the
# refresh they differ from step 2 by 1e-3). Against one process bf16 allows
# 1e-4: master weights equal to the last bits can round to other bf16 values
# (about 8e-6 here).
mlm bf1 16
mlm bf2 8
for j in bf1 bf2; do sed -i 's/seed: 5}/seed: 5, precision: bf16}/' $j.yaml; done
sed 's/experiment: bf2/experiment: bz2/; s/precision: bf16}/precision: bf16, zero1: true}/' bf2.yaml >bz2.yaml
"$kaizen" train bf1.yaml --quiet >bf1.out 2>&1 || fail "bf16 one process: $(cat bf1.out)"
mpirun_np 2 "$kaizen" train bf2.yaml --quiet >bf2.out 2>&1 || fail "bf16 -np 2: $(tail -5 bf2.out)"
mpirun_np 2 "$kaizen" train bz2.yaml --quiet >bz2.out 2>&1 || fail "bf16 zero1 -np 2: $(tail -5 bz2.out)"
same_curve bf2 bz2 10
same_curve bf1 bz2 10 1e-4

# LoRA (r 4 on every linear module) from the classification model above:
# only the adapters train; they report per layer, so with buckets of 512
# floats the top ones start reducing during the backward pass
for j in lora1:16 lora2:8; do
  mlm "${j%:*}" "${j#*:}" classification
  sed -i "s|attention_dropout: 0}|attention_dropout: 0, lora: {r: 4, alpha: 8, target_modules: all-linear}}|; s|seed: 5}|seed: 5, init_from: runs/cls1/r/model.kzm}|" "${j%:*}.yaml"
done
"$kaizen" train lora1.yaml --quiet >lora1.out 2>&1 || fail "lora one process: $(tail -5 lora1.out)"
KZ_DIST_BUCKET_FLOATS=512 mpirun_np 2 "$kaizen" train lora2.yaml >lora2.out 2>lora2.err ||
  fail "lora -np 2: $(tail -5 lora2.err)"
same_curve lora1 lora2 10
grep '"event":"overlap"' lora2.err | sed 's/.*bucket(s) of up to [0-9]* floats; \([0-9]*\) of \([0-9]*\) .*/\1 \2/' |
  awk '{ n++; early = $1 } END { exit !(n == 1 && early > 0) }' ||
  fail "lora -np 2: no bucket started during the backward pass: $(grep overlap lora2.err)"
echo "lora -np 2: $(grep -o 'gradient all-reduce in[^"]*' lora2.err)"
# LoRA with ZeRO-1: the adapter-only checkpoint holds no state block (the
# ranks' shards do); stopped at step 5 and resumed on one process, the curve
# is still one process's
sed 's/experiment: lora2/experiment: loraz/; s/seed: 5,/seed: 5, zero1: true,/; s/run_id: r}/run_id: r, checkpoint_every: 5}/' lora2.yaml >loraz.yaml
mpirun_np 2 "$kaizen" train loraz.yaml --quiet >loraz.out 2>&1 || fail "lora zero1 -np 2: $(tail -5 loraz.out)"
same_curve lora1 loraz 10
ls runs/loraz/r/checkpoints/*.shard-* >/dev/null 2>&1 || fail "lora zero1: no optimizer shards written"
# resume from its step-5 checkpoint (the step-10 one removed) on one process
mkdir -p runs/lorazr && cp -r runs/loraz/r runs/lorazr/r
rm -f runs/lorazr/r/checkpoints/ckpt-*10.* runs/lorazr/r/model.kzm
sed 's/experiment: loraz/experiment: lorazr/' loraz.yaml >lorazr.yaml
"$kaizen" train lorazr.yaml --resume --allow-changes --set train.batch_size=16 --quiet >lorazr.out 2>&1 ||
  fail "lora zero1 resumed on 1 process: $(tail -5 lorazr.out)"
[ -f runs/lorazr/r/config.before-step-5.yaml ] ||
  fail "lora zero1: the one-process run did not resume from step 5"
same_curve lora1 lorazr 10

[ $fails -eq 0 ] && echo "dist_models: all ok"
exit $((fails > 0))
