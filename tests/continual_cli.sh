#!/usr/bin/env bash
# Continual MLM training (train.continual) end to end through the kaizen
# binary: an encoder pre-trained on three Austen novels continues on the other
# three with replay of the old novels and EWC; the run's summary holds the
# forgetting metric (old and new held-out loss before and after) and the
# "before" old loss is what `kaizen eval` of the starting model gives; a run
# stopped half way and resumed ends on the same model bytes (the replay
# position and the Fisher are restored); bad continual configs fail with one
# error naming the key.
# usage: continual_cli.sh KAIZEN SHARED_DATA_DIR VOCAB
set -u
kaizen="$1" data="$2" vocab="$3"
[ -f "$data/austen.csv" ] || { echo "skipped: $data/austen.csv not found"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# the two halves: every 20th line of at least 40 characters of each novel
python3 - "$data/austen.csv" "$tmp" <<'PY'
import csv, sys
old = {"Sense & Sensibility", "Pride & Prejudice", "Mansfield Park"}
rows = [r for r in csv.DictReader(open(sys.argv[1], newline="")) if len(r["text"]) >= 40]
for name, keep in (("old", lambda b: b in old), ("new", lambda b: b not in old)):
    with open(f"{sys.argv[2]}/{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "book"])
        for i, r in enumerate(x for x in rows if keep(x["book"])):
            if i % 20 == 0:
                w.writerow([r["text"], r["book"]])
PY
for half in old new; do
  "$kaizen" data import --kind text --input "$tmp/$half.csv" --out "$tmp/$half" --text-column text \
    --vocab "$vocab" --cased --max-len 32 --valid-fraction 0.1 --seed 1 >/dev/null ||
    { echo "FAIL: import $half"; exit 1; }
done

# job FILE DATA STEPS [lines under train:]
job() {
  local file="$1" d="$2" steps="$3"; shift 3
  {
    cat <<YAML
model:
  type: transformer
  task: mlm
  layers: 2
  hidden: 32
  heads: 2
  ffn: 64
data:
  train: $tmp/$d
train:
  lr: 0.003
  batch_size: 16
  steps: $steps
  eval_every: 100
  seed: 3
YAML
    for l in "$@"; do echo "  $l"; done
    cat <<YAML
output:
  runs_dir: $tmp/runs
  checkpoint_every: 4
  keep_checkpoints: 20
YAML
  } >"$file"
}
run_dir() { echo "$tmp/runs/default/$1"; }

job "$tmp/pre.yaml" old 30
"$kaizen" train "$tmp/pre.yaml" --quiet --set output.run_id=pre >"$tmp/pre.out" 2>&1 ||
  fail "pre-training: $(cat "$tmp/pre.out")"
pre="$(run_dir pre)/model.kzm"

cont=("init_from: $pre" "continual:" "  old_data: $tmp/old" "  replay: 0.3" "  ewc_lambda: 50"
  "  fisher_batches: 3" "  fisher_batch_size: 2")
job "$tmp/cont.yaml" new 16 "${cont[@]}"
"$kaizen" train "$tmp/cont.yaml" --set output.run_id=c >"$tmp/c.out" 2>&1 ||
  fail "continual run: $(cat "$tmp/c.out")"
grep -q '"event":"continual","step":0,"detail":"EWC lambda 50, diagonal Fisher from 3 old' \
  "$tmp/c.out" || fail "no EWC event: $(head -5 "$tmp/c.out")"
summary="$(run_dir c)/summary.json"
"$kaizen" eval --model "$pre" --data "$tmp/old" --split valid --json >"$tmp/pre_eval.json" 2>&1 ||
  fail "eval of the starting model: $(cat "$tmp/pre_eval.json")"
python3 - "$summary" "$tmp/pre_eval.json" <<'PY' || fail "forgetting metric in $summary"
import json, sys
fin = json.load(open(sys.argv[1]))["final"]
for k in ("old_before/logloss", "old_after/logloss", "new_before/logloss", "new_after/logloss"):
    assert k in fin, (k, sorted(fin))
ev = json.load(open(sys.argv[2]))
# the "before" old loss is the starting model's loss on the old held-out rows
assert abs(fin["old_before/logloss"] - ev["logloss"]) <= 1e-5 * ev["logloss"], (fin, ev)
# training on the new half lowers its loss
assert fin["new_after/logloss"] < fin["new_before/logloss"], fin
PY
# stopped at step 8 and resumed: the same bytes as the uninterrupted run
"$kaizen" train "$tmp/cont.yaml" --quiet --set output.run_id=k --set train.steps=8 >/dev/null 2>&1 ||
  fail "short continual run"
"$kaizen" train "$tmp/cont.yaml" --quiet --set output.run_id=k --resume --allow-changes \
  >"$tmp/k.out" 2>&1 || fail "resume: $(cat "$tmp/k.out")"
cmp -s "$(run_dir c)/model.kzm" "$(run_dir k)/model.kzm" || fail "resumed continual run: model.kzm differs"

# replay changes the run; without old data, continual is refused
job "$tmp/plain.yaml" new 16 "init_from: $pre"
"$kaizen" train "$tmp/plain.yaml" --quiet --set output.run_id=p >/dev/null 2>&1 || fail "plain run"
cmp -s "$(run_dir c)/model.kzm" "$(run_dir p)/model.kzm" && fail "replay + EWC changed nothing"
"$kaizen" runs compare "$(run_dir c)" "$(run_dir p)" >"$tmp/compare.out" 2>&1 ||
  fail "runs compare: $(cat "$tmp/compare.out")"
grep -q "old_after/logloss" "$tmp/compare.out" || fail "runs compare lacks the forgetting rows"


bad() { # NAME EXPECTED-REGEX yaml lines under train:
  local name="$1" want="$2"; shift 2
  job "$tmp/$name.yaml" new 4 "$@"
  if "$kaizen" train "$tmp/$name.yaml" --set "output.run_id=$name" >"$tmp/$name.out" 2>&1; then
    fail "$name: accepted"
  else
    grep -q "$want" "$tmp/$name.out" || fail "$name: message: $(cat "$tmp/$name.out")"
    [ -d "$(run_dir "$name")" ] && fail "$name: left a run directory"
  fi
}
bad no_init "train.continual: continues an earlier model, so it needs train.init_from" \
  "continual:" "  old_data: $tmp/old"
bad missing_old "train.continual.old_data" "init_from: $pre" "continual:" "  old_data: $tmp/nope"
bad replay_range "replay" "init_from: $pre" "continual:" "  old_data: $tmp/old" "  replay: 1.5"
bad unknown_key "continual.bogus" "init_from: $pre" "continual:" "  old_data: $tmp/old" "  bogus: 1"

[ $fails -eq 0 ] && echo "continual_cli: all checks passed"
exit $((fails > 0))
