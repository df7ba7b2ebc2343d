#!/usr/bin/env bash
# Serving a TFT (docs/SERVING.md, "Forecasting models (TFT)") through real
# processes and real HTTP: small TFTs trained by `kaizen train` on txhousing
# and on a generated two-shop file with a known categorical and calendar
# features, `kaizen predict` to CSV, then `kaizen serve` on a free loopback
# port fed the same series' history as raw columns and as tensors:
#   - the forecasts equal predict's digit for digit when the request holds
#     the series predict ran together (same batch), and within 1e-6 relative
#     for other compositions (float32 matmuls sum in another order);
#   - a LoRA model (adapters merged when loaded) as predict forecasts;
#   - a series the model never saw, with a missing target in its window, is
#     forecast as predict forecasts it from an imported file (global scaling);
#   - future known values: carried forward by default (as predict), given
#     explicitly they change the forecast;
#   - the interpretation outputs (variable-selection weights, attention),
#     asked for by name, equal predict's F.interpret.json;
#   - dynamic batching across requests; outputs selection; metadata;
#   - bad requests (short history, missing column, wrong datatype, a value
#     that is not a number, times out of order, future values of the wrong
#     size, a static value that varies within a series, numbers for a
#     model that reads dates, unknown input, unknown model) get 400/404
#     with a message naming the series or column, the server keeps
#     serving, /metrics counts them;
#   - the in-process C API (test_serve_tft) gives the same numbers;
#   - SIGTERM: exit 0.
# usage: serve_tft.sh KAIZEN SHARED_DATA_DIR TMP TEST_SERVE_TFT
set -u
kaizen="$1" data="$2" tmp="$3" test_serve_tft="$4"
[ -f "$data/txhousing.csv" ] || { echo "skipped: $data/txhousing.csv not found"; exit 77; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "skipped: no /usr/bin/python3"; exit 77; }
rm -rf "$tmp" && mkdir -p "$tmp" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive

# ---- models and predict's forecasts ---------------------------------------------
"$kaizen" data import --kind timeseries --input "$data/txhousing.csv" --out "$tmp/tx" \
  --series-id city --time date --label sales --known year,month --valid-fraction 0.1 \
  >/dev/null || fail "import txhousing"
cat >"$tmp/tx.yaml" <<EOF
model: {type: tft, hidden: 16, heads: 4, encoder_length: 24, horizon: 6, season: 12}
data: {train: $tmp/tx}
train: {lr: 0.003, batch_size: 64, steps: 20, seed: 3, threads: 1}
output: {runs_dir: $tmp/runs, experiment: tft, run_id: tx}
EOF
"$kaizen" train "$tmp/tx.yaml" --quiet >/dev/null || fail "train txhousing"
tx="$tmp/runs/tft/tx/model.kzm"
"$kaizen" predict --model "$tx" --data "$tmp/tx" --out "$tmp/tx_pred.csv" --quiet ||
  fail "predict txhousing"

# a LoRA run on top of it: its model.kzm carries the adapters, merged when loaded
cat >"$tmp/lora.yaml" <<EOF
model: {type: tft, hidden: 16, heads: 4, encoder_length: 24, horizon: 6, season: 12,
        lora: {r: 4, alpha: 8, target_modules: [all-linear]}}
data: {train: $tmp/tx}
train: {lr: 0.003, batch_size: 64, steps: 10, seed: 5, threads: 1, init_from: $tx}
output: {runs_dir: $tmp/runs, experiment: tft, run_id: lora}
EOF
"$kaizen" train "$tmp/lora.yaml" --quiet >/dev/null || fail "train lora"
lora="$tmp/runs/tft/lora/model.kzm"
"$kaizen" predict --model "$lora" --data "$tmp/tx" --out "$tmp/lora_pred.csv" --quiet ||
  fail "predict lora"
cmp -s "$tmp/lora_pred.csv" "$tmp/tx_pred.csv" && fail "the LoRA run does not change the forecasts"

# one series the model never saw (Abilene's rows renamed), a missing target in its window
awk -F, 'NR == 1 { print; next } $1 == "\"Abilene\"" { n++; $1 = "\"Nowhere\""; if (n == 180) $4 = "NA"; print }' OFS=, \
  "$data/txhousing.csv" >"$tmp/nowhere.csv"
"$kaizen" data import --kind timeseries --input "$tmp/nowhere.csv" --out "$tmp/nowhere" \
  --series-id city --time date --label sales --known year,month --valid-fraction 0.1 \
  >/dev/null || fail "import nowhere"
