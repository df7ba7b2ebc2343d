#!/usr/bin/env bash
# GBDT continuation (train.init_from) and the refresh updater (model.process_type:
# update, updater: refresh), docs/GBDT.md "Continuing and refreshing a model",
# end to end through the kaizen CLI, each step its own process, on generated CSVs:
#   (a) M + N rounds in two runs (train M, then N more with init_from) give the
#       model.json of M + N rounds in one run, byte for byte: regression with a
#       categorical feature and missing values, and 3 classes; `kaizen eval` of
#       both files prints the same metrics;
#   (b) a continuation with row and feature sampling killed with kill -9 after
#       its second checkpoint and resumed ends with the model.json of an
#       uninterrupted continuation; a resume under another init_from file is
#       refused;
#   (c) early stopping in a continuation keeps the model's rounds plus the best
#       new ones (best_iteration counts them all);
#   (d) refresh on the training data keeps every tree's shape and its leaves
#       (to 1e-6 of the tree's largest leaf: only the order of the gradient sums
#       differs, histograms in training, rows here), also for 3 classes and
#       for reg:absoluteerror's residual-median leaves; on labels shifted by
#       +1.5 it moves the predictions by about 1.5 and `kaizen eval` on the
#       shifted data reports a much lower RMSE than the old model's; refresh_leaf: false
#       keeps the leaves and updates cover; a refresh killed and resumed ends
#       with the uninterrupted refresh's model.json;
#   (e) bad inputs fail with a message naming the problem, leaving no run
#       directory: init_from missing, corrupt, a neural .kzm, not a model; other
#       columns, another label, other classes, another objective;
#       process_type: update without init_from or with another updater, on cuda.
# usage: gbdt_continue.sh KAIZEN
set -u
kaizen="$1"
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
export OMP_WAIT_POLICY=passive

# 4,000 rows: numeric a (5 % missing), b, c, d, a categorical colour, a numeric
# label y, a 3-class label k; the same rows with y + 1.5 (shift.csv), and with
# d dropped (fewer.csv).
awk 'BEGIN { srand(3); print "a,b,c,d,color,y,k";
  for (i = 0; i < 4000; i++) {
    a = rand(); b = rand(); c = rand(); d = rand();
    col = rand() < 0.3 ? "red" : (rand() < 0.5 ? "green" : "blue");
    y = 3 * a + b * b - c + (col == "red") * 0.7 + 0.3 * rand();
    k = y > 2 ? "hi" : (y > 1 ? "mid" : "lo");
    if (rand() < 0.05) a = "";
    printf "%s,%.4f,%.4f,%.4f,%s,%.4f,%s\n", a, b, c, d, col, y, k } }' >"$tmp/base.csv"
awk -F, 'NR == 1 { print; next } { $6 = sprintf("%.4f", $6 + 1.5); print }' OFS=, \
  "$tmp/base.csv" >"$tmp/shift.csv"
imp() { # imp CSV OUT ARGS...
  local csv="$1" out="$2"
  shift 2
  "$kaizen" data import --kind tabular --input "$tmp/$csv" --out "$tmp/$out" \
    --valid-fraction 0.2 --seed 1 "$@" >/dev/null || { echo "FAIL: import $out"; exit 1; }
}
imp base.csv reg --label y --ignore k
imp shift.csv shift --label y --ignore k
imp base.csv fewer --label y --ignore k,d
imp base.csv multi --label k --ignore y
# the numeric label under another name
sed '1s/,y,k$/,target,k/' "$tmp/base.csv" >"$tmp/renamed.csv"
imp renamed.csv renamed --label target --ignore k
# the 3-class label with one class renamed
sed 's/,mid$/,middle/' "$tmp/base.csv" >"$tmp/classes.csv"
imp classes.csv classes --label k --ignore y

