#!/usr/bin/env bash
# The TFT through the kaizen binary, each command its own process:
#   import txhousing and taylor (tests/data_cli.sh's commands), train a small
#   TFT on each, `kaizen eval` (model beside the seasonal-naive baseline) and
#   `kaizen predict` (per-series, per-step quantiles after the last
#   observation); save/load: eval of the saved model reproduces the
#   trainer's final numbers; bad jobs: an unknown covariate name, a window
#   longer than every series, a row model's --input for a window model, replay
#   of old data without the model's columns (tests/tft_continual_cli.sh
#   covers continuing a TFT).
# usage: tft_cli.sh KAIZEN SHARED_DATA_DIR
set -u
kaizen="$1" data="$2"
[ -f "$data/txhousing.csv" ] && [ -f "$data/taylor.csv" ] || {
  echo "skipped: txhousing.csv / taylor.csv not found in $data"
  exit 77
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" | head -5; fails=$((fails + 1)); }

"$kaizen" data import --kind timeseries --input "$data/txhousing.csv" --out "$tmp/tx" \
  --series-id city --time date --label sales --known year,month --valid-fraction 0.1 >/dev/null ||
  { echo "FAIL: import txhousing"; exit 1; }
"$kaizen" data import --kind timeseries --input "$data/taylor.csv" --out "$tmp/taylor" \
  --time t --label demand --valid-fraction 0.2 >/dev/null || { echo "FAIL: import taylor"; exit 1; }

# job FILE DATA K TAU SEASON STEPS [extra model lines]
job() {
  local file="$1" d="$2" k="$3" tau="$4" season="$5" steps="$6"; shift 6
  {
    echo "model:"
    echo "  type: tft"
    echo "  hidden: 16"
    echo "  heads: 4"
    echo "  encoder_length: $k"
    echo "  horizon: $tau"
    echo "  season: $season"
    for l in "$@"; do echo "  $l"; done
    echo "data:"
    echo "  train: $d"
    echo "train:"
    echo "  lr: 0.003"
    echo "  batch_size: 64"
    echo "  steps: $steps"
    echo "  log_every: 10"
    echo "  clip_norm: 1.0"
    echo "  seed: 3"
    echo "  threads: 1"
    echo "output:"
    echo "  runs_dir: $tmp/runs"
    echo "  experiment: tft"
  } >"$file"
}

metric() { # metric NAME "name value" lines on stdin
  awk -v n="$1" '$1 == n { print $2 }'
}

# ---- txhousing: train, eval, predict -----------------------------------------------------
job "$tmp/tx.yaml" "$tmp/tx" 24 6 12 40
out=$("$kaizen" train "$tmp/tx.yaml" --quiet 2>"$tmp/tx.err") || fail "train txhousing: $(cat "$tmp/tx.err")"
run=$(echo "$out" | sed -n 's/.* run \(.*\)$/\1/p')
echo "$out" | grep -q "^tft valid/q_risk_p10=.* valid/q_risk_p50=.* valid/naive_q_risk_p50=" ||
  fail "train txhousing: final line: $out"
[ -f "$run/model.kzm" ] || fail "txhousing: no model.kzm in '$run'"
cp "$run/model.kzm" "$tmp/tx_model.kzm" 2>/dev/null # the continual bad case (bad() clears runs/)
ev=$("$kaizen" eval --model "$run/model.kzm" --data "$tmp/tx" 2>&1) || fail "eval txhousing: $ev"
for m in q_risk_p10 q_risk_p50 q_risk_p90 mae smape naive_q_risk_p50 naive_mae naive_smape; do
  v=$(echo "$ev" | metric "$m")
  [ -n "$v" ] || fail "eval txhousing: no $m in: $ev"
done
# the saved model scores exactly as the trainer's final evaluation did
want=$(echo "$out" | sed -n 's/.*valid\/q_risk_p50=\([^ ]*\).*/\1/p')
got=$(echo "$ev" | metric q_risk_p50)
awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * (a < 0 ? -a : a)) }' ||
  fail "eval of the saved model: q_risk_p50 $got, trainer said $want"
