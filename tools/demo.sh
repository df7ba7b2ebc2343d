#!/usr/bin/env bash
# The main job, on the CPU: show the build and devices, check every kernel
# against its reference and time the GEMM, import the bundled data sets, then
# train an MLP and a GBDT model on two of them, pre-train a small transformer
# encoder with masked LM on Austen and fine-tune it to classify the novel of a
# line, train a small Temporal Fusion Transformer on the txhousing series (P50
# q-risk beside the seasonal-naive baseline), and evaluate all on the held-out
# split, side by side.
#   tools/demo.sh [BUILD_DIR]     (KZ_DATA_DIR overrides ../shared/data)
set -euo pipefail
build="${1:-build}"
kaizen="$build/kaizen"
data_dir="${KZ_DATA_DIR:-../shared/data}"
work="$build/demo"

echo "== kaizen info"
"$kaizen" info --device cpu
echo
echo "== op parity on the CPU (every op against the double-precision reference)"
"$kaizen" kernels test --device cpu
echo
echo "== GEMM benchmark on the CPU (bench/kernels.sh runs every op)"
"$kaizen" kernels bench --device cpu --op matmul

if [ ! -d "$data_dir" ]; then
  echo "no data directory at $data_dir: set KZ_DATA_DIR to train on the bundled data sets" >&2
  exit 1
fi
rm -rf "$work"
mkdir -p "$work"
echo
echo "== import: CSV -> HDF5 shards, 80/20 train/valid split (seed 1)"
"$kaizen" data import --kind tabular --input "$data_dir/letter.csv" --out "$work/data/letter" \
  --label lettr --valid-fraction 0.2 --seed 1
"$kaizen" data import --kind tabular --input "$data_dir/diamonds.csv" --out "$work/data/diamonds" \
  --label price --valid-fraction 0.2 --seed 1
"$kaizen" data import --kind timeseries --input "$data_dir/txhousing.csv" \
  --out "$work/data/txhousing" --series-id city --time date --label sales --known year,month \
  --valid-fraction 0.065
# the text job reads every 4th line of Austen (lines of at least 40 characters)
# to stay within a couple of minutes on 2 cores
awk 'NR == 1 || NR % 4 == 1' "$data_dir/austen.csv" >"$work/austen_slice.csv"
"$kaizen" data import --kind text --input "$work/austen_slice.csv" --out "$work/data/austen" \
  --text-column text --label book --vocab tests/fixtures/wordpiece/vocab_austen_cased.txt \
  --cased --max-len 64 --min-chars 40 --valid-fraction 0.2 --seed 1
"$kaizen" data inspect "$work/data/letter" | head -12

# train CONFIG DATA NAME [--set ...]: trains quietly, prints the final line,
# leaves the run directory in run_<NAME>.
train() {
  local config=$1 data=$2 name=$3
  shift 3
  echo
  echo "== train $name ($config)"
  local start end line
  start=$(date +%s%N)
  line=$("$kaizen" train "$config" --quiet --device cpu --set "data.train=$data" \
    --set "output.runs_dir=$work/runs" --set "output.experiment=demo" \
    --set "output.run_id=$name" "$@" | tail -1)
  end=$(date +%s%N)
  echo "$line"
  local ds=$(((end - start) / 100000000)) # tenths of a second
  printf -v "secs_$name" '%d.%d' $((ds / 10)) $((ds % 10))
}
train configs/jobs/letter_mlp.yaml "$work/data/letter" letter_mlp --set train.epochs=20
train configs/jobs/letter_gbdt.yaml "$work/data/letter" letter_gbdt
train configs/jobs/diamonds_mlp.yaml "$work/data/diamonds" diamonds_mlp
train configs/jobs/diamonds_gbdt.yaml "$work/data/diamonds" diamonds_gbdt
# a small encoder: masked-LM pre-training on the Austen lines, then fine-tuned
# (train.init_from) to tell which novel a line is from
train configs/jobs/demo_austen_mlm.yaml "$work/data/austen" austen_mlm
train configs/jobs/demo_austen_book.yaml "$work/data/austen" austen_tf \
  --set "train.init_from=$work/runs/demo/austen_mlm/model.kzm"
