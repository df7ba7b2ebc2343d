#!/usr/bin/env bash
# Continuing a TFT (train.init_from, train.continual; docs/MODELS.md "Continuing a TFT") through
# the kaizen binary, each command its own process, on series the test writes:
#   old: shops a and b, days 0-199, a known "promo" that adds 60 to sales;
#   new: the same shops, days 180-379, where the promo now takes 60 off, and a new shop c at ten
#        times their level with a new promo kind ("bogo").
# A TFT trained on old continues on new without replay and with replay of old windows: both
# learn the new data (its held-out P50 q-risk falls to under half), without replay the old data's
# q-risk rises (forgetting), with replay it rises at most half as much; the run's summary holds
# the four numbers, the "before" old one is `kaizen eval` of the starting model, `runs compare`
# shows them; the new shop gets its own scaling (forecasts at its level) and its own embedding row,
# the new category its own row; the continued model predicts and evaluates on both data sets; a
# model with LoRA adapters continues with them folded in.
# Resume: a TFT run (dropout on) and a continual run (replay + EWC) killed with kill -9 after
# their second checkpoint and resumed end on the uninterrupted run's model.kzm and metrics, byte
# for byte. Bad jobs: another column set (names the field and both files), another architecture,
# old data without the model's columns or without a window: exit 1, no run directory.
# usage: tft_continual_cli.sh KAIZEN
set -u
kaizen="$1"
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" | head -8; fails=$((fails + 1)); }

# gen PART [EXTRA]: the series above as CSV; EXTRA adds an observed column of that name
gen() {
  local part="$1" extra="${2:-}"
  echo "shop,day,sales,promo${extra:+,$extra}"
  awk -v part="$part" -v extra="$extra" 'BEGIN {
    d0 = part == "old" ? 0 : 180; d1 = part == "old" ? 200 : 380
    if (part == "short") { d0 = 0; d1 = 15 }
    n = split(part == "new" ? "a b c" : "a b", shops, " ")
    for (si = 1; si <= n; si++) for (i = d0; i < d1; i++) {
      s = shops[si]
      h = sin((i + si * 1000) * 12.9898) * 43758.5453; h -= int(h); if (h < 0) h += 1
      g = sin((i + si * 77) * 78.233) * 43758.5453; g -= int(g); if (g < 0) g += 1
      on = h > 0.6; kind = on ? (s == "c" && h > 0.8 ? "bogo" : "on") : "off"
      eff = on ? (part == "new" ? -60 : 60) : 0
      base = s == "c" ? 1000 : (s == "b" ? 150 : 100)
      y = base + (s == "c" ? 10 : 1) * (eff + 10 * (i % 7 >= 5) + 4 * g)
      printf "%s,%d,%.2f,%s%s\n", s, i, y, kind, extra != "" ? "," (g * 10) : ""
    }
  }'
}
imp() { # imp NAME CSV-ARGS...
  local name="$1"; shift
  gen "$@" >"$tmp/$name.csv"
  "$kaizen" data import --kind timeseries --input "$tmp/$name.csv" --out "$tmp/$name" \
    --series-id shop --time day --label sales --known promo --valid-fraction 0.15 >/dev/null ||
    { echo "FAIL: import $name"; exit 1; }
}
imp old old
imp new new
imp newx new temp
imp short short
gen old | grep -v ',on$' | cut -d, -f1-3 | sed '1s/.*/shop,day,sales/' >"$tmp/nopromo.csv"
"$kaizen" data import --kind timeseries --input "$tmp/nopromo.csv" --out "$tmp/nopromo" \
  --series-id shop --time day --label sales --valid-fraction 0.15 >/dev/null ||
  { echo "FAIL: import nopromo"; exit 1; }