"$kaizen" eval --model "$run/model.kzm" --data "$tmp/tx" --json | grep -q '"naive_q_risk_p50":' ||
  fail "eval --json"
"$kaizen" predict --model "$run/model.kzm" --data "$tmp/tx" --out "$tmp/tx_pred.csv" 2>"$tmp/pred.err" ||
  fail "predict txhousing: $(cat "$tmp/pred.err")"
[ "$(head -1 "$tmp/tx_pred.csv")" = "city,step,time,p10,p50,p90" ] ||
  fail "predict header: $(head -1 "$tmp/tx_pred.csv")"
rows=$(($(wc -l <"$tmp/tx_pred.csv") - 1))
[ "$rows" -eq $((46 * 6)) ] || fail "predict txhousing: $rows rows, expected 46 series x 6 steps"
grep -q '^"Abilene",6,' "$tmp/tx_pred.csv" || fail "predict: no Abilene step 6"
grep -q "known inputs past the data are carried forward" "$tmp/pred.err" ||
  fail "predict: no note on known inputs: $(cat "$tmp/pred.err")"
grep -q '"encoder":{"target":' "$tmp/tx_pred.csv.interpret.json" ||
  fail "predict: no interpretation: $(head -c 300 "$tmp/tx_pred.csv.interpret.json")"
grep -q '"attention":{' "$tmp/tx_pred.csv.interpret.json" || fail "predict: no attention pattern"
"$kaizen" predict --model "$run/model.kzm" --data "$tmp/tx" --out "$tmp/tx_pred.jsonl" 2>/dev/null ||
  fail "predict jsonl"
[ "$(wc -l <"$tmp/tx_pred.jsonl")" -eq $((46 * 6)) ] || fail "predict jsonl: line count"
grep -q '^{"series":"Abilene","step":1,"time":[0-9.e+]*,"p10":' "$tmp/tx_pred.jsonl" ||
  fail "predict jsonl: $(head -1 "$tmp/tx_pred.jsonl")"
"$kaizen" predict --model "$run/model.kzm" --input "$data/txhousing.csv" --out "$tmp/x.csv" >/dev/null 2>"$tmp/e" &&
  fail "predict --input accepted for a TFT"
grep -q "from a data set (--data DIR)" "$tmp/e" || fail "predict --input: $(cat "$tmp/e")"

# ---- lags, log transform, loss weights, dropout: the saved model (lags and transform in its
# meta) scores as the trainer did; forecasts stay positive under the log transform --------------
job "$tmp/txl.yaml" "$tmp/tx" 24 6 12 30 "lags: [12]" "transform: log" "loss_weight: scale" \
  "dropout: 0.1" "scaling: window"
out=$("$kaizen" train "$tmp/txl.yaml" --quiet 2>"$tmp/txl.err") || fail "train with lags: $(cat "$tmp/txl.err")"
runl=$(echo "$out" | sed -n 's/.* run \(.*\)$/\1/p')
evl=$("$kaizen" eval --model "$runl/model.kzm" --data "$tmp/tx" 2>&1) || fail "eval with lags: $evl"
wantl=$(echo "$out" | sed -n 's/.*valid\/q_risk_p50=\([^ ]*\).*/\1/p')
gotl=$(echo "$evl" | metric q_risk_p50)
awk -v a="$wantl" -v b="$gotl" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * (a < 0 ? -a : a)) }' ||
  fail "eval of the saved lags/log model: q_risk_p50 $gotl, trainer said $wantl"
"$kaizen" predict --model "$runl/model.kzm" --data "$tmp/tx" --out "$tmp/txl.csv" 2>/dev/null ||
  fail "predict with lags"
awk -F, 'NR > 1 && ($4 <= 0 || $5 <= 0 || $6 <= 0) { bad = 1 } END { exit bad }' "$tmp/txl.csv" ||
  fail "log transform: a forecast <= 0: $(head -3 "$tmp/txl.csv")"
grep -q '"decoder":{"year":[0-9.e-]*,"month":[0-9.e-]*,"lag12":' "$tmp/txl.csv.interpret.json" ||
  fail "lag names: $(head -c 400 "$tmp/txl.csv.interpret.json")"