# job FILE DATA [model lines...]
job() {
  local file="$1" data="$2"
  shift 2
  {
    echo "model:"
    echo "  type: gbdt"
    for l in "$@"; do echo "  $l"; done
    echo "data:"
    echo "  train: $tmp/$data"
    echo "train:"
    echo "  seed: 3"
    echo "  threads: 2"
    echo "output:"
    echo "  runs_dir: $tmp/runs"
    echo "  experiment: e"
  } >"$file"
}
run_dir() { echo "$tmp/runs/e/$1"; }
model() { echo "$tmp/runs/e/$1/model.json"; }
train() { # train ID YAML ARGS...: a run that must succeed
  local id="$1" yaml="$2"
  shift 2
  "$kaizen" train "$yaml" --quiet --set output.run_id="$id" "$@" >"$tmp/$id.out" 2>&1 ||
    { fail "$id: $(cat "$tmp/$id.out")"; return 1; }
}

# (a) M + N in two runs = M + N in one
job "$tmp/reg.yaml" reg "eta: 0.2" "max_depth: 5" "objective: reg:squarederror"
job "$tmp/multi.yaml" multi "eta: 0.2" "max_depth: 4"
for name in reg multi; do
  train "$name-12" "$tmp/$name.yaml" --set model.num_round=12
  train "$name-20" "$tmp/$name.yaml" --set model.num_round=20
  train "$name-12+8" "$tmp/$name.yaml" --set model.num_round=8 \
    --set train.init_from="$(model "$name-12")" || continue
  cmp -s "$(model "$name-20")" "$(model "$name-12+8")" ||
    fail "$name: 12 rounds continued by 8 differ from 20 rounds in one run"
  grep -q 'init_rounds=12 rounds_kept=8 rounds_run=8' "$tmp/$name-12+8.out" ||
    fail "$name: final line: $(cat "$tmp/$name-12+8.out")"
  grep -q '"init_rounds": 12' "$(run_dir "$name-12+8")/params.json" ||
    fail "$name: params.json does not record init_rounds"
  "$kaizen" eval --model "$(model "$name-20")" --data "$tmp/$name" >"$tmp/ev1" 2>&1 &&
    "$kaizen" eval --model "$(model "$name-12+8")" --data "$tmp/$name" >"$tmp/ev2" 2>&1 &&
    cmp -s "$tmp/ev1" "$tmp/ev2" || fail "$name: eval differs: $(cat "$tmp/ev1" "$tmp/ev2")"
done

# (b) a continuation killed after its second checkpoint and resumed
job "$tmp/big.yaml" big "num_round: 150" "eta: 0.1" "max_depth: 6" "subsample: 0.8" \
  "colsample_bynode: 0.8"
awk 'BEGIN { srand(9); print "a,b,c,d,e,f,color,y";
  for (i = 0; i < 30000; i++) {
    a = rand(); b = rand(); c = rand(); d = rand(); e = rand(); f = rand();
    col = rand() < 0.3 ? "red" : (rand() < 0.5 ? "green" : "blue");
    s = a * 3 + b * b - c + (col == "red") * 0.7 + 0.3 * rand();
    y = s > 1.6 ? "hi" : (s > 0.9 ? "mid" : "lo");
    if (rand() < 0.05) a = "";
    printf "%s,%.4f,%.4f,%.4f,%.4f,%.4f,%s,%s\n", a, b, c, d, e, f, col, y } }' >"$tmp/big.csv"