# job FILE DATA STEPS [lines under train:]
job() {
  local file="$1" d="$2" steps="$3"; shift 3
  {
    cat <<YAML
model:
  type: tft
  hidden: 16
  heads: 4
  encoder_length: 14
  horizon: 7
  season: 7
data:
  train: $tmp/$d
train:
  lr: 0.01
  batch_size: 32
  steps: $steps
  log_every: 10
  eval_every: 50
  clip_norm: 1.0
  seed: 3
  threads: 1
YAML
    for l in "$@"; do echo "  $l"; done
    cat <<YAML
output:
  runs_dir: $tmp/runs
  experiment: t
  checkpoint_every: 10
YAML
  } >"$file"
}
run_dir() { echo "$tmp/runs/t/$1"; }
metric() { awk -v n="$1" '$1 == n { print $2 }'; }
final() { # final RUN KEY: a number of summary.json's "final"
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["final"][sys.argv[2]])' \
    "$(run_dir "$1")/summary.json" "$2"
}

# ---- the starting model --------------------------------------------------------------------
job "$tmp/pre.yaml" old 150
"$kaizen" train "$tmp/pre.yaml" --quiet --set output.run_id=pre >"$tmp/pre.out" 2>&1 ||
  { echo "FAIL: train on old: $(cat "$tmp/pre.out")"; exit 1; }
pre="$(run_dir pre)/model.kzm"
ev_old=$("$kaizen" eval --model "$pre" --data "$tmp/old" 2>&1 | metric q_risk_p50)
[ -n "$ev_old" ] || fail "eval of the starting model on old"

# ---- continued on new: without replay, with replay ------------------------------------------
cont=("init_from: $pre" "continual:" "  old_data: $tmp/old")
job "$tmp/c0.yaml" new 150 "${cont[@]}"
job "$tmp/c5.yaml" new 150 "${cont[@]}" "  replay: 0.5"
for r in c0 c5; do
  "$kaizen" train "$tmp/$r.yaml" --set output.run_id=$r >"$tmp/$r.out" 2>&1 ||
    fail "continual run $r: $(cat "$tmp/$r.out")"
done
grep -q "train.init_from $pre: tft: weights, covariate statistics and the scaling of 2 series from the model; 1 new series (scaled by their history in data.train) and 1 new categories" \
  "$tmp/c5.out" || fail "no init_from note: $(head -3 "$tmp/c5.out")"
grep -q '"event":"continual","step":0,"detail":"before training q_risk_p50=' "$tmp/c5.out" ||
  fail "no continual event: $(head -5 "$tmp/c5.out")"
for r in c0 c5; do
  for k in old_before old_after new_before new_after; do
    v=$(final $r "$k/q_risk_p50" 2>/dev/null) || { fail "$r: no $k/q_risk_p50 in summary.json"; continue; }
    eval "${r}_$k=$v"
  done
done
python3 - "$ev_old" "${c0_old_before:-nan}" "${c0_old_after:-nan}" "${c0_new_before:-nan}" \
  "${c0_new_after:-nan}" "${c5_old_before:-nan}" "${c5_old_after:-nan}" "${c5_new_before:-nan}" \
  "${c5_new_after:-nan}" <<'PY' || fail "forgetting numbers"
import sys
ev, ob0, oa0, nb0, na0, ob5, oa5, nb5, na5 = map(float, sys.argv[1:])
# "before" is the starting model on the old data's held-out span, as kaizen eval says
assert abs(ob0 - ev) <= 1e-5 * ev and abs(ob5 - ev) <= 1e-5 * ev, (ev, ob0, ob5)
assert nb0 == nb5, (nb0, nb5)
# both learn the new data
assert na0 < 0.5 * nb0 and na5 < 0.5 * nb5, (nb0, na0, na5)
# without replay the new regime overwrites the old one; with replay the rise is at most half
assert oa0 > 3 * ob0, ("no forgetting without replay: the test shows nothing", ob0, oa0)
assert oa5 - ob5 <= 0.5 * (oa0 - ob0), ("replay does not keep the old data", ob5, oa5, oa0)
print(f"old {ob0:.4f} -> {oa0:.4f} without replay, {oa5:.4f} with; new {nb0:.4f} -> {na0:.4f}, {na5:.4f}")
PY
"$kaizen" runs compare "$(run_dir c0)" "$(run_dir c5)" >"$tmp/compare.out" 2>&1 ||
  fail "runs compare: $(cat "$tmp/compare.out")"