# ---- no leak: the validation span never enters a training window ---------------------------
# The same series with the last 5% of every series' sales and volume multiplied by 1000 (well
# inside the 10% validation span): training must be bit for bit the same, only eval differs.
mkdir -p "$tmp/poison"
awk -F, 'BEGIN { OFS = "," } NR > 1 && $9 + 0 >= 2014.75 { $4 = $4 * 1000; $5 = $5 * 1000 } { print }' \
  "$data/txhousing.csv" >"$tmp/poison/txhousing.csv"
"$kaizen" data import --kind timeseries --input "$tmp/poison/txhousing.csv" --out "$tmp/txp" \
  --series-id city --time date --label sales --known year,month --valid-fraction 0.1 >/dev/null ||
  fail "import poisoned"
job "$tmp/txp.yaml" "$tmp/txp" 24 6 12 40
outp=$("$kaizen" train "$tmp/txp.yaml" --quiet 2>&1) || fail "train poisoned: $outp"
runp=$(echo "$outp" | sed -n 's/.* run \(.*\)$/\1/p')
cut -d, -f1,3 "$run/metrics.csv" >"$tmp/l1"
cut -d, -f1,3 "$runp/metrics.csv" >"$tmp/l2"
cmp -s "$tmp/l1" "$tmp/l2" || fail "training losses depend on the validation span: $(diff "$tmp/l1" "$tmp/l2" | head -4)"
[ "$(wc -l <"$tmp/l1")" -ge 4 ] || fail "no training losses logged"
[ "$(echo "$outp" | sed -n 's/.*valid\/q_risk_p50=\([^ ]*\).*/\1/p')" != "$want" ] ||
  fail "poisoned validation span scored the same"

# ---- taylor: one series, no known columns: the decoder's inputs are relative time and the
# daily and weekly cycles (sin/cos of the phase from the step count) ----------------------------
job "$tmp/taylor.yaml" "$tmp/taylor" 336 48 336 6 "cycles: [48, 336]"
out=$("$kaizen" train "$tmp/taylor.yaml" --quiet 2>"$tmp/ta.err") || fail "train taylor: $(cat "$tmp/ta.err")"
run=$(echo "$out" | sed -n 's/.* run \(.*\)$/\1/p')
ev=$("$kaizen" eval --model "$run/model.kzm" --data "$tmp/taylor" 2>&1) || fail "eval taylor: $ev"
[ -n "$(echo "$ev" | metric naive_q_risk_p50)" ] || fail "eval taylor: $ev"
# the saved model (cycles and their statistics in the meta) scores as the trainer did
want=$(echo "$out" | sed -n 's/.*valid\/q_risk_p50=\([^ ]*\).*/\1/p')
got=$(echo "$ev" | metric q_risk_p50)
awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * (a < 0 ? -a : a)) }' ||
  fail "eval of the saved taylor model: q_risk_p50 $got, trainer said $want"
"$kaizen" predict --model "$run/model.kzm" --data "$tmp/taylor" --out "$tmp/ta_pred.csv" \
  --plot "$tmp/ta.svg" 2>"$tmp/e" || fail "predict taylor: $(cat "$tmp/e")"
[ "$(($(wc -l <"$tmp/ta_pred.csv") - 1))" -eq 48 ] || fail "predict taylor: not 48 rows"
grep -q '"decoder":{"cycle48_sin":[0-9.e-]*,"cycle48_cos":[0-9.e-]*,"cycle336_sin":' \
  "$tmp/ta_pred.csv.interpret.json" || fail "cycle names: $(head -c 400 "$tmp/ta_pred.csv.interpret.json")"