"$kaizen" predict --model "$tx" --data "$tmp/nowhere" --out "$tmp/nowhere_pred.csv" --quiet ||
  fail "predict nowhere"

# two daily shops: a known categorical (promo), statics (region, size), dates, a calendar feature
awk 'BEGIN {
  print "shop,day,sales,promo,region,size"
  for (s = 0; s < 2; s++) {
    split("31 29 31 30 31 30 31", ml, " "); m = 1; d = 1
    for (i = 0; i < 120; i++) {
      on = (i * 7 + s * 3) % 5 < 2
      printf "%s,2024-%02d-%02d,%d,%s,%s,%d\n", s ? "b" : "a", m, d, 100 + (on ? 60 : 0) + 50 * s + i % 3, on ? "on" : "off", s ? "south" : "north", 40 + 25 * s
      if (++d > ml[m]) { d = 1; m++ }
    }
  }
}' >"$tmp/promo.csv"
"$kaizen" data import --kind timeseries --input "$tmp/promo.csv" --out "$tmp/promo" \
  --series-id shop --time day --label sales --known promo --static region,size --valid-fraction 0.15 \
  >/dev/null ||
  fail "import promo"
cat >"$tmp/promo.yaml" <<EOF
model: {type: tft, hidden: 16, heads: 4, encoder_length: 14, horizon: 7, season: 7,
        calendar: [day_of_week]}
data: {train: $tmp/promo}
train: {lr: 0.01, batch_size: 64, steps: 20, seed: 3, threads: 1}
output: {runs_dir: $tmp/runs, experiment: tft, run_id: promo}
EOF
"$kaizen" train "$tmp/promo.yaml" --quiet >/dev/null || fail "train promo"
promo="$tmp/runs/tft/promo/model.kzm"
"$kaizen" predict --model "$promo" --data "$tmp/promo" --out "$tmp/promo_pred.csv" --quiet ||
  fail "predict promo"

# ---- the in-process API ----------------------------------------------------------------
"$test_serve_tft" "$tx" "$data/txhousing.csv" "$tmp/tx_pred.csv" || fail "in-process TFT serving"

# ---- the server --------------------------------------------------------------------------
"$kaizen" serve --port 0 --port-file "$tmp/port" --model "tx=$tx" --model "promo=$promo" --model "lora=$lora" \
  --max-queue-delay-us 300000 >"$tmp/serve.out" 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null' EXIT
for _ in $(seq 1 200); do
  [ -s "$tmp/port" ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.1
done
[ -s "$tmp/port" ] || fail "serve did not start: $(cat "$tmp/serve.out")"

$py - "$tmp" "$(cat "$tmp/port")" "$data/txhousing.csv" <<'PY' || fail "HTTP checks"
import csv, json, sys, threading, urllib.request, urllib.error
tmp, port, tx_csv = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = f"http://127.0.0.1:{port}"
problems = []

def check(cond, what):
    if not cond:
        problems.append(what)
        print("problem:", what, file=sys.stderr)

def call(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read().decode()) if "metrics" not in path else r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())

def value(col, v, text=("city", "shop", "promo", "day", "region")):
    if v in ("", "NA"):
        return None
    if col in text:
        return v
    return int(v) if v.lstrip("-").isdigit() else float(v)

def table(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))

def columns(rows, names):
    return {c: [value(c, r[c]) for r in rows] for c in names}

def outputs(resp):
    return {t["name"]: t for t in resp["outputs"]}

def compare(resp, pred_csv, key, exact, what, series=None, alias=None):
    o = outputs(resp)
    want = {}
    for w in table(pred_csv):
        want.setdefault(w[key], []).append(w)
    S, tau = o["p50"]["shape"]
    names = o["series"]["data"]
    check(series is None or names == series, f"{what}: series {names}, expected {series}")
    worst = 0.0
    for s, name in enumerate(names):
        rows = want.get(alias or name)  # predict names a series it never saw "?"
        if not rows or len(rows) != tau:
            check(False, f"{what}: predict has no forecast for {name}")
            continue
        for h in range(tau):
            check("%.17g" % o["time"]["data"][s * tau + h] == rows[h]["time"] or
                  abs(o["time"]["data"][s * tau + h] - float(rows[h]["time"])) == 0,
                  f"{what}: {name} step {h + 1} time {o['time']['data'][s * tau + h]} vs {rows[h]['time']}")
            for q in (k for k in o if k.startswith("p")):
                got, ref = o[q]["data"][s * tau + h], rows[h][q]
                if exact:
                    check("%.9g" % got == ref, f"{what}: {name} step {h + 1} {q}: {got!r} vs {ref}")
                else:
                    worst = max(worst, abs(got - float(ref)) / max(abs(float(ref)), 1e-30))
    check(worst <= 1e-6, f"{what}: relative difference {worst:g} over 1e-6")
    return names

