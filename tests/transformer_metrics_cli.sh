#!/usr/bin/env bash
# Token classification and QA metrics through the kaizen binary, each step its
# own process: small synthetic NER and QA sets (tools/make_austen_ner_qa.py over
# austen.csv) imported, a tiny encoder trained a few steps on each, and kaizen
# eval reporting entity/token F1 (NER) and exact match/span F1 (QA) equal to the
# trainer's validation metrics, within [0, 1], with entity_f1 the harmonic mean
# of its precision and recall.
# usage: transformer_metrics_cli.sh KAIZEN SHARED_DATA_DIR VOCAB SOURCE_DIR
set -u
kaizen="$1" data="$2" vocab="$3" src="$4"
[ -f "$data/austen.csv" ] || { echo "skipped: $data/austen.csv not found"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
export OMP_WAIT_POLICY=passive # many jobs on few cores (results do not depend on it)
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

python3 "$src/tools/make_austen_ner_qa.py" --austen "$data/austen.csv" --out "$tmp" --rows 200 \
  >/dev/null || { echo "FAIL: make_austen_ner_qa.py"; exit 1; }
"$kaizen" data import --kind text --input "$tmp/ner.jsonl" --out "$tmp/ner" --words-column tokens \
  --token-labels-column ner_tags --vocab "$vocab" --cased --max-len 64 --valid-fraction 0.25 \
  --seed 1 >/dev/null || { echo "FAIL: ner import"; exit 1; }
"$kaizen" data import --kind text --input "$tmp/qa.jsonl" --out "$tmp/qa" --question-column question \
  --text-column context --answer-start-column answer_start --answer-text-column answer_text \
  --vocab "$vocab" --cased --max-len 128 --valid-fraction 0.25 --seed 1 >/dev/null ||
  { echo "FAIL: qa import"; exit 1; }

# job NAME TASK DATA: a tiny encoder, 40 steps
job() {
  cat >"$tmp/$1.yaml" <<YAML
model:
  type: transformer
  task: $2
  layers: 1
  hidden: 32
  heads: 2
  ffn: 64
data:
  train: $3
train:
  lr: 0.01
  batch_size: 16
  steps: 40
  eval_every: 40
  seed: 3
output:
  runs_dir: $tmp/runs
YAML
  "$kaizen" train "$tmp/$1.yaml" --set output.run_id=$1 >"$tmp/$1.out" 2>&1 ||
    fail "$1 run: $(tail -3 "$tmp/$1.out")"
  "$kaizen" eval --model "$tmp/runs/default/$1/model.kzm" --data "$3" --split valid --json \
    >"$tmp/$1.json" 2>&1 || fail "$1 eval: $(cat "$tmp/$1.json")"
}

# check NAME METRIC...: eval equals the trainer's final validation metrics
check() {
  local name=$1
  shift
  python3 - "$tmp/$name.json" "$(tail -1 "$tmp/$name.out")" "$@" <<'PY' || fail "$name metrics"
import json, math, re, sys
ev = json.load(open(sys.argv[1]))
want = dict(re.findall(r"valid/(\w+)=([-0-9.e+naninf]+)", sys.argv[2]))
for k in sys.argv[3:]:
    assert k in ev and k in want, (k, ev, sys.argv[2])
    a, b = float(ev[k]), float(want[k])
    assert 0 <= a <= 1, (k, a)
    assert abs(a - b) <= 1e-5, (k, a, b)
if "entity_f1" in ev:
    p, r, f = ev["entity_precision"], ev["entity_recall"], ev["entity_f1"]
    assert abs(f - (2 * p * r / (p + r) if p + r else 0)) <= 1e-9, (p, r, f)
PY
}

job ner token_classification "$tmp/ner"
check ner accuracy entity_f1 entity_precision entity_recall token_f1
job qa qa "$tmp/qa"
check qa exact_match span_f1

[ "$fails" -eq 0 ] && echo "ok" || exit 1