grep -q "carried forward" "$tmp/e" && fail "cycle inputs are computed, not carried forward"
# --plot: well-formed SVG with the history line, the median line and the band between the
# first and last quantiles, at the forecast's values
[ -e "$tmp/ta.svg.tmp" ] && fail "ta.svg.tmp left behind"
/usr/bin/python3 - "$tmp/ta.svg" "$tmp/ta_pred.csv" <<'PY' || fail "SVG check"
import csv, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
lines = root.findall(ns + "polyline")
assert len(lines) == 2, f"{len(lines)} polylines"
hist, fc = (len(pl.get("points").split()) for pl in lines)
assert hist == 336, f"history: {hist} points"  # max(k, 2 tau) steps, one pixel column or less each
assert fc == 48, f"forecast: {fc} points"
bands = [p for p in root.findall(ns + "path") if p.get("class") == "band"]
assert len(bands) == 1, f"{len(bands)} bands"
d = bands[0].get("d").split()
assert d[0].startswith("M") and d[-1] == "Z" and len(d) == 2 * 48 + 1, d[:3]
texts = " ".join(t.text or "" for t in root.iter(ns + "text"))
for want in ("series all", "history", "forecast p50, band p10-p90", "steps after the last"):
    assert want in texts, want
# the band's top edge is the p90 and its bottom the p10: the y pixels order as the values do
rows = list(csv.DictReader(open(sys.argv[2])))
top = [float(p.lstrip("ML").split(",")[1]) for p in d[:48]]
bot = [float(p.lstrip("L").split(",")[1]) for p in d[48:96]][::-1]
for r, t, b in zip(rows, top, bot):
    assert (float(r["p90"]) >= float(r["p10"])) == (t <= b), (r, t, b)
PY
out=$("$kaizen" predict --model "$run/model.kzm" --data "$tmp/taylor" --out "$tmp/ta_pred.csv" \
  --overwrite --plot "$tmp/ta2.svg" --plot-series nope 2>&1) && fail "--plot-series nope accepted"
echo "$out" | grep -q "no series of that name" || fail "--plot-series nope: $out"
[ -e "$tmp/ta2.svg" ] && fail "an SVG for an unknown series"
out=$("$kaizen" predict --model "$run/model.kzm" --data "$tmp/taylor" --out "$tmp/ta_pred2.csv" \
  --plot "$tmp/ta.svg" 2>&1) && fail "an existing --plot file replaced without --overwrite"
echo "$out" | grep -q "exists; pass --overwrite" || fail "--plot exists: $out"

# ---- calendar features from a date column ---------------------------------------------------
shops_csv() { # two daily series with a weekly pattern, 2024-01-01 .. 2024-07-18
  echo "shop,day,sales"
  for shop in a b; do
    awk -v shop="$shop" 'BEGIN {
      split("31 29 31 30 31 30 31", ml, " "); m = 1; d = 1; dow = 0
      for (i = 0; i < 200; i++) {
        printf "%s,2024-%02d-%02d,%d\n", shop, m, d, 100 + (dow >= 5 ? 40 : 0) + (shop == "b" ? 50 : 0) + i % 3
        dow = (dow + 1) % 7; if (++d > ml[m]) { d = 1; m++ }
      }
    }'
  done
}
shops_csv >"$tmp/shops.csv"
"$kaizen" data import --kind timeseries --input "$tmp/shops.csv" --out "$tmp/shops" --series-id shop \
  --time day --label sales --valid-fraction 0.15 >/dev/null || fail "import shops"
job "$tmp/shops.yaml" "$tmp/shops" 21 7 7 30 "calendar: [day_of_week, month]"
out=$("$kaizen" train "$tmp/shops.yaml" --quiet 2>&1) || fail "train with calendar: $out"
run=$(echo "$out" | sed -n 's/.* run \(.*\)$/\1/p')
"$kaizen" predict --model "$run/model.kzm" --data "$tmp/shops" --out "$tmp/shops.csv.out" 2>"$tmp/e" ||
  fail "predict with calendar: $(cat "$tmp/e")"
grep -q "carried forward" "$tmp/e" && fail "calendar inputs are computed, not carried forward"
grep -q '"decoder":{"day_of_week":[0-9.e-]*,"month":[0-9.e-]*,"relative_time":' \
  "$tmp/shops.csv.out.interpret.json" || fail "calendar names: $(cat "$tmp/shops.csv.out.interpret.json")"
[ "$(($(wc -l <"$tmp/shops.csv.out") - 1))" -eq 14 ] || fail "predict shops: not 2 x 7 rows"