tx_cols = ["city", "date", "sales", "year", "month", "volume", "median", "listings", "inventory"]
tx_rows = table(tx_csv)
cities = list(dict.fromkeys(r["city"] for r in tx_rows))

# ---- metadata
code, meta = call("/v2/models/tx")
check(code == 200 and meta["platform"] == "kaizen_tft", f"metadata: {code} {meta}")
ins = {t["name"]: t for t in meta["inputs"]}
for c in tx_cols:
    check(c in ins, f"metadata: no input {c}")
check(ins["city"]["parameters"]["role"] == "series" and ins["city"]["parameters"]["optional"],
      f"metadata city: {ins.get('city')}")
check(ins["future:year"]["shape"] == [-1, 6] and ins["future:year"]["parameters"]["optional"],
      f"metadata future:year: {ins.get('future:year')}")
outs = {t["name"]: t for t in meta["outputs"]}
check(list(outs) == ["series", "time", "p10", "p50", "p90", "static_weights", "encoder_weights",
                     "decoder_weights", "attention"], f"metadata outputs: {list(outs)}")
check(outs["attention"]["shape"] == [6, 30] and outs["attention"]["parameters"]["default"] is False,
      f"metadata attention: {outs['attention']}")
check(outs["p50"]["shape"] == [-1, 6] and outs["p50"]["datatype"] == "FP64", f"p50: {outs['p50']}")
p = meta["parameters"]
check(p["encoder_length"] == 24 and p["horizon"] == 6 and p["quantiles"] == [0.1, 0.5, 0.9],
      f"metadata parameters: {p}")
code, pm = call("/v2/models/promo")
pins = {t["name"]: t for t in pm["inputs"]}
check(sorted(pins["promo"]["parameters"]["categories"]) == ["off", "on"],
      f"promo categories: {pins['promo']}")
check(pins["region"]["parameters"]["role"] == "static" and
      sorted(pins["region"]["parameters"]["categories"]) == ["north", "south"] and
      pins["size"]["parameters"]["role"] == "static", f"statics: {pins.get('region')} {pins.get('size')}")

ok = 0
# ---- every series, every row, as raw columns: predict's batch, predict's digits
code, resp = call("/v2/models/tx/infer", {"id": "all", "columns": columns(tx_rows, tx_cols)})
check(code == 200, f"all series: {code} {resp}")
ok += code == 200
if code == 200:
    check(resp.get("id") == "all", "id not echoed")
    compare(resp, tmp + "/tx_pred.csv", "city", True, "all series", cities)

# the interpretation, asked for by name: the request runs alone, so with predict's series it is
# predict's F.interpret.json (6 digits there) and its forecasts predict's digits
interp_names = ["static_weights", "encoder_weights", "decoder_weights", "attention"]
code, resp = call("/v2/models/tx/infer", {"columns": columns(tx_rows, tx_cols),
                                          "outputs": [{"name": n} for n in ["series", "time", "p50"] + interp_names]})
check(code == 200, f"interpretation: {code} {resp}")
ok += code == 200
if code == 200:
    compare(resp, tmp + "/tx_pred.csv", "city", True, "interpretation's forecasts", cities)
    o = outputs(resp)
    ref = json.load(open(tmp + "/tx_pred.csv.interpret.json"))
    for key, part in (("static_weights", "static"), ("encoder_weights", "encoder"),
                      ("decoder_weights", "decoder")):
        names = outs[key]["parameters"]["variables"]
        check(names == list(ref[part]), f"{key}: variables {names}, predict's {list(ref[part])}")
        got = [float("%.6g" % v) for v in o[key]["data"]]
        check(o[key]["shape"] == [len(names)] and got == list(ref[part].values()),
              f"{key}: {got} vs {list(ref[part].values())}")
    att = [float("%.6g" % v) for v in o["attention"]["data"]]
    want_att = [v for row in ref["attention"]["weights"] for v in row]
    check(o["attention"]["shape"] == [6, 30] and att == want_att, "attention differs from predict's")