for k in old_before old_after new_before new_after; do
  grep -q "final $k/q_risk_p50 " "$tmp/compare.out" || fail "runs compare lacks $k: $(cat "$tmp/compare.out")"
done

# the continued model: evaluates on both data sets as the trainer measured, forecasts every shop,
# the new one at its own level; its file holds the new category
c5="$(run_dir c5)/model.kzm"
got=$("$kaizen" eval --model "$c5" --data "$tmp/old" 2>&1 | metric q_risk_p50)
awk -v a="${c5_old_after:-0}" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-5 * a) }' ||
  fail "eval of the continued model on old: $got, the run said ${c5_old_after:-?}"
"$kaizen" predict --model "$c5" --data "$tmp/new" --out "$tmp/pred.csv" --quiet 2>"$tmp/e" ||
  fail "predict: $(cat "$tmp/e")"
[ "$(($(wc -l <"$tmp/pred.csv") - 1))" -eq 21 ] || fail "predict: not 3 shops x 7 steps: $(cat "$tmp/pred.csv")"
awk -F, 'NR > 1 { s[$1] += $5; n[$1]++ } END {
  a = s["\"a\""] / n["\"a\""]; c = s["\"c\""] / n["\"c\""]
  exit !(n["\"c\""] == 7 && a > 40 && a < 250 && c > 300 && c < 1300) }' "$tmp/pred.csv" ||
  fail "forecasts not at each shop's level: $(grep -E '^"(a|c)"' "$tmp/pred.csv" | head -14)"
"$kaizen" predict --model "$c5" --data "$tmp/old" --out "$tmp/pred_old.csv" --quiet 2>"$tmp/e" ||
  fail "predict on old: $(cat "$tmp/e")"
grep -a -q '"bogo"' "$c5" || fail "the continued model's file lacks the new category"
grep -a -q '"names":\["a","b","c"\]' "$c5" || fail "series dictionary: not the file's, then the new shop"

# ---- a model with LoRA adapters continues with them folded in: its "before" is its own eval ----
job "$tmp/lo.yaml" old 30 "init_from: $pre"
sed -i 's/^  season: 7/  season: 7\n  lora:\n    r: 4\n    alpha: 8/' "$tmp/lo.yaml"
"$kaizen" train "$tmp/lo.yaml" --quiet --set output.run_id=lora >"$tmp/lo.out" 2>&1 ||
  fail "LoRA run: $(cat "$tmp/lo.out")"
ev_lo=$("$kaizen" eval --model "$(run_dir lora)/model.kzm" --data "$tmp/old" 2>&1 | metric q_risk_p50)
job "$tmp/cl.yaml" new 5 "init_from: $(run_dir lora)/model.kzm" "continual:" "  old_data: $tmp/old"
"$kaizen" train "$tmp/cl.yaml" --quiet --set output.run_id=cl >"$tmp/cl.out" 2>&1 ||
  fail "continuing the LoRA model: $(cat "$tmp/cl.out")"
got=$(final cl old_before/q_risk_p50 2>/dev/null)
awk -v a="${ev_lo:-0}" -v b="${got:-0}" -v p="$ev_old" \
  'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 1e-5 * a && a != p) }' ||
  fail "continued LoRA model: old before ${got:-?}, its eval ${ev_lo:-?} (the base's $ev_old)"

