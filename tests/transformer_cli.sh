#!/usr/bin/env bash
# The transformer end to end through the kaizen binary, each step its own
# process: a slice of austen.csv imported as text; MLM pre-training with
# checkpoints (a run stopped at step 6 and resumed ends on the same model
# bytes as the uninterrupted one); classification of the book fine-tuned
# from the MLM model (train.init_from: encoder copied by name, fresh head);
# kaizen eval reproducing the trainer's validation metrics; kaizen predict
# writing class probabilities (and, for the MLM model, a row's masked-token
# loss).
# usage: transformer_cli.sh KAIZEN SHARED_DATA_DIR VOCAB
set -u
kaizen="$1" data="$2" vocab="$3"
[ -f "$data/austen.csv" ] || { echo "skipped: $data/austen.csv not found"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
# The test machines run many jobs on few cores: spinning OpenMP workers
# there cost ten times the work itself (results do not depend on it).
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

awk 'NR == 1 || NR % 40 == 0' "$data/austen.csv" >"$tmp/austen.csv"
"$kaizen" data import --kind text --input "$tmp/austen.csv" --out "$tmp/austen" --text-column text \
  --label book --vocab "$vocab" --cased --max-len 32 --valid-fraction 0.1 --seed 1 >/dev/null ||
  { echo "FAIL: import"; exit 1; }

# job FILE TASK STEPS -- a tiny encoder
job() {
  cat >"$1" <<YAML
model:
  type: transformer
  task: $2
  layers: 2
  hidden: 32
  heads: 2
  ffn: 64
data:
  train: $tmp/austen
train:
  lr: 0.002
  weight_decay: 0.01
  batch_size: 16
  steps: $3
  eval_every: 6
  seed: 5
output:
  runs_dir: $tmp/runs
  checkpoint_every: 3
  keep_checkpoints: 20
YAML
}
run_dir() { echo "$tmp/runs/default/$1"; }

job "$tmp/mlm.yaml" mlm 12
"$kaizen" train "$tmp/mlm.yaml" --set output.run_id=mlm >"$tmp/mlm.out" 2>&1 ||
  fail "mlm run: $(cat "$tmp/mlm.out")"
grep -q "valid/logloss=.*valid/perplexity=" "$tmp/mlm.out" || fail "mlm summary: $(tail -1 "$tmp/mlm.out")"
mlm="$(run_dir mlm)/model.kzm"
[ -f "$mlm" ] || fail "no $mlm"

# stopped at step 6, resumed to 12: the same bytes
"$kaizen" train "$tmp/mlm.yaml" --quiet --set output.run_id=k --set train.steps=6 >/dev/null 2>&1 ||
  fail "short mlm run"
"$kaizen" train "$tmp/mlm.yaml" --quiet --set output.run_id=k --resume --allow-changes \
  >"$tmp/k.out" 2>&1 || fail "resume: $(cat "$tmp/k.out")"
cmp -s "$mlm" "$(run_dir k)/model.kzm" || fail "resumed mlm run: model.kzm differs"

# the MLM model predicts each row's masked-token loss
"$kaizen" predict --model "$mlm" --data "$tmp/austen" --split valid --out "$tmp/mlm_pred.csv" \
  >/dev/null 2>&1 || fail "mlm predict"
head -1 "$tmp/mlm_pred.csv" | grep -q "^row,mlm_loss$" || fail "mlm predict header: $(head -1 "$tmp/mlm_pred.csv")"

# classification fine-tuned from the MLM model
job "$tmp/cls.yaml" classification 12
"$kaizen" train "$tmp/cls.yaml" --set output.run_id=cls --set "train.init_from=$mlm" \
  >"$tmp/cls.out" 2>&1 || fail "classification run: $(cat "$tmp/cls.out")"
grep -q "tensors copied from the mlm model, 4 initialised fresh (the classification head)" \
  "$tmp/cls.out" || fail "no init_from note: $(head -3 "$tmp/cls.out")"
cls="$(run_dir cls)/model.kzm"
summary=$(tail -1 "$tmp/cls.out")
echo "$summary" | grep -q "valid/accuracy=.*valid/macro_f1=" || fail "classification summary: $summary"

# kaizen eval, in its own process, gives the trainer's validation metrics
"$kaizen" eval --model "$cls" --data "$tmp/austen" --split valid --json >"$tmp/eval.json" 2>&1 ||
  fail "eval: $(cat "$tmp/eval.json")"
python3 - "$tmp/eval.json" "$summary" <<'PY' || fail "eval differs from the trainer's metrics"
import json, re, sys
ev = json.load(open(sys.argv[1]))
want = dict(re.findall(r"valid/(\w+)=([-0-9.e+]+)", sys.argv[2]))
for k in ("logloss", "accuracy", "macro_f1"):
    a, b = float(ev[k]), float(want[k])
    assert abs(a - b) <= 1e-5 * max(1.0, abs(b)), (k, a, b)
PY

# kaizen predict: one row of 6 probabilities summing to 1 per validation row
"$kaizen" predict --model "$cls" --data "$tmp/austen" --split valid --out "$tmp/pred.csv" \
  >/dev/null 2>&1 || fail "predict"
python3 - "$tmp/pred.csv" "$tmp/eval.json" <<'PY' || fail "predictions"
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
assert head[0] == "row" and len(head) == 7 and all(h.startswith("p_") for h in head[1:]), head
assert "p_Emma" in head and "p_Persuasion" in head, head
for r in body:
    s = sum(float(x) for x in r[1:])
    assert abs(s - 1) < 1e-5, r
assert len(body) > 50, len(body)
PY

# raw text: the model tokenises it with its own vocabulary (the non-blank rows;
# a blank text is refused naming its row)
awk -F, 'NR == 1 || $1 != "\"\""' "$tmp/austen.csv" >"$tmp/austen_text.csv"
"$kaizen" eval --model "$cls" --input "$tmp/austen_text.csv" --json >"$tmp/raw.out" 2>&1 ||
  fail "eval of raw text: $(cat "$tmp/raw.out")"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert 0<=j["accuracy"]<=1 and j["rows"]>50, j' \
  "$tmp/raw.out" || fail "raw eval: $(cat "$tmp/raw.out")"
"$kaizen" eval --model "$cls" --input "$tmp/austen.csv" >"$tmp/raw_blank.out" 2>&1 &&
  fail "eval of a blank text accepted"
grep -q "input 'text' is empty" "$tmp/raw_blank.out" || fail "blank text message: $(cat "$tmp/raw_blank.out")"

[ "$fails" -eq 0 ] && echo "ok" || exit 1