# the same as tensors: BYTES, FP64, FP32 and INT64, flat and [rows, 1]
def tensor(name, dt, vals, nested=False):
    data = [[v] for v in vals] if nested else vals
    return {"name": name, "datatype": dt, "shape": [len(vals), 1] if nested else [len(vals)],
            "data": data}
cols = columns(tx_rows, tx_cols)
inputs = [tensor("city", "BYTES", cols["city"]), tensor("date", "FP64", cols["date"], True),
          tensor("sales", "FP32", cols["sales"]), tensor("year", "INT64", cols["year"]),
          tensor("month", "FP64", cols["month"], True)]
inputs += [tensor(c, "FP64", cols[c]) for c in ("volume", "median", "listings", "inventory")]
code, resp_t = call("/v2/models/tx/infer", {"inputs": inputs})
check(code == 200, f"tensors: {code} {resp_t}")
ok += code == 200
if code == 200:
    compare(resp_t, tmp + "/tx_pred.csv", "city", True, "tensors", cities)

# three series, their last 30 rows only, interleaved: series in order of first appearance;
# another batch size, so within 1e-6 (float32 sums in another order)
pick = ["Waco", "Austin", "Abilene"]
last = {c: [r for r in tx_rows if r["city"] == c][-30:] for c in pick}
mixed = [last[c][i] for i in range(30) for c in pick]
code, resp = call("/v2/models/tx/infer", {"columns": columns(mixed, tx_cols)})
check(code == 200, f"three series: {code} {resp}")
ok += code == 200
if code == 200:
    compare(resp, tmp + "/tx_pred.csv", "city", False, "three series", pick)

# outputs selection
code, resp = call("/v2/models/tx/infer", {"columns": columns(last["Waco"], tx_cols),
                                          "outputs": [{"name": "p50"}, {"name": "series"}]})
ok += code == 200
check(code == 200 and [t["name"] for t in resp["outputs"]] == ["p50", "series"],
      f"outputs selection: {code} {resp}")

# a series the model never saw, a missing target in its window: as predict on an import
nowhere = table(tmp + "/nowhere.csv")
code, resp = call("/v2/models/tx/infer", {"columns": columns(nowhere, tx_cols)})
ok += code == 200
check(code == 200, f"unseen series: {code} {resp}")
if code == 200:
    compare(resp, tmp + "/nowhere_pred.csv", "city", True, "unseen series", ["Nowhere"], "?")

# dynamic batching: four requests at once (the first waits 300 ms for company)
code, before = call("/metrics")
def exec_count(text, model):
    for line in text.splitlines():
        if line.startswith(f'nv_inference_exec_count{{model="{model}"'):
            return int(line.split()[-1])
results = [None] * 4
def one(i):  # the last one asks for the interpretation too: it runs alone within the batch
    body = {"columns": columns(last[pick[i % 3]], tx_cols)}
    if i == 3:
        body["outputs"] = [{"name": n} for n in ["series", "time", "p50", "p90", "encoder_weights"]]
    results[i] = call("/v2/models/tx/infer", body)
threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
for i, (code, resp) in enumerate(results):
    ok += code == 200
    check(code == 200, f"concurrent {i}: {code} {resp}")
    if code == 200:
        compare(resp, tmp + "/tx_pred.csv", "city", False, f"concurrent {i}", [pick[i % 3]])
        w = outputs(resp).get("encoder_weights", {}).get("data", [1])
        check(i < 3 or abs(sum(w) - 1) < 1e-5, f"concurrent {i}: encoder weights sum to {sum(w)}")
code, after = call("/metrics")
runs = exec_count(after, "tx") - exec_count(before, "tx")
check(1 <= runs < 4, f"four concurrent requests ran in {runs} model calls (no batching)")

# a TFT LoRA model: predict's digits too
code, resp = call("/v2/models/lora/infer", {"columns": columns(tx_rows, tx_cols)})
check(code == 200, f"lora: {code} {resp}")
if code == 200:
    compare(resp, tmp + "/lora_pred.csv", "city", True, "lora", cities)

# ---- the promo model: dates, a calendar feature, a known categorical
promo_cols = ["shop", "day", "sales", "promo", "region", "size"]
prow = table(tmp + "/promo.csv")
code, resp = call("/v2/models/promo/infer", {"columns": columns(prow, promo_cols)})
ok += code == 200
check(code == 200, f"promo: {code} {resp}")
if code == 200:
    compare(resp, tmp + "/promo_pred.csv", "shop", True, "promo", ["a", "b"])
