#!/usr/bin/env bash
# One metric vocabulary across model families (docs/RUNS.md, "Metrics"): on
# pima2 an MLP run and a GBDT run both log valid/logloss, valid/accuracy and
# valid/error, so one `kaizen runs plot --metric valid/accuracy` draws both
# (no "(no data)"), `kaizen runs compare` fills the same final rows for both,
# best_metric is spelled valid/<name> in both summaries, and final_step names
# the saved model's step (the GBDT's best round under early stopping).
# Usage: families_cli.sh KAIZEN SHARED_DATA_DIR TMP
set -u
kaizen="$1"
data="$2"
tmp="$3"
[ -f "$data/pima2.csv" ] || { echo "skipped: $data/pima2.csv not found"; exit 77; }
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
rm -rf "$tmp" && mkdir -p "$tmp" || exit 1

"$kaizen" data import --kind tabular --input "$data/pima2.csv" --out "$tmp/pima2" \
  --label diabetes --label-type categorical --valid-fraction 0.2 --seed 1 >/dev/null ||
  { echo "FAIL: import"; exit 1; }
cat >"$tmp/mlp.yaml" <<EOF
model:
  type: mlp
  hidden: [16]
data:
  train: $tmp/pima2
train:
  lr: 0.01
  batch_size: 64
  epochs: 10
  seed: 1
  early_stopping:
    metric: valid/accuracy
output:
  runs_dir: $tmp/runs
  experiment: pima2
  run_id: mlp
EOF
cat >"$tmp/gbdt.yaml" <<EOF
model:
  type: gbdt
  num_round: 200
  max_depth: 3
  eta: 0.3
  eval_metric: [auc, logloss]
  early_stopping_rounds: 5
data:
  train: $tmp/pima2
train:
  seed: 1
output:
  runs_dir: $tmp/runs
  experiment: pima2
  run_id: gbdt
EOF
"$kaizen" train "$tmp/mlp.yaml" --quiet >"$tmp/mlp.out" 2>&1 || fail "mlp train: $(cat "$tmp/mlp.out")"
"$kaizen" train "$tmp/gbdt.yaml" --quiet >"$tmp/gbdt.out" 2>&1 || fail "gbdt train: $(cat "$tmp/gbdt.out")"
grep -qE '^mlp valid/logloss=[0-9.e+-]+ valid/accuracy=[0-9.e+-]+ valid/error=' "$tmp/mlp.out" ||
  fail "mlp final line: $(cat "$tmp/mlp.out")"
grep -qE '^gbdt .*valid/accuracy=[0-9.e+-]+ .*rounds_kept=[0-9]+ rounds_run=[0-9]+ run ' \
  "$tmp/gbdt.out" || fail "gbdt final line: $(cat "$tmp/gbdt.out")"

# summary.json: the same spelling, final_step of the saved model
/usr/bin/python3 - "$tmp/runs/pima2" "$tmp/gbdt.out" <<'PY' || fail "summary.json check"
import json, re, sys
d = sys.argv[1]
m = json.load(open(d + "/mlp/summary.json"))
g = json.load(open(d + "/gbdt/summary.json"))
assert m["best_metric"] == "valid/accuracy", m["best_metric"]
assert g["best_metric"] == "valid/logloss", g["best_metric"]
for s in (m, g):
    for k in ("valid/logloss", "valid/accuracy", "valid/error"):
        assert isinstance(s["final"].get(k), float), (s["model_type"], k, s["final"])
    assert abs(s["final"]["valid/accuracy"] + s["final"]["valid/error"] - 1) < 1e-9
    assert 0.6 < s["final"]["valid/accuracy"] <= 1, s["final"]
assert "valid/auc" in g["final"] and "valid/auc" not in m["final"]
assert m["final_step"] == m["steps"], (m["final_step"], m["steps"])
# GBDT with early stopping keeps the trees up to the best round: the final
# metrics are that model's, so the deciding one equals best_value.
kept = int(re.search(r"rounds_kept=(\d+) rounds_run=(\d+)", open(sys.argv[2]).read()).group(1))
assert g["final_step"] == g["best_step"] == kept, (g["final_step"], g["best_step"], kept)
assert g["final_step"] <= g["steps"]
assert abs(g["final"]["valid/logloss"] - g["best_value"]) < 1e-9, (g["final"], g["best_value"])
PY

# one plot with both runs, each with points
svg="$tmp/acc.svg"
out=$("$kaizen" runs plot pima2/mlp pima2/gbdt --runs-dir "$tmp/runs" --metric valid/accuracy \
  --out "$svg" 2>&1) || fail "runs plot: $out"
grep -q "no data" <<<"$out" && fail "runs plot skipped a run: $out"
/usr/bin/python3 - "$svg" <<'PY' || fail "SVG check"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
lines = root.findall(ns + "polyline")
assert len(lines) == 2, f"{len(lines)} polylines"
for pl in lines:
    assert len(pl.get("points").split()) >= 2, pl.get("points")
texts = " ".join(t.text or "" for t in root.iter(ns + "text"))
assert "no data" not in texts, texts
for want in ("pima2/mlp", "pima2/gbdt", "valid/accuracy"):
    assert want in texts, want
PY

# compare: the common rows filled for both runs
out=$("$kaizen" runs compare pima2/mlp pima2/gbdt --runs-dir "$tmp/runs" 2>&1) || fail "runs compare: $out"
for row in valid/logloss valid/accuracy valid/error; do
  grep -qE "^final $row +[0-9.e+-]+ +[0-9.e+-]+\$" <<<"$out" || fail "compare row final $row: $out"
done
grep -qE '^best_metric +valid/accuracy +valid/logloss$' <<<"$out" || fail "compare best_metric: $out"
grep -qE '^final_step +[0-9]+ +[0-9]+$' <<<"$out" || fail "compare final_step: $out"

# eval speaks the same names for both families
for model in "$tmp/runs/pima2/mlp/model.kzm" "$tmp/runs/pima2/gbdt/model.json"; do
  out=$("$kaizen" eval --model "$model" --data "$tmp/pima2" --split valid --json 2>&1) ||
    fail "eval $model: $out"
  /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert all(k in d for k in ("logloss","accuracy","error")), d' \
    "$out" || fail "eval --json names: $out"
done

[ $fails -eq 0 ] && echo "PASS" || { echo "$fails failure(s)"; exit 1; }
