#!/usr/bin/env bash
# Continuing a TFT (issue 19's TFT continual path; docs/MODELS.md "Continuing a TFT") on
# txhousing, split by date (--split time, the default: a TFT trained on 2000-2009, old, continues
# on 2008-2015, new, whose 2008-2009 serve as the encoder's history) or by series (--split series:
# the first 23 cities, old, then the other 23, new series to the model), four ways — plain, with
# replay of old windows, with EWC, with both — and the table gives the P50 q-risk on the old and
# the new validation span (the last 10% of each series' steps) before and after, from each run's
# summary.json.
# usage: bench/tft_continual.sh [--kaizen BIN] [--split time|series] [--pre-steps N] [--steps N]
#          [--replay F] [--ewc LAMBDA] [--lr LR] [--dropout P] [--seed N] [--out FILE]
set -eu
kaizen=build/kaizen split=time pre_steps=800 steps=500 replay=0.3 ewc=100000 lr=0.003 dropout=0.1
seed=1 out=""
while [ $# -gt 0 ]; do
  case "$1" in
  --kaizen) kaizen="$2"; shift 2 ;;
  --split) split="$2"; shift 2 ;;
  --dropout) dropout="$2"; shift 2 ;;
  --seed) seed="$2"; shift 2 ;;
  --pre-steps) pre_steps="$2"; shift 2 ;;
  --steps) steps="$2"; shift 2 ;;
  --replay) replay="$2"; shift 2 ;;
  --ewc) ewc="$2"; shift 2 ;;
  --lr) lr="$2"; shift 2 ;;
  --out) out="$2"; shift 2 ;;
  *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/../shared/data"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive

if [ "$split" = time ]; then # column 9 is the date as a fractional year (2000.0833 = Feb 2000)
  awk -F, 'NR == 1 || $9 + 0 < 2010' "$data/txhousing.csv" >"$work/old.csv"
  awk -F, 'NR == 1 || $9 + 0 >= 2008' "$data/txhousing.csv" >"$work/new.csv"
else # the cities in file order: the first 23 old, the others new
  awk -F, 'NR > 1 && !($1 in s) { s[$1] = n++ } NR == 1 || s[$1] < 23' "$data/txhousing.csv" >"$work/old.csv"
  awk -F, 'NR > 1 && !($1 in s) { s[$1] = n++ } NR == 1 || s[$1] >= 23' "$data/txhousing.csv" >"$work/new.csv"
fi
for h in old new; do
  "$kaizen" data import --kind timeseries --input "$work/$h.csv" --out "$work/$h" --series-id city \
    --time date --label sales --known year,month --valid-fraction 0.1 >/dev/null
done

# job FILE DATA STEPS [lines under train:]
job() {
  local file="$1" d="$2" n="$3"; shift 3
  {
    cat <<YAML
model:
  type: tft
  hidden: 16
  heads: 4
  encoder_length: 24
  horizon: 6
  season: 12
  lags: [12]
  loss_weight: scale
  dropout: $dropout
data:
  train: $work/$d
train:
  lr: $lr
  schedule: cosine
  warmup_steps: 50
  rewarm_steps: 50
  batch_size: 64
  steps: $n
  clip_norm: 1.0
  log_every: 100
  eval_every: $n
  seed: $seed
  threads: 1
YAML
    for l in "$@"; do echo "  $l"; done
    cat <<YAML
output:
  runs_dir: $work/runs
  experiment: continual
  keep_checkpoints: 1
YAML
  } >"$file"
}
t0=$(date +%s)
job "$work/pre.yaml" old "$pre_steps"
"$kaizen" train "$work/pre.yaml" --quiet --set output.run_id=pre >/dev/null
pre="$work/runs/continual/pre/model.kzm"
run() { # ID [continual lines]
  local id="$1"; shift
  job "$work/$id.yaml" new "$steps" "init_from: $pre" "continual:" "  old_data: $work/old" "$@"
  "$kaizen" train "$work/$id.yaml" --quiet --set "output.run_id=$id" >/dev/null
}
run plain
run replay "  replay: $replay"
run ewc "  ewc_lambda: $ewc"
run both "  replay: $replay" "  ewc_lambda: $ewc"
t1=$(date +%s)

report() {
  echo "# bench/tft_continual.sh --split $split --pre-steps $pre_steps --steps $steps --replay $replay --ewc $ewc --lr $lr --dropout $dropout --seed $seed"
  echo "# host: $(hostname), $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc --all) cores; $(date -u '+%F %H:%M') UTC; load $(cut -d' ' -f1-3 /proc/loadavg); wall $((t1 - t0)) s"
  echo "# model: tft hidden 16, 4 heads, k 24, tau 6, lag 12, loss weight scale, dropout $dropout, batch 64, AdamW cosine"
  if [ "$split" = time ]; then
    echo "# old = txhousing 2000-2009, new = 2008-2015; P50 q-risk on each one's validation span (last 10%)"
  else
    echo "# old = the first 23 cities of txhousing, new = the other 23; P50 q-risk on each one's validation span (last 10%)"
  fi
  python3 - "$work/runs/continual" <<'PY'
import json, sys
base = sys.argv[1]
rows = {}
for run in ("plain", "replay", "ewc", "both"):
    f = json.load(open(f"{base}/{run}/summary.json"))["final"]
    rows[run] = [f["old_before/q_risk_p50"], f["old_after/q_risk_p50"], f["new_before/q_risk_p50"],
                 f["new_after/q_risk_p50"]]
print(f"{'run':8} {'old before':>11} {'old after':>10} {'old rise':>9} {'new before':>11} {'new after':>10} {'new fall':>9}")
for run, (ob, oa, nb, na) in rows.items():
    print(f"{run:8} {ob:11.4f} {oa:10.4f} {oa - ob:+9.4f} {nb:11.4f} {na:10.4f} {nb - na:+9.4f}")
rise = rows["plain"][1] - rows["plain"][0]
for run in ("replay", "ewc", "both"):
    r = rows[run][1] - rows[run][0]
    ratio = r / rise if rise > 0 else float("nan")
    print(f"old q-risk rise {run} / plain = {ratio:.3f}" + (" (plain's old q-risk did not rise)" if rise <= 0 else ""))
PY
}
if [ -n "$out" ]; then report | tee "$out"; else report; fi