# ---- categorical time-varying inputs: a known "promo" (on: +60 sales, on pseudo-random days)
# and an observed "weather" that does nothing; the promo's embedding must carry the effect ----
promo_csv() {
  echo "shop,day,sales,promo,weather"
  for shop in a b; do
    awk -v shop="$shop" 'BEGIN {
      split("31 29 31 30 31 30 31", ml, " "); m = 1; d = 1
      for (i = 0; i < 200; i++) {
        h = sin((i + (shop == "b" ? 1000 : 0)) * 12.9898) * 43758.5453; h -= int(h); if (h < 0) h += 1
        g = sin((i + 77) * 78.233) * 43758.5453; g -= int(g); if (g < 0) g += 1
        on = h > 0.6
        printf "%s,2024-%02d-%02d,%d,%s,%s\n", shop, m, d, 100 + (on ? 60 : 0) + (shop == "b" ? 50 : 0), (on ? "on" : "off"), (g > 0.5 ? "sun" : "rain")
        if (++d > ml[m]) { d = 1; m++ }
      }
    }'
  done
}
promo_csv >"$tmp/promo.csv"
"$kaizen" data import --kind timeseries --input "$tmp/promo.csv" --out "$tmp/promo" --series-id shop \
  --time day --label sales --known promo --valid-fraction 0.15 >/dev/null || fail "import promo"
job "$tmp/promo.yaml" "$tmp/promo" 21 7 7 150
sed -i 's/lr: 0.003/lr: 0.01/' "$tmp/promo.yaml"
out=$("$kaizen" train "$tmp/promo.yaml" --quiet 2>&1) || fail "train with categoricals: $out"
runc=$(echo "$out" | sed -n 's/.* run \(.*\)$/\1/p')
with=$(echo "$out" | sed -n 's/.*valid\/q_risk_p50=\([^ ]*\).*/\1/p')
job "$tmp/promo0.yaml" "$tmp/promo" 21 7 7 150 "known: []" "observed: []"
sed -i 's/lr: 0.003/lr: 0.01/' "$tmp/promo0.yaml"
out=$("$kaizen" train "$tmp/promo0.yaml" --quiet 2>&1) || fail "train without categoricals: $out"
without=$(echo "$out" | sed -n 's/.*valid\/q_risk_p50=\([^ ]*\).*/\1/p')
awk -v a="$with" -v b="$without" 'BEGIN { exit !(a + 0 > 0 && a < 0.3 * b) }' ||
  fail "the promo input does not help: q_risk_p50 $with with it, $without without"
evc=$("$kaizen" eval --model "$runc/model.kzm" --data "$tmp/promo" 2>&1) || fail "eval categoricals: $evc"
awk -v a="$with" -v b="$(echo "$evc" | metric q_risk_p50)" \
  'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * a) }' ||
  fail "eval of the saved categorical model: $evc, trainer said $with"
"$kaizen" predict --model "$runc/model.kzm" --data "$tmp/promo" --out "$tmp/promo_pred.csv" \
  2>"$tmp/e" || fail "predict categoricals: $(cat "$tmp/e")"
grep -q "carried forward" "$tmp/e" || fail "predict categoricals: no note: $(cat "$tmp/e")"
"$kaizen" predict --model "$runc/model.kzm" --data "$tmp/promo" --out "$tmp/promo_pred.csv" \
  --overwrite --quiet 2>"$tmp/e" || fail "predict --quiet: $(cat "$tmp/e")"
[ -s "$tmp/e" ] && fail "predict --quiet wrote notes: $(cat "$tmp/e")"
grep -q '"encoder":{"target":[0-9.e-]*,"relative_time":[0-9.e-]*,"weather":[0-9.e-]*,"promo":' \
  "$tmp/promo_pred.csv.interpret.json" || fail "categorical names: $(head -c 300 "$tmp/promo_pred.csv.interpret.json")"
grep -q '"decoder":{"relative_time":[0-9.e-]*,"promo":' "$tmp/promo_pred.csv.interpret.json" ||
  fail "categorical decoder names: $(head -c 400 "$tmp/promo_pred.csv.interpret.json")"

# ---- a series shorter than k + tau is skipped with a count; the others train --------------
{ shops_csv; for d in 01 02 03 04 05 06 07 08 09 10; do echo "c,2024-03-$d,120"; done; } \
  >"$tmp/shops3.csv"
