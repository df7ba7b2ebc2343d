#!/usr/bin/env bash
# Continuing a TFT on later time steps (issue 19's TFT continual path; docs/MODELS.md "Continuing
# a TFT"): txhousing split by date, a TFT trained on 2000-2009 (old) continues on 2008-2015 (new;
# 2008-2009 serve as the encoder's history) four ways — plain, with replay of old windows, with
# EWC, with both — and the table gives the P50 q-risk on the old and the new validation span
# (the last 10% of each series' steps) before and after, from each run's summary.json.
# usage: bench/tft_continual.sh [--kaizen BIN] [--pre-steps N] [--steps N] [--replay F]
#          [--ewc LAMBDA] [--lr LR] [--out FILE]
set -eu
kaizen=build/kaizen pre_steps=800 steps=500 replay=0.3 ewc=100000 lr=0.003 out=""
while [ $# -gt 0 ]; do
  case "$1" in
  --kaizen) kaizen="$2"; shift 2 ;;
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

# column 9 is the date as a fractional year (2000.0833 = February 2000)
awk -F, 'NR == 1 || $9 + 0 < 2010' "$data/txhousing.csv" >"$work/old.csv"
awk -F, 'NR == 1 || $9 + 0 >= 2008' "$data/txhousing.csv" >"$work/new.csv"
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
  dropout: 0.1
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
  seed: 1
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
  echo "# bench/tft_continual.sh --pre-steps $pre_steps --steps $steps --replay $replay --ewc $ewc --lr $lr"
  echo "# host: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $(date -u +%F); load $(cut -d' ' -f1-3 /proc/loadavg); wall $((t1 - t0)) s"
  echo "# model: tft hidden 16, 4 heads, k 24, tau 6, lag 12, loss weight scale, dropout 0.1, batch 64, AdamW cosine"
  echo "# old = txhousing 2000-2009, new = 2008-2015; P50 q-risk on each one's validation span (last 10%)"
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
