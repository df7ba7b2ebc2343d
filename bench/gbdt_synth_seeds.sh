#!/bin/sh
# Is kaizen's AUC on the synthetic speed task (bench/gbdt_vs_xgboost.sh) equal
# to XGBoost's, or only one draw of the data? Trains both on the 1,000,000 x 28
# binary task (2% missing, 100 rounds, depth 8, eta 0.1, max_bin 256) for
# several data seeds and prints each valid AUC, the difference, and its mean
# and standard deviation over the seeds next to the standard error of one AUC
# estimate on the ~200,000 valid rows (Hanley & McNeil).
#
# usage: bench/gbdt_synth_seeds.sh [BUILD_DIR] [THREADS] [SEED...]
#   defaults: build, all cores, seeds 1 2 3 4 5. Data sets are generated once
#   under ${TMPDIR:-/tmp}/kz_gbdt_seeds/s<SEED> and reused.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
threads=${2:-$(nproc)}
[ $# -ge 2 ] && shift 2 || shift $#
seeds=${*:-1 2 3 4 5}
. "$here/bench/gbdt_common.sh"
work=${TMPDIR:-/tmp}/kz_gbdt_seeds
mkdir -p "$work"

echo "kaizen GBDT vs XGBoost $xgb_version: valid AUC over data seeds, $threads threads, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%-5s %10s %10s %10s %9s %9s\n' seed kaizen xgboost diff kaizen_s xgboost_s
rows=""
for s in $seeds; do
  d=$work/s$s
  synth_data "$d" "$s"
  k=$("$drv" train "$d" binary:logistic auc 100 8 0.1 "$threads")
  x=$($ref --data "$d" --objective binary:logistic --metric auc --rounds 100 \
        --max-depth 8 --eta 0.1 --max-bin 256 --nthread "$threads")
  ka=$(field "$k" valid-auc); xa=$(field "$x" valid-auc)
  classes="$(field "$x" valid_pos):$(field "$x" valid_neg)"
  printf '%-5s %10.5f %10.5f %+10.5f %9.2f %9.2f\n' "$s" "$ka" "$xa" \
    "$(awk -v a="$ka" -v b="$xa" 'BEGIN { print a - b }')" "$(field "$k" train_s)" "$(field "$x" train_s)"
  rows="$rows $ka:$xa:$classes"
done
# shellcheck disable=SC2086
printf '%s\n' $rows | awk -F: '
  { d = $1 - $2; s += d; ss += d * d; k++; if (d >= 0) w++
    a = $2; p = $3; q = $4; q1 = a / (2 - a); q2 = 2 * a * a / (1 + a)  # Hanley & McNeil 1982
    se += sqrt((a * (1 - a) + (p - 1) * (q1 - a * a) + (q - 1) * (q2 - a * a)) / (p * q)) }
  END { m = s / k; sd = k > 1 ? sqrt((ss - k * m * m) / (k - 1)) : 0
        printf "mean diff %+.5f, sd %.5f over %d seeds (kaizen >= xgboost on %d); standard error of one AUC %.5f, of the mean diff %.5f\n", m, sd, k, w, se / k, sd / sqrt(k) }'