# future known values: the last ones repeated = carried forward = predict's
lastp = {s: [r for r in prow if r["shop"] == s][-1]["promo"] for s in ("a", "b")}
body = {"columns": columns(prow, promo_cols)}
body["columns"]["future:promo"] = [lastp["a"]] * 7 + [lastp["b"]] * 7
code, resp = call("/v2/models/promo/infer", body)
ok += code == 200
check(code == 200, f"promo future: {code} {resp}")
if code == 200:
    compare(resp, tmp + "/promo_pred.csv", "shop", True, "promo, future carried", ["a", "b"])
p50 = {}
for v in ("on", "off"):
    body["columns"]["future:promo"] = [v] * 14
    code, resp = call("/v2/models/promo/infer", body)
    ok += code == 200
    check(code == 200, f"promo future {v}: {code} {resp}")
    p50[v] = outputs(resp)["p50"]["data"] if code == 200 else None
check(p50["on"] != p50["off"], "future promo values do not change the forecast")

# ---- bad requests: 400/404 naming the series or column; the server keeps serving
short = columns(last["Waco"][-5:] + last["Austin"], tx_cols)
bad = [
    ("short history", "/v2/models/tx/infer", {"columns": short}, 400,
     "series 'Waco' has 5 history rows; the model needs at least its encoder_length, 24"),
    ("missing column", "/v2/models/tx/infer",
     {"columns": {k: v for k, v in columns(last["Waco"], tx_cols).items() if k != "inventory"}},
     400, "missing input 'inventory'"),
    ("wrong datatype", "/v2/models/tx/infer",
     {"inputs": [tensor("city", "FP32", [1.0] * 30)] + inputs[1:]}, 400,
     "input 'city' is categorical"),
    ("not a number", "/v2/models/tx/infer",
     {"columns": dict(columns(last["Waco"], tx_cols), sales=["many"] * 30)}, 400,
     "input 'sales': row 0: 'many' is not a number"),
    ("time order", "/v2/models/tx/infer",
     {"columns": dict(columns(last["Waco"], tx_cols), date=[2010 - i for i in range(30)])}, 400,
     "series 'Waco': row 1: time"),
    ("future size", "/v2/models/promo/infer",
     {"columns": dict(columns(prow, promo_cols), **{"future:promo": ["on"] * 5})}, 400,
     "input 'future:promo': 5 values"),
    ("static varies", "/v2/models/promo/infer",
     {"columns": dict(columns(prow, promo_cols), size=[40] * 100 + [41] + [40] * 19 + [65] * 120)},
     400, "input 'size': row 100: series 'a' has '41' here but '40' at row 0; a static column"),
    ("numbers for dates", "/v2/models/promo/infer",
     {"columns": dict(columns(prow, promo_cols), day=list(range(len(prow))))}, 400,
     "input 'day': row 0: '0' is a number; the model reads calendar features from dates"),
    ("unknown input", "/v2/models/tx/infer", {"inputs": inputs + [tensor("nope", "FP32", [1.0])]},
     400, "has no input 'nope'"),
    ("unknown model", "/v2/models/nope/infer", {"columns": short}, 404, "not loaded"),
]
for what, path, body, want_code, needle in bad:
    code, resp = call(path, body)
    check(code == want_code and needle in resp.get("error", ""), f"{what}: {code} {resp}")
code, resp = call("/v2/models/tx/infer", {"columns": columns(last["Waco"], tx_cols)})
ok += code == 200
check(code == 200, f"after the bad requests: {code} {resp}")

code, text = call("/metrics")
def metric(name, model, extra=""):
    for line in text.splitlines():
        if line.startswith(f'{name}{{model="{model}",version="1"{extra}}}'):
            return int(line.split()[-1])
tx_ok = ok - 4  # the promo requests
check(metric("nv_inference_request_success", "tx") == tx_ok,
      f"success {metric('nv_inference_request_success', 'tx')}, expected {tx_ok}")
other = ',reason="OTHER"'
check(metric("nv_inference_request_failure", "tx", other) == 6,
      f"tx failures: {metric('nv_inference_request_failure', 'tx', other)}, expected 6")
check(metric("nv_inference_request_failure", "promo", other) == 3, "promo failures")
check(metric("nv_inference_request_failure", "tx", ',reason="BACKEND"') == 0, "backend failures")

if problems:
    print(f"{len(problems)} problems", file=sys.stderr)
    sys.exit(1)
print("serve tft: all HTTP checks passed")
PY

kill -TERM $pid
wait $pid || fail "serve: exit status $? after SIGTERM"
echo "serve tft: all checks passed"