# forecasting: a small TFT on the 46 txhousing series, the last 13 months held out
train configs/jobs/demo_txhousing_tft.yaml "$work/data/txhousing" txhousing_tft

# metric RUN FILE DATA NAME: one metric of a saved model on the valid split.
metric() {
  "$kaizen" eval --model "$work/runs/demo/$1/$2" --data "$3" --split valid --device cpu |
    awk -v m="$4" '$1 == m { print $2 }'
}
lv="$work/data/letter"
dv="$work/data/diamonds"
acc_mlp=$(metric letter_mlp model.kzm "$lv" accuracy)
acc_gbdt=$(metric letter_gbdt model.json "$lv" accuracy)
rmse_mlp=$(metric diamonds_mlp model.kzm "$dv" rmse)
rmse_gbdt=$(metric diamonds_gbdt model.json "$dv" rmse)
av="$work/data/austen"
mlm_loss=$(metric austen_mlm model.kzm "$av" logloss)
acc_tf=$(metric austen_tf model.kzm "$av" accuracy)
# the TFT evaluates whole series (the validation span after each series' history)
tft_eval=$("$kaizen" eval --model "$work/runs/demo/txhousing_tft/model.kzm" \
  --data "$work/data/txhousing" --device cpu)
qr_tft=$(echo "$tft_eval" | awk '$1 == "q_risk_p50" { print $2 }')
qr_naive=$(echo "$tft_eval" | awk '$1 == "naive_q_risk_p50" { print $2 }')

echo
echo "== evaluation on the held-out 20% (txhousing: the last 13 months; kaizen eval)"
printf '%-10s %-9s %-10s %12s %10s\n' data model metric value train_s
printf '%-10s %-9s %-10s %12s %10s\n' letter mlp accuracy "$acc_mlp" "$secs_letter_mlp"
printf '%-10s %-9s %-10s %12s %10s\n' letter gbdt accuracy "$acc_gbdt" "$secs_letter_gbdt"
printf '%-10s %-9s %-10s %12s %10s\n' diamonds mlp rmse "$rmse_mlp" "$secs_diamonds_mlp"
printf '%-10s %-9s %-10s %12s %10s\n' diamonds gbdt rmse "$rmse_gbdt" "$secs_diamonds_gbdt"
printf '%-10s %-9s %-10s %12s %10s\n' austen tf-mlm mlm_loss "$mlm_loss" "$secs_austen_mlm"
printf '%-10s %-9s %-10s %12s %10s\n' austen tf-book accuracy "$acc_tf" "$secs_austen_tf"
printf '%-10s %-9s %-10s %12s %10s\n' txhousing tft q_risk_p50 "$qr_tft" "$secs_txhousing_tft"
printf '%-10s %-9s %-10s %12s %10s\n' txhousing s-naive q_risk_p50 "$qr_naive" -
echo "(austen: which of 6 novels a line is from; majority class 0.225, TF-IDF + logistic"
echo " regression 0.52; the demo's encoder is tiny and trained for a minute or two)"
echo "(txhousing: P50 q-risk 2 sum QL_0.5 / sum |y| of 6-month forecasts, lower is better; the"
echo " seasonal naive repeats the value of 12 months before, on the same windows)"
echo
echo "== kaizen runs list"
"$kaizen" runs list --runs-dir "$work/runs"
echo
echo "== kaizen runs compare: both families report the same metrics (docs/RUNS.md)"
"$kaizen" runs compare demo/letter_mlp demo/letter_gbdt --runs-dir "$work/runs" |
  grep -E '^(run|model_type|best_metric|best_value|final_step|final) '
"$kaizen" runs plot demo/letter_mlp demo/letter_gbdt --runs-dir "$work/runs" \
  --metric valid/accuracy --out "$work/letter_valid_accuracy.svg"