imp big.csv big --label y
train big-init "$tmp/big.yaml" --set model.num_round=5
train big-other "$tmp/big.yaml" --set model.num_round=5 --set model.eta=0.3
init="$(model big-init)"
cont=(--set train.init_from="$init" --set output.checkpoint_every=5)
train big-full "$tmp/big.yaml" "${cont[@]}"
"$kaizen" train "$tmp/big.yaml" --quiet --set output.run_id=big-k "${cont[@]}" >"$tmp/k.out" 2>&1 &
pid=$!
for i in $(seq 1 1200); do
  [ "$(ls "$(run_dir big-k)/checkpoints/" 2>/dev/null | grep -c '^gbdt-[0-9]*\.kzg$')" -ge 2 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
if kill -9 $pid 2>/dev/null; then
  wait $pid 2>/dev/null
  # the same path holding another model: refused by its content
  cp "$init" "$tmp/init.keep"
  cp "$(model big-other)" "$init"
  "$kaizen" train "$tmp/big.yaml" --quiet --set output.run_id=big-k "${cont[@]}" --resume \
    >"$tmp/other.out" 2>&1 && fail "resume under another init_from model succeeded"
  grep -q 'written by another job (train.init_from kz64: ' "$tmp/other.out" ||
    fail "resume under another init_from model: $(cat "$tmp/other.out")"
  cp "$tmp/init.keep" "$init"
  "$kaizen" train "$tmp/big.yaml" --set output.run_id=big-k "${cont[@]}" --resume \
    >"$tmp/resumed.out" 2>&1 || fail "resume of a continuation: $(cat "$tmp/resumed.out")"
  grep -q '\[gbdt\] resuming' "$tmp/resumed.out" || fail "no resume line: $(head -3 "$tmp/resumed.out")"
  cmp -s "$(model big-full)" "$(model big-k)" ||
    fail "the resumed continuation's model.json differs from the uninterrupted one's"
else
  wait $pid 2>/dev/null
  fail "the continuation ended before it could be killed"
fi

# (c) early stopping in a continuation
job "$tmp/es.yaml" multi "eta: 0.8" "max_depth: 6" "min_child_weight: 0.01" \
  "early_stopping_rounds: 3" "num_round: 200"
train es-init "$tmp/es.yaml" --set model.num_round=4 --set model.early_stopping_rounds=0
train es "$tmp/es.yaml" --set train.init_from="$(model es-init)"
python3 - "$(model es)" "$tmp/es.out" <<'EOF' || fail "early stopping in a continuation"
import json, re, sys
m = json.load(open(sys.argv[1]))
line = open(sys.argv[2]).read()
kept = int(re.search(r"rounds_kept=(\d+)", line).group(1))
run = int(re.search(r"rounds_run=(\d+)", line).group(1))
assert run == kept + 3 and run < 200, line
assert len(m["trees"]) == 3 * (4 + kept), (len(m["trees"]), kept)
assert m["best_iteration"] == 4 + kept - 1, (m["best_iteration"], kept)
EOF

# (d) refresh
ref=(--set model.process_type=update --set model.updater=refresh
  --set train.init_from="$(model reg-20)")
train ref-same "$tmp/reg.yaml" "${ref[@]}"
train ref-shift "$tmp/reg.yaml" "${ref[@]}" --set data.train="$tmp/shift"
train ref-noleaf "$tmp/reg.yaml" "${ref[@]}" --set data.train="$tmp/shift" \
  --set model.refresh_leaf=false
"$kaizen" train "$tmp/reg.yaml" --quiet --set output.run_id=ref-warn "${ref[@]}" \
  --set model.num_round=7 >"$tmp/warn.out" 2>&1 || fail "refresh with num_round: $(cat "$tmp/warn.out")"
grep -q 'warning: model.num_round 7 is not used: a refresh updates all 20 rounds' "$tmp/warn.out" ||
  fail "refresh with num_round 7: no warning: $(cat "$tmp/warn.out")"
python3 - "$(model reg-20)" "$(model ref-same)" "$(model ref-shift)" "$(model ref-noleaf)" \
  "$(model ref-warn)" <<'EOF' || fail "refresh: model checks"
import json, sys
old, same, shift, noleaf, warn = (json.load(open(p)) for p in sys.argv[1:])
assert len(warn["trees"]) == 20
shape = ("left", "right", "feature", "threshold", "default_left", "categorical", "cat_values")
worst = 0.0
moved = 0
for a, b, c, d in zip(old["trees"], same["trees"], shift["trees"], noleaf["trees"]):
    for k in shape:
        assert a[k] == b[k] == c[k] == d[k], k
    big = max(abs(v) for v in a["leaf_value"])
    worst = max(worst, max(abs(x - y) for x, y in zip(a["leaf_value"], b["leaf_value"])) / big)
    assert d["leaf_value"] == a["leaf_value"]
    moved += d["cover"] != a["cover"] or d["gain"] != a["gain"]
assert old["base_score"] == same["base_score"] == shift["base_score"]
assert len(old["trees"]) == len(same["trees"]) == len(shift["trees"]) == 20
print(f"refresh on the training data: leaves move by at most {worst:.3g} of their tree's largest")
assert worst <= 1e-6, worst
assert moved > 0, "refresh_leaf false left cover and gain unchanged"
EOF
# the same on the training data of a 3-class model and of one whose leaves are
# residual medians (reg:absoluteerror): trees and leaves unchanged
train mae-10 "$tmp/reg.yaml" --set model.num_round=10 --set model.objective=reg:absoluteerror
train ref-mae "$tmp/reg.yaml" --set model.process_type=update --set model.updater=refresh \
  --set train.init_from="$(model mae-10)" --set model.objective=auto
train ref-multi "$tmp/multi.yaml" --set model.process_type=update --set model.updater=refresh \
  --set train.init_from="$(model multi-20)"
python3 - "$(model mae-10)" "$(model ref-mae)" "$(model multi-20)" "$(model ref-multi)" <<'EOF' ||
import json, sys
for a, b in ((sys.argv[1], sys.argv[2]), (sys.argv[3], sys.argv[4])):
    a, b = json.load(open(a)), json.load(open(b))
    assert len(a["trees"]) == len(b["trees"]) and a["base_score"] == b["base_score"]
    for x, y in zip(a["trees"], b["trees"]):
        assert x["left"] == y["left"] and x["threshold"] == y["threshold"]
        big = max(abs(v) for v in x["leaf_value"])
        assert max(abs(u - v) for u, v in zip(x["leaf_value"], y["leaf_value"])) <= 1e-6 * big
EOF
  fail "refresh of the 3-class / absolute-error model on its training data changed it"
# predictions and metrics on the shifted data: the refreshed model follows it
"$kaizen" eval --model "$(model reg-20)" --data "$tmp/shift" --json >"$tmp/ev_old" 2>&1 &&
  "$kaizen" eval --model "$(model ref-shift)" --data "$tmp/shift" --json >"$tmp/ev_new" 2>&1 &&
  "$kaizen" predict --model "$(model reg-20)" --data "$tmp/shift" --out "$tmp/p_old.csv" >/dev/null 2>&1 &&
  "$kaizen" predict --model "$(model ref-shift)" --data "$tmp/shift" --out "$tmp/p_new.csv" >/dev/null 2>&1 ||
  fail "eval/predict of the refreshed model"
python3 - "$tmp/ev_old" "$tmp/ev_new" "$tmp/p_old.csv" "$tmp/p_new.csv" <<'EOF' || fail "refresh on shifted labels"
import json, sys
def rmse(p):
    text = open(p).read()
    return json.loads(text[text.index("{"):])["rmse"]
old, new = rmse(sys.argv[1]), rmse(sys.argv[2])
def col(p):
    rows = open(p).read().split("\n")[1:]
    return [float(r.split(",")[-1]) for r in rows if r]
po, pn = col(sys.argv[3]), col(sys.argv[4])
shift = sum(b - a for a, b in zip(po, pn)) / len(po)
print(f"shifted labels (+1.5): RMSE old model {old:.4f}, refreshed {new:.4f}; mean prediction moved {shift:+.4f}")
assert new < 0.3 * old, (old, new)
# the base score stays: the trees carry the shift, up to (1 - eta)^20 of it
assert 1.4 < shift < 1.55, shift
EOF
# a refresh killed and resumed (checkpoints every 5 of the 150 rounds)
ref2=(--set model.process_type=update --set model.updater=refresh
  --set train.init_from="$(model big-full)" --set output.checkpoint_every=5)
train rbig-full "$tmp/big.yaml" "${ref2[@]}"
"$kaizen" train "$tmp/big.yaml" --quiet --set output.run_id=rbig-k "${ref2[@]}" >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 1200); do
  [ "$(ls "$(run_dir rbig-k)/checkpoints/" 2>/dev/null | grep -c '^gbdt-[0-9]*\.kzg$')" -ge 2 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.02
done
if kill -9 $pid 2>/dev/null; then
  wait $pid 2>/dev/null
  train rbig-k "$tmp/big.yaml" "${ref2[@]}" --resume &&
    { cmp -s "$(model rbig-full)" "$(model rbig-k)" ||
      fail "the resumed refresh's model.json differs from the uninterrupted one's"; }
else
  wait $pid 2>/dev/null
  echo "note: the refresh ended before it could be killed; its resume is not checked this time"
fi

# (e) bad inputs: exit 1, the message, no run directory
bad() { # bad ID PATTERN YAML ARGS...
  local id="$1" pattern="$2" yaml="$3"
  shift 3
  "$kaizen" train "$yaml" --quiet --set output.run_id="$id" "$@" >"$tmp/$id.out" 2>&1 &&
    fail "$id: succeeded"
  grep -q -- "$pattern" "$tmp/$id.out" || fail "$id: expected '$pattern': $(cat "$tmp/$id.out")"
  [ -e "$(run_dir "$id")" ] && fail "$id: left a run directory"
  return 0
}
from() { echo "--set train.init_from=$1"; }
printf 'hello' >"$tmp/hello.txt"
printf 'KZM1\001\000\000\000junk' >"$tmp/neural.kzm"
head -c 300 "$(model reg-12)" >"$tmp/cut.json"
bad b-missing "train.init_from: $tmp/nope.json: cannot open model file" "$tmp/reg.yaml" \
  $(from "$tmp/nope.json")
bad b-cut "train.init_from: .*cut.json:.*invalid JSON" "$tmp/reg.yaml" $(from "$tmp/cut.json")
bad b-neural "neural.kzm is a neural model (.kzm); a gbdt job" "$tmp/reg.yaml" \
  $(from "$tmp/neural.kzm")
bad b-text "hello.txt: not a kaizen model file" "$tmp/reg.yaml" $(from "$tmp/hello.txt")
bad b-columns "has 4 numeric + 1 categorical features, data.train has 3 + 1 columns" \
  "$tmp/reg.yaml" $(from "$(model reg-12)") --set data.train="$tmp/fewer"
bad b-label "was trained on the label 'y', data.train's label is 'target'" "$tmp/reg.yaml" \
  $(from "$(model reg-12)") --set data.train="$tmp/renamed"
bad b-classes "has the classes \[hi, lo, mid\], data.train's label 'k' has \[hi, lo, middle\]" \
  "$tmp/multi.yaml" $(from "$(model multi-12)") --set data.train="$tmp/classes"
bad b-objective "model.objective: reg:absoluteerror, but train.init_from .* is a reg:squarederror model" \
  "$tmp/reg.yaml" $(from "$(model reg-12)") --set model.objective=reg:absoluteerror
bad b-multi-on-reg "reg:squarederror, but train.init_from .* is a multi:softprob model" \
  "$tmp/reg.yaml" $(from "$(model multi-12)")
bad b-label-k "was trained on the label 'k', data.train's label is 'y'" "$tmp/reg.yaml" \
  $(from "$(model multi-12)") --set model.objective=auto
bad b-reg-on-multi "(a reg:squarederror model): model.objective: reg:squarederror needs a numeric label, but 'k'" \
  "$tmp/multi.yaml" $(from "$(model reg-12)")
bad b-update-alone "process_type: update refreshes the trees of an existing model; set train.init_from" \
  "$tmp/reg.yaml" --set model.process_type=update --set model.updater=refresh
bad b-updater "process_type: update needs updater: refresh" "$tmp/reg.yaml" \
  --set model.process_type=update $(from "$(model reg-12)")
bad b-updater2 "model.updater: 'prune' is read only with process_type: update" "$tmp/reg.yaml" \
  --set model.updater=prune
bad b-refresh-es "early_stopping_rounds: a refresh" "$tmp/reg.yaml" "${ref[@]}" \
  --set model.early_stopping_rounds=3
bad b-refresh-cuda "train.device" "$tmp/reg.yaml" "${ref[@]}" --set train.device=cuda

[ $fails -eq 0 ] && echo "gbdt continue: all checks passed"
exit $((fails > 0))