"$kaizen" data import --kind timeseries --input "$tmp/shops3.csv" --out "$tmp/shops3" --series-id shop \
  --time day --label sales --valid-fraction 0.15 >/dev/null || fail "import shops3"
job "$tmp/shops3.yaml" "$tmp/shops3" 21 7 7 10 "calendar: [day_of_week]"
out=$("$kaizen" train "$tmp/shops3.yaml" --quiet 2>"$tmp/e") || fail "train with a short series: $(cat "$tmp/e")"
grep -q "note: tft: 1 of 3 series have fewer than encoder_length + horizon = 28 steps" "$tmp/e" ||
  fail "short series: no skip count: $(cat "$tmp/e")"
echo "$out" | grep -q "valid/q_risk_p50=" || fail "short series: no evaluation: $out"

# ---- bad jobs: exit 1, a clear message, no run directory -----------------------------------
bad() { # bad NAME NEEDLE FILE
  local name="$1" needle="$2" file="$3"
  rm -rf "$tmp/runs"
  if "$kaizen" train "$file" --quiet >/dev/null 2>"$tmp/bad.err"; then
    fail "$name: accepted"
  else
    grep -q -- "$needle" "$tmp/bad.err" || fail "$name: message: $(cat "$tmp/bad.err")"
  fi
  [ ! -d "$tmp/runs" ] || fail "$name: left a run directory"
}
job "$tmp/b1.yaml" "$tmp/tx" 24 6 12 5 "observed: [volume, no_such_column]"
bad "unknown observed column" "model.observed: 'no_such_column' is not a observed column" "$tmp/b1.yaml"
job "$tmp/b2.yaml" "$tmp/tx" 24 6 12 5 "known: [month, weekday]"
bad "unknown known column" "'weekday' is not a known column" "$tmp/b2.yaml"
job "$tmp/b3.yaml" "$tmp/tx" 400 6 12 5
bad "no window" "no training window" "$tmp/b3.yaml"
grep -q "46 of 46 series have fewer than" "$tmp/bad.err" || fail "no skip count: $(cat "$tmp/bad.err")"
job "$tmp/b5.yaml" "$tmp/tx" 24 6 12 5 "calendar: [month]"
bad "calendar on a numeric time" "calendar features need dates or datetimes" "$tmp/b5.yaml"
job "$tmp/b6.yaml" "$tmp/shops" 21 7 7 5 "calendar: [weekday]"
bad "unknown calendar feature" "'weekday' is not a calendar feature" "$tmp/b6.yaml"
job "$tmp/b7.yaml" "$tmp/taylor" 336 48 336 5 "cycles: [48, 1]"
bad "cycle of one step" "model.cycles\[1\]: 1, expected a period of >= 2 steps" "$tmp/b7.yaml"
job "$tmp/b8.yaml" "$tmp/tx" 24 6 12 5 "lags: [12, 3]"
bad "lag shorter than the horizon" "model.lags\[1\]: 3; a lag is a known input only from the horizon (6)" "$tmp/b8.yaml"
job "$tmp/b9.yaml" "$tmp/tx" 24 6 12 5 "transform: sqrt"
bad "unknown transform" "transform" "$tmp/b9.yaml"
job "$tmp/b10.yaml" "$tmp/tx" 24 6 12 5
# replay reads old windows through the model's columns: old data without them is refused
sed -i "/^train:/a\\  init_from: $tmp/tx_model.kzm\\n  continual:\\n    old_data: $tmp/taylor\\n    replay: 0.3" "$tmp/b10.yaml"
bad "continual replay of old data without the model's columns" "train.continual.old_data: $tmp/taylor: tft: the data set has no known column 'year'" "$tmp/b10.yaml"
job "$tmp/b4.yaml" "$tmp/tx" 24 6 12 5
sed -i 's/heads: 4/heads: 3/' "$tmp/b4.yaml"
bad "heads must divide hidden" "does not divide" "$tmp/b4.yaml"

[ "$fails" -eq 0 ] && echo "tft cli: all checks passed"
exit $((fails > 0))
