#!/bin/sh
# kaizen's CPU GBDT vs XGBoost 1.7 (tree_method hist) on the same train/valid
# rows (docs/GBDT.md). Accuracy on letter (accuracy), diamonds (RMSE),
# breast_cancer and pima2 (AUC) with max_depth 6, eta 0.1, max_bin 256,
# lambda 1, min_child_weight 1, 200 rounds; then speed on a synthetic
# 1,000,000 x 28 binary task (2% missing, 100 rounds, depth 8): training time,
# AUC and prediction rows/s, medians of REPEAT interleaved runs, ratios last.
# Training times of the accuracy sets are medians of REPEAT runs too (ratio =
# kaizen / XGBoost time, below 1: kaizen faster).
#
# usage: bench/gbdt_vs_xgboost.sh [BUILD_DIR] [THREADS] [REPEAT]
#   BUILD_DIR holds kaizen and tests/bench_gbdt (default build); THREADS for
#   both libraries (default: all cores); REPEAT speed runs (default 3).
# Needs /usr/bin/python3 with xgboost and h5py (tools/install-deps.sh --with-test).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
threads=${2:-$(nproc)}
repeat=${3:-3}
. "$here/bench/gbdt_common.sh"
data=$here/../shared/data
work=${TMPDIR:-/tmp}/kz_gbdt_bench
mkdir -p "$work"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

import_set() { # name label type
  "$kz" data import --kind tabular --input "$data/$1.csv" --out "$work/$1" --label "$2" \
    --label-type "$3" --valid-fraction 0.2 --seed 1 --overwrite >/dev/null
}

echo "kaizen GBDT vs XGBoost $xgb_version, $threads threads, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
echo "## accuracy (valid split, 200 rounds, depth 6, eta 0.1, max_bin 256); times: medians of $repeat interleaved runs"
printf '%-14s %-9s %12s %12s %10s %10s %8s\n' data metric kaizen xgboost kaizen_s xgboost_s ratio
for spec in letter:lettr:categorical:multi:softprob:merror \
            diamonds:price:numeric:reg:squarederror:rmse \
            breast_cancer:target:categorical:binary:logistic:auc \
            pima2:diabetes:categorical:binary:logistic:auc; do
  IFS=: read -r name label ltype o1 o2 metric <<EOS
$spec
EOS
  import_set "$name" "$label" "$ltype"
  ks=""; xs=""; j=0
  while [ "$j" -lt "$repeat" ]; do
    k=$("$drv" train "$work/$name" "$o1:$o2" "$metric" 200 6 0.1 "$threads")
    x=$($ref --data "$work/$name" --objective "$o1:$o2" --metric "$metric" --rounds 200 \
          --max-depth 6 --eta 0.1 --max-bin 256 --nthread "$threads")
    ks="$ks $(field "$k" train_s)"; xs="$xs $(field "$x" train_s)"
    j=$((j + 1))
  done
  # shellcheck disable=SC2086
  kmed=$(median $ks); xmed=$(median $xs)
  if [ "$metric" = merror ]; then shown=accuracy; kv=$(field "$k" valid-accuracy); xv=$(field "$x" valid-accuracy)
  else shown=$metric; kv=$(field "$k" "valid-$metric"); xv=$(field "$x" "valid-$metric"); fi
  printf '%-14s %-9s %12.5f %12.5f %10.2f %10.2f %8.2f\n' "$name" "$shown" "$kv" "$xv" \
    "$kmed" "$xmed" "$(awk -v a="$kmed" -v b="$xmed" 'BEGIN { print a / b }')"
done

echo
echo "## speed: synthetic 1,000,000 x 28 binary (2% missing), 80/20 split, 100 rounds, depth 8, eta 0.1"
synth_data "$work/synth" 1
kt=""; xt=""; ka=""; xa=""; kp=""; xp=""
i=0
while [ "$i" -lt "$repeat" ]; do
  k=$("$drv" train "$work/synth" binary:logistic auc 100 8 0.1 "$threads")
  x=$($ref --data "$work/synth" --objective binary:logistic --metric auc --rounds 100 \
        --max-depth 8 --eta 0.1 --max-bin 256 --nthread "$threads")
  kt="$kt $(field "$k" train_s)"; xt="$xt $(field "$x" train_s)"
  ka=$(field "$k" valid-auc); xa=$(field "$x" valid-auc)
  kp="$kp $(field "$k" predict_rows_per_s)"; xp="$xp $(field "$x" predict_rows_per_s)"
  echo "run $((i + 1)): kaizen train ${kt##* } s, xgboost train ${xt##* } s"
  i=$((i + 1))
done
# shellcheck disable=SC2086
kts=$(median $kt); xts=$(median $xt); kps=$(median $kp); xps=$(median $xp)
printf '%-22s %14s %14s\n' "" kaizen xgboost
printf '%-22s %14.2f %14.2f\n' "train s (median)" "$kts" "$xts"
printf '%-22s %14.5f %14.5f\n' "valid AUC" "$ka" "$xa"
printf '%-22s %14.0f %14.0f\n' "predict rows/s" "$kps" "$xps"
echo
awk -v a="$kts" -v b="$xts" -v c="$kps" -v d="$xps" 'BEGIN {
  printf "ratios: training time kaizen/xgboost %.2f (below 1: kaizen faster); prediction throughput kaizen/xgboost %.2f\n", a / b, c / d }'