# ---- resume: kill -9 after the second checkpoint, --resume, the same bytes -------------------
# kill_after_checkpoints YAML ID: starts the job, kill -9s it once 2 checkpoints exist
kill_after_checkpoints() {
  local yaml="$1" id="$2" i
  "$kaizen" train "$yaml" --quiet --set output.run_id="$id" >"$tmp/$id.killed" 2>&1 &
  local pid=$!
  for i in $(seq 1 1200); do
    [ "$(ls "$(run_dir "$id")/checkpoints/" 2>/dev/null | grep -c '\.kzc$')" -ge 2 ] && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.02
  done
  if kill -9 $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    [ -e "$(run_dir "$id")/summary.json" ] && { fail "$id: killed too late"; return 1; }
    return 0
  fi
  wait $pid 2>/dev/null
  fail "$id: the job ended before it could be killed: $(tail -2 "$tmp/$id.killed")"
  return 1
}
check_resume() { # check_resume NAME YAML
  local name="$1" yaml="$2"
  "$kaizen" train "$yaml" --quiet --set output.run_id="$name-full" >"$tmp/$name-full.out" 2>&1 ||
    { fail "$name: uninterrupted run: $(cat "$tmp/$name-full.out")"; return; }
  kill_after_checkpoints "$yaml" "$name-k" || return
  "$kaizen" train "$yaml" --set output.run_id="$name-k" --resume >"$tmp/$name-r.out" 2>&1 ||
    { fail "$name: resume: $(cat "$tmp/$name-r.out")"; return; }
  grep -q '"event":"resume","step":[1-9]' "$tmp/$name-r.out" ||
    fail "$name: did not resume from a checkpoint: $(head -3 "$tmp/$name-r.out")"
  cmp -s "$(run_dir "$name-full")/model.kzm" "$(run_dir "$name-k")/model.kzm" ||
    fail "$name: the resumed model.kzm differs from the uninterrupted run's"
  diff <(cut -d, -f1,3- "$(run_dir "$name-full")/metrics.csv") \
    <(cut -d, -f1,3- "$(run_dir "$name-k")/metrics.csv") >"$tmp/$name.diff" ||
    fail "$name: metrics.csv differs: $(head -6 "$tmp/$name.diff")"
}
job "$tmp/rp.yaml" old 300
sed -i 's/^  season: 7/  season: 7\n  dropout: 0.1/' "$tmp/rp.yaml"
check_resume plain "$tmp/rp.yaml"
job "$tmp/rc.yaml" new 300 "${cont[@]}" "  replay: 0.5" "  ewc_lambda: 1000" "  fisher_batches: 40"
check_resume continual "$tmp/rc.yaml"
grep -q '"event":"continual","step":[0-9]*,"detail":"EWC lambda 1000, diagonal Fisher from 40 old micro-batches' \
  "$tmp/continual-r.out" || fail "no EWC event: $(head -5 "$tmp/continual-r.out")"
cmp -s "$(run_dir continual-full)/model.kzm" "$(run_dir c5)/model.kzm" && fail "EWC changed nothing"

# ---- bad jobs: exit 1, a message naming what differs, no run directory ----------------------
bad() { # bad NAME NEEDLE YAML
  local name="$1" needle="$2" yaml="$3"
  if "$kaizen" train "$yaml" --quiet --set output.run_id="$name" >"$tmp/$name.out" 2>&1; then
    fail "$name: accepted"
  else
    grep -qF -- "$needle" "$tmp/$name.out" || fail "$name: message: $(cat "$tmp/$name.out")"
  fi
  [ -d "$(run_dir "$name")" ] && fail "$name: left a run directory"
}
job "$tmp/b1.yaml" newx 5 "init_from: $pre"
bad columns "train.init_from: $pre: observed numeric columns (field observed_num): the model was trained with none; the job takes temp from data.train $tmp/newx" "$tmp/b1.yaml"
job "$tmp/b2.yaml" new 5 "init_from: $pre"
sed -i 's/hidden: 16/hidden: 32/' "$tmp/b2.yaml"
bad hidden "train.init_from: $pre: model.hidden: the model has 16, the job 32" "$tmp/b2.yaml"
job "$tmp/b3.yaml" new 5 "init_from: $pre" "continual:" "  old_data: $tmp/nopromo" "  replay: 0.3"
bad old_columns "train.continual.old_data: $tmp/nopromo: tft: the data set has no known column 'promo'" "$tmp/b3.yaml"
job "$tmp/b4.yaml" new 5 "init_from: $pre" "continual:" "  old_data: $tmp/short" "  ewc_lambda: 1"
bad old_windows "train.continual.old_data: $tmp/short: tft: no training window" "$tmp/b4.yaml"

[ "$fails" -eq 0 ] && echo "tft continual cli: all checks passed"
exit $((fails > 0))
