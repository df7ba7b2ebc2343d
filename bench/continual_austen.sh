#!/usr/bin/env bash
# Continual MLM pre-training on Austen (issue 19's forgetting experiment):
# an encoder pre-trained on three novels (Sense & Sensibility, Pride &
# Prejudice, Mansfield Park) continues on the other three (Emma, Northanger
# Abbey, Persuasion) four ways — plain, with replay, with EWC, with both — and
# the table gives the held-out MLM loss on the old and the new half before and
# after (from each run's summary.json). Lines of at least 40 characters.
# usage: bench/continual_austen.sh [--kaizen BIN] [--pre-steps N] [--steps N]
#          [--replay F] [--ewc LAMBDA] [--lr LR] [--schedule linear|constant] [--out FILE]
# (the continuation's lr and schedule; pre-training always uses lr 0.002, linear)
set -eu
kaizen=build/kaizen pre_steps=2500 steps=1500 replay=0.3 ewc=2000 lr=0.002 schedule=linear out=""
while [ $# -gt 0 ]; do
  case "$1" in
  --kaizen) kaizen="$2"; shift 2 ;;
  --pre-steps) pre_steps="$2"; shift 2 ;;
  --steps) steps="$2"; shift 2 ;;
  --replay) replay="$2"; shift 2 ;;
  --ewc) ewc="$2"; shift 2 ;;
  --lr) lr="$2"; shift 2 ;;
  --schedule) schedule="$2"; shift 2 ;;
  --out) out="$2"; shift 2 ;;
  *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/../shared/data"
vocab="$root/tests/fixtures/wordpiece/vocab_austen_cased.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_WAIT_POLICY=passive

python3 - "$data/austen.csv" "$work" <<'PY'
import csv, sys
old = {"Sense & Sensibility", "Pride & Prejudice", "Mansfield Park"}
rows = [r for r in csv.DictReader(open(sys.argv[1], newline="")) if len(r["text"]) >= 40]
for name, keep in (("old", lambda b: b in old), ("new", lambda b: b not in old)):
    with open(f"{sys.argv[2]}/{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "book"])
        for r in rows:
            if keep(r["book"]):
                w.writerow([r["text"], r["book"]])
PY
for h in old new; do
  "$kaizen" data import --kind text --input "$work/$h.csv" --out "$work/$h" --text-column text \
    --vocab "$vocab" --cased --max-len 48 --valid-fraction 0.1 --seed 1 >/dev/null
done

# job FILE DATA STEPS WARMUP LR SCHEDULE [lines under train:]
job() {
  local file="$1" d="$2" n="$3" warm="$4" rate="$5" sched="$6"; shift 6
  {
    cat <<YAML
model:
  type: transformer
  task: mlm
  layers: 2
  hidden: 64
  heads: 2
  ffn: 256
  max_len: 48
  dropout: 0.1
  attention_dropout: 0.1
data:
  train: $work/$d
train:
  lr: $rate
  weight_decay: 0.01
  schedule: $sched
  warmup_steps: $warm
  rewarm_steps: $warm
  batch_size: 32
  steps: $n
  clip_norm: 1.0
  log_every: 250
  eval_every: $n
  seed: 1
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
job "$work/pre.yaml" old "$pre_steps" 100 0.002 linear
"$kaizen" train "$work/pre.yaml" --quiet --set output.run_id=pre >/dev/null
pre="$work/runs/continual/pre/model.kzm"
run() { # ID [continual lines]
  local id="$1"; shift
  job "$work/$id.yaml" new "$steps" 100 "$lr" "$schedule" "init_from: $pre" "continual:" "  old_data: $work/old" "$@"
  "$kaizen" train "$work/$id.yaml" --quiet --set "output.run_id=$id" >/dev/null
}
run plain
run replay "  replay: $replay"
run ewc "  ewc_lambda: $ewc"
run both "  replay: $replay" "  ewc_lambda: $ewc"
t1=$(date +%s)

report() {
  echo "# bench/continual_austen.sh --pre-steps $pre_steps --steps $steps --replay $replay --ewc $ewc --lr $lr --schedule $schedule"
  echo "# host: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores; $(date -u +%F); load $(cut -d' ' -f1-3 /proc/loadavg); wall $((t1 - t0)) s"
  echo "# model: transformer mlm 2 layers hidden 64 ffn 256, max_len 48, batch 32; old = S&S + P&P + MP, new = Emma + NA + Persuasion"
  python3 - "$work/runs/continual" <<'PY'
import json, sys
base = sys.argv[1]
rows = {}
for run in ("plain", "replay", "ewc", "both"):
    f = json.load(open(f"{base}/{run}/summary.json"))["final"]
    rows[run] = [f["old_before/logloss"], f["old_after/logloss"], f["new_before/logloss"],
                 f["new_after/logloss"]]
print(f"{'run':8} {'old before':>11} {'old after':>10} {'old rise':>9} {'new before':>11} {'new after':>10} {'new fall':>9}")
for run, (ob, oa, nb, na) in rows.items():
    print(f"{run:8} {ob:11.4f} {oa:10.4f} {oa - ob:+9.4f} {nb:11.4f} {na:10.4f} {nb - na:+9.4f}")
rise = rows["plain"][1] - rows["plain"][0]
for run in ("replay", "ewc", "both"):
    r = rows[run][1] - rows[run][0]
    ratio = r / rise if rise > 0 else float("nan")
    print(f"old-loss rise {run} / plain = {ratio:.3f}" + ("  (target <= 0.5)" if run != "ewc" else ""))
PY
}
if [ -n "$out" ]; then report | tee "$out"; else report; fi
