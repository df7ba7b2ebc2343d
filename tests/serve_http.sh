#!/usr/bin/env bash
# kaizen serve through real processes and real HTTP (docs/SERVING.md): a GBDT
# and a linear model trained on diamonds and an MLP trained on pima2 by
# `kaizen train`, served on a free loopback port; answers must equal `kaizen predict --input` on the
# same rows digit for digit (raw columns and tensors, flat and nested, one row
# and a batch, by version); health, metadata, metrics, the request log; every
# error path (bad JSON, wrong shape, wrong dtype, unknown model, body too
# large, missing or wrong token, wrong method, unknown route, a full queue);
# 64 clients in parallel; 1000 idle connections held open; connections past
# the limit wait; an idle connection closed after the request timeout; SIGTERM with
# requests in flight drains them and exits 0.
# Usage: serve_http.sh KAIZEN SHARED_DATA_DIR TMP
set -u
kaizen="$1"
data="$2"
tmp="$3"
[ -f "$data/diamonds.csv" ] && [ -f "$data/pima2.csv" ] ||
  { echo "skipped: $data/diamonds.csv or pima2.csv not found"; exit 77; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "skipped: no /usr/bin/python3"; exit 77; }
rm -rf "$tmp" && mkdir -p "$tmp" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

# ---- models -------------------------------------------------------------------
head -n 4001 "$data/diamonds.csv" >"$tmp/diamonds_train.csv"
{ head -n 1 "$data/diamonds.csv"; sed -n '40001,40200p' "$data/diamonds.csv"; } >"$tmp/diamonds_new.csv"
head -n 601 "$data/pima2.csv" >"$tmp/pima_train.csv"
{ head -n 1 "$data/pima2.csv"; sed -n '602,769p' "$data/pima2.csv"; } >"$tmp/pima_new.csv"
"$kaizen" data import --kind tabular --input "$tmp/diamonds_train.csv" --out "$tmp/diamonds" \
  --label price >/dev/null || fail "import diamonds"
"$kaizen" data import --kind tabular --input "$tmp/pima_train.csv" --out "$tmp/pima" \
  --label diabetes --label-type categorical >/dev/null || fail "import pima2"
cat >"$tmp/gbdt.yaml" <<EOF
model: {type: gbdt, num_round: 30, max_depth: 4}
data: {train: $tmp/diamonds}
train: {seed: 1}
output: {runs_dir: $tmp/runs, experiment: s, run_id: gbdt}
EOF
cat >"$tmp/mlp.yaml" <<EOF
model: {type: mlp, hidden: [16]}
data: {train: $tmp/pima}
train: {seed: 1, epochs: 5, batch_size: 32, lr: 0.01}
output: {runs_dir: $tmp/runs, experiment: s, run_id: mlp}
EOF
"$kaizen" train "$tmp/gbdt.yaml" --quiet >/dev/null || fail "train gbdt"
"$kaizen" train "$tmp/mlp.yaml" --quiet >/dev/null || fail "train mlp"
cat >"$tmp/linear.yaml" <<EOF
model: {type: linear}
data: {train: $tmp/diamonds}
train: {seed: 1, epochs: 2, batch_size: 64, lr: 0.01}
output: {runs_dir: $tmp/runs, experiment: s, run_id: linear}
EOF
"$kaizen" train "$tmp/linear.yaml" --quiet >/dev/null || fail "train linear"
linear="$tmp/runs/s/linear/model.kzm"
"$kaizen" predict --model "$linear" --input "$tmp/diamonds_new.csv" --out "$tmp/linear_pred.csv" \
  --quiet || fail "predict linear"
gbdt="$tmp/runs/s/gbdt/model.json"
mlp="$tmp/runs/s/mlp/model.kzm"
"$kaizen" predict --model "$gbdt" --input "$tmp/diamonds_new.csv" --out "$tmp/gbdt_pred.csv" \
  --quiet || fail "predict gbdt"
"$kaizen" predict --model "$mlp" --input "$tmp/pima_new.csv" --out "$tmp/mlp_pred.csv" \
  --quiet || fail "predict mlp"

# ---- servers --------------------------------------------------------------------
printf 'sekrit-%s\n' "$RANDOM$RANDOM" >"$tmp/token"
chmod 600 "$tmp/token"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; }
trap cleanup EXIT
start() { # name, then kaizen serve arguments
  local name="$1"
  shift
  "$kaizen" serve --port 0 --port-file "$tmp/$name.port" "$@" >"$tmp/$name.out" 2>&1 &
  pids+=($!)
  eval "${name}_pid=$!"
  for _ in $(seq 1 200); do
    [ -s "$tmp/$name.port" ] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  cat "$tmp/$name.out"
  fail "server $name did not start"
}
start main --model "diamonds=$gbdt" --model "pima=$mlp:3" --model "linear=$linear" \
  --token-file "$tmp/token" \
  --log "$tmp/requests.log" --max-body-bytes 300000 --max-queue-delay-us 2000
start tiny --model "diamonds=$gbdt" --max-queue-size 1 --max-queue-delay-us 600000 \
  --max-connections 32 --threads 1
cat >"$tmp/idle.yaml" <<EOF
server: {host: 127.0.0.1, port: 8000, request_timeout_s: 1, threads: 2}
batching: {max_batch_size: 7, max_queue_delay_us: 100}
models: ["diamonds=$gbdt:4"]
EOF
start idle --config "$tmp/idle.yaml" --port 0

$py - "$tmp" "$(cat "$tmp/main.port")" "$(cat "$tmp/tiny.port")" "$(cat "$tmp/idle.port")" \
  <<'PY' || fail "HTTP checks"
import csv, json, socket, sys, threading, time, urllib.request, urllib.error
tmp, port, tiny_port, idle_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
token = open(tmp + "/token").read().strip()
base = f"http://127.0.0.1:{port}"
problems = []

def check(cond, what):
    if not cond:
        problems.append(what)
        print("problem:", what, file=sys.stderr)

def call(path, body=None, method=None, auth=True, raw=None, host=None):
    url = (host or base) + path
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method)
    if auth:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read().decode()
            return r.status, text
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def jcall(*a, **k):
    code, text = call(*a, **k)
    try:
        return code, json.loads(text)
    except ValueError:
        return code, text

def rows_of(path):
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    return r[0], r[1:]

def cell(v):  # a CSV cell as a JSON value: number, category string, null for NA
    if v in ("", "NA"):
        return None
    try:
        return int(v)
    except ValueError:
        pass
    try:
        return float(v)
    except ValueError:
        return v

def predicted(path):
    head, rows = rows_of(path)
    return head, [",".join(r) for r in rows]

def lines(resp, names):
    outs = {o["name"]: o for o in resp["outputs"]}
    n = len(outs[names[0]]["data"])
    return [",".join(format(outs[k]["data"][i], ".9g") for k in names) for i in range(n)]

# ---- health, metadata, auth ----------------------------------------------------
check(jcall("/v2/health/live", auth=False) == (200, {"live": True}), "live")
check(jcall("/v2/health/ready", auth=False) == (200, {"ready": True}), "ready")
code, body = jcall("/v2", auth=False)
check(code == 401 and "bearer token" in body["error"], f"no token: {code} {body}")
req = urllib.request.Request(base + "/v2", headers={"Authorization": "Bearer wrong"})
try:
    urllib.request.urlopen(req)
    check(False, "wrong token accepted")
except urllib.error.HTTPError as e:
    check(e.code == 401 and e.headers.get("WWW-Authenticate") == "Bearer", "wrong token")
code, body = jcall("/v2")
check(code == 200 and body["name"] == "kaizen" and
      {(m["name"], m["version"]) for m in body["models"]} ==
      {("diamonds", "1"), ("pima", "3"), ("linear", "1")},
      f"server metadata {body}")
code, meta = jcall("/v2/models/diamonds")
check(code == 200 and meta["platform"] == "kaizen_gbdt", f"model metadata {meta}")
ins = {t["name"]: t for t in meta["inputs"]}
check(ins["carat"]["datatype"] == "FP32" and ins["cut"]["datatype"] == "BYTES" and
      "Ideal" in ins["cut"]["parameters"]["categories"] and "price" not in ins,
      f"inputs {meta['inputs']}")
check([o["name"] for o in meta["outputs"]] == ["price"], f"outputs {meta['outputs']}")
check(jcall("/v2/models/pima/versions/3")[0] == 200, "metadata by version")
check(jcall("/v2/models/pima/versions/3/ready") == (200, {"name": "pima", "ready": True}), "ready v3")
check(jcall("/v2/models/pima/versions/2/ready")[0] == 404, "ready v2 (absent)")
check(jcall("/v2/models/nope/ready")[0] == 404, "unknown model ready")

# ---- answers equal kaizen predict ------------------------------------------------
# numeric inputs as FP64, FP32, and BYTES holding the numbers as text
for model, new, pred, numeric_as in (("diamonds", "diamonds_new.csv", "gbdt_pred.csv", "FP64"),
                                     ("pima", "pima_new.csv", "mlp_pred.csv", "FP32"),
                                     ("linear", "diamonds_new.csv", "linear_pred.csv", "BYTES")):
    head, rows = rows_of(f"{tmp}/{new}")
    out_names, want = predicted(f"{tmp}/{pred}")
    cols = {h: [cell(r[i]) for r in rows] for i, h in enumerate(head)}
    code, resp = jcall(f"/v2/models/{model}/infer", {"id": "batch-1", "columns": cols})
    check(code == 200 and resp.get("id") == "batch-1", f"{model} columns: {code} {resp}")
    if code == 200:
        got = lines(resp, out_names)
        bad = [i for i in range(len(want)) if got[i] != want[i]]
        check(not bad, f"{model} columns differ from kaizen predict at rows {bad[:5]}")
    # tensors, nested [n, 1], numbers typed, categories as BYTES; the label left out
    mmeta = jcall(f"/v2/models/{model}")[1]
    tensors = []
    for t in mmeta["inputs"]:
        vals = cols[t["name"]]
        if t["datatype"] == "BYTES":
            tensors.append({"name": t["name"], "datatype": "BYTES", "shape": [len(vals)],
                            "data": [None if v is None else str(v) for v in vals]})
        else:
            text = numeric_as == "BYTES"
            tensors.append({"name": t["name"], "datatype": numeric_as, "shape": [len(vals), 1],
                            "data": [[str(v) if text and v is not None else v] for v in vals]})
    path = f"/v2/models/{model}/versions/{mmeta['version']}/infer"
    code, resp = jcall(path, {"inputs": tensors})
    check(code == 200, f"{model} tensors: {code} {resp}")
    if code == 200:
        got = lines(resp, out_names)
        bad = [i for i in range(len(want)) if got[i] != want[i]]
        check(not bad, f"{model} tensors differ from kaizen predict at rows {bad[:5]}")
    # one row, one output asked for
    one = {k: v[:1] for k, v in cols.items()}
    code, resp = jcall(f"/v2/models/{model}/infer",
                       {"columns": one, "outputs": [{"name": out_names[-1]}]})
    check(code == 200 and len(resp["outputs"]) == 1 and
          format(resp["outputs"][0]["data"][0], ".9g") == want[0].split(",")[-1],
          f"{model} one row: {resp}")

# ---- errors ------------------------------------------------------------------------
diamond = {"carat": [0.3], "cut": ["Ideal"], "color": ["E"], "clarity": ["SI1"], "depth": [61.0],
           "table": [55], "x": [4.3], "y": [4.3], "z": [2.7]}
def tensors_of(cols, **over):
    ts = [{"name": k, "datatype": "BYTES" if isinstance(v[0], str) else "FP64", "shape": [len(v)],
           "data": v} for k, v in cols.items()]
    for t in ts:
        t.update(over.get(t["name"], {}))
    return {"inputs": ts}
cases = [
    ("malformed JSON", "/v2/models/diamonds/infer", b'{"inputs": [', 400, "malformed JSON"),
    ("not an object", "/v2/models/diamonds/infer", b"[1,2]", 400, "must be a JSON object"),
    ("NaN literal", "/v2/models/diamonds/infer",
     b'{"columns": {"carat": [NaN]}}', 400, "malformed JSON"),
    ("wrong shape", "/v2/models/diamonds/infer",
     json.dumps(tensors_of(diamond, carat={"shape": [3]})).encode(), 400,
     "the shape holds 3 elements, 'data' has 1"),
    ("huge shape", "/v2/models/diamonds/infer",
     json.dumps(tensors_of(diamond, carat={"shape": [1 << 40, 1 << 40]})).encode(), 400,
     "the shape holds too many elements"),
    ("large shape", "/v2/models/diamonds/infer",
     json.dumps(tensors_of(diamond, carat={"shape": [1 << 40]})).encode(), 400,
     "the shape holds 1099511627776 elements, 'data' has 1"),
    ("rows disagree", "/v2/models/diamonds/infer",
     json.dumps(tensors_of(dict(diamond, carat=[0.3, 0.4]))).encode(), 400, "has 1 rows"),
    ("wrong dtype", "/v2/models/diamonds/infer",
     json.dumps(tensors_of(diamond, cut={"datatype": "FP32", "data": [1.0]})).encode(), 400,
     "input 'cut' is categorical"),
    ("string in FP64", "/v2/models/diamonds/infer",
     json.dumps(tensors_of(diamond, carat={"data": ["0.3"]})).encode(), 400,
     "element 0 is a string, not a FP64 value"),
    ("unknown dtype", "/v2/models/diamonds/infer",
     json.dumps(tensors_of(diamond, carat={"datatype": "FP16"})).encode(), 400, "'datatype'"),
    ("missing input", "/v2/models/diamonds/infer",
     json.dumps({"columns": {k: v for k, v in diamond.items() if k != "depth"}}).encode(), 400,
     "missing input 'depth'"),
    ("not a number", "/v2/models/diamonds/infer",
     json.dumps({"columns": dict(diamond, carat=["heavy"])}).encode(), 400,
     "column 'carat': 'heavy' is not a number"),
    ("unknown model", "/v2/models/nope/infer", json.dumps({"columns": diamond}).encode(), 404,
     "model 'nope' is not loaded"),
    ("unknown version", "/v2/models/diamonds/versions/9/infer",
     json.dumps({"columns": diamond}).encode(), 404, "version 9 is not loaded"),
    ("bad version", "/v2/models/diamonds/versions/x/infer", b"{}", 400, "positive integer"),
    ("unknown route", "/v2/nothing", None, 404, "no such route"),
]
for name, path, raw, want_code, needle in cases:
    code, body = jcall(path, raw=raw, method="POST" if raw is not None else "GET")
    msg = body.get("error", "") if isinstance(body, dict) else str(body)
    check(code == want_code and needle in msg, f"{name}: {code} {body}")
check(jcall("/v2/models/diamonds/infer")[0] == 405, "GET on infer")
check(jcall("/v2/models/diamonds", raw=b"{}", method="POST")[0] == 405, "POST on metadata")
big = b'{"columns": {"carat": [' + b"1.0," * 100000 + b'1.0]}}'
code, body = jcall("/v2/models/diamonds/infer", raw=big)
check(code == 413 and "larger than the limit of 300000 bytes" in body["error"], f"413: {code}")
check(jcall("/v2/health/live", auth=False)[0] == 200, "still serving after the errors")

# ---- many clients at once ----------------------------------------------------------
head, rows = rows_of(f"{tmp}/diamonds_new.csv")
_, want = predicted(f"{tmp}/gbdt_pred.csv")
errors = []
def client(k):
    for j in range(20):
        i = (k * 20 + j) % len(rows)
        one = {h: [cell(rows[i][c])] for c, h in enumerate(head)}
        code, resp = jcall("/v2/models/diamonds/infer", {"columns": one})
        if code != 200 or lines(resp, ["price"])[0] != want[i]:
            errors.append((k, j, code))
threads = [threading.Thread(target=client, args=(k,)) for k in range(64)]
[t.start() for t in threads]
[t.join() for t in threads]
check(not errors, f"parallel clients: {len(errors)} errors, first {errors[:3]}")

# ---- 1000 idle connections held open: still serving -------------------------------
socks = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    socks.append(s)
code, resp = jcall("/v2/models/diamonds/infer", {"columns": diamond})
check(code == 200, f"with 1000 idle connections: {code}")
for s in socks:
    s.close()
# past the limit (tiny: --max-connections 32): the rest wait, unanswered, in
# the listen backlog until connections close; then it serves again
socks, answered = [], 0
for _ in range(64):
    s = socket.create_connection(("127.0.0.1", tiny_port))
    s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
time.sleep(0.5)
for s in socks:
    s.settimeout(0.05)
    try:
        answered += bool(s.recv(100))
    except OSError:
        pass
for s in socks:
    s.close()
check(answered == 32, f"connections past the limit: {answered} of 64 answered (limit 32)")
check(jcall("/v2/health/live", auth=False, host=f"http://127.0.0.1:{tiny_port}")[0] == 200,
      "serving after refusing connections")

# ---- a server from a config file (flags over it: --port 0) ---------------------------
code, meta = jcall("/v2/models/diamonds/versions/4", auth=False, host=f"http://127.0.0.1:{idle_port}")
check(code == 200 and meta["parameters"]["max_batch_size"] == 7 and
      meta["parameters"]["max_queue_delay_us"] == 100, f"config: {code} {meta}")

# ---- an idle connection is closed after the request timeout (idle: 1 s) ----------
s = socket.create_connection(("127.0.0.1", idle_port))
s.sendall(b"GET /v2/health/live HTTP/1.1\r\n")  # and then nothing
s.settimeout(10)
t0 = time.time()
try:
    closed = s.recv(100) == b""
except OSError:
    closed = True
check(closed and time.time() - t0 < 5, f"idle connection: closed {closed} after {time.time() - t0:.1f} s")
s.close()

# ---- a full queue: rejected at once with 503 --------------------------------------
tiny = f"http://127.0.0.1:{tiny_port}"
results = []
def tiny_call():
    results.append(jcall("/v2/models/diamonds/infer", {"columns": diamond}, auth=False, host=tiny))
first = threading.Thread(target=tiny_call)
first.start()
time.sleep(0.2)  # the first waits 600 ms in the queue for company
code, body = jcall("/v2/models/diamonds/infer", {"columns": diamond}, auth=False, host=tiny)
check(code == 503 and "the queue is full" in body["error"], f"queue full: {code} {body}")
first.join()
check(results and results[0][0] == 200, f"the queued request: {results}")
code, text = call("/metrics", auth=False, host=tiny)
check('nv_inference_request_failure{model="diamonds",version="1",reason="REJECTED"} 1' in text,
      "REJECTED counted")

# ---- metrics and the log ------------------------------------------------------------
code, text = call("/metrics")
check(code == 200, "metrics")
vals = {}
for line in text.splitlines():
    if line and not line.startswith("#"):
        k, v = line.rsplit(" ", 1)
        vals[k] = float(v)
ok = vals.get('nv_inference_request_success{model="diamonds",version="1"}', -1)
check(ok == 3 + 64 * 20 + 1, f"diamonds successes {ok}")
check(vals.get('nv_inference_count{model="diamonds",version="1"}', -1) == 200 * 2 + 1 + 1280 + 1,
      "diamonds rows")
check(0 < vals.get('nv_inference_exec_count{model="diamonds",version="1"}', 0) <= ok, "exec count")
# rows disagree, wrong dtype, missing input: parsed, then refused (the rest never parse)
other = 'nv_inference_request_failure{model="diamonds",version="1",reason="OTHER"}'
check(vals.get(other) == 3, f"OTHER failures {vals.get(other)}")
check(vals.get('nv_inference_request_failure{model="diamonds",version="1",reason="BACKEND"}') == 1,
      "BACKEND failures")
check(vals.get('kaizen_http_responses{code="401"}', 0) >= 2, "401 counted")
check(vals.get('kaizen_http_responses{code="413"}', 0) == 1, "413 counted")
for fam in ("nv_inference_request_duration_us", "nv_inference_queue_duration_us",
            "nv_inference_compute_infer_duration_us"):
    check(vals.get(fam + '{model="diamonds",version="1"}', 0) > 0, fam)
log = [json.loads(l) for l in open(tmp + "/requests.log")]
check(len(log) >= 1300, f"log lines {len(log)}")
check(all({"ts", "id", "method", "path", "status", "duration_us"} <= set(e) for e in log), "log keys")
infer = [e for e in log if e["path"].endswith("/infer") and e["status"] == 200]
check(infer and all("rows" in e and "queue_us" in e for e in infer), "infer log entries")
raw_log = open(tmp + "/requests.log").read()
check("Ideal" not in raw_log and "batch-1" not in raw_log and token not in raw_log,
      "the log holds payload or the token")
if problems:
    sys.exit(1)
print("ok: http checks")
PY

# ---- SIGTERM: requests in flight answered, exit 0 --------------------------------
# (this one takes its token from KZ_SERVE_TOKEN)
KZ_SERVE_TOKEN=env-token start drain --model "diamonds=$gbdt" --max-queue-delay-us 800000
port=$(cat "$tmp/drain.port")
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2")
[ "$code" = 401 ] || fail "KZ_SERVE_TOKEN: no token got $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer env-token" "http://127.0.0.1:$port/v2")
[ "$code" = 200 ] || fail "KZ_SERVE_TOKEN: the token got $code"
body='{"columns": {"carat": [0.3], "cut": ["Ideal"], "color": ["E"], "clarity": ["SI1"], "depth": [61.0], "table": [55], "x": [4.3], "y": [4.3], "z": [2.7]}}'
curl -s -o "$tmp/drain.json" -w '%{http_code}' -X POST --data "$body" -H "Authorization: Bearer env-token" \
  "http://127.0.0.1:$port/v2/models/diamonds/infer" >"$tmp/drain.code" &
cpid=$!
sleep 0.3
kill -TERM "$drain_pid"
wait "$cpid"
wait "$drain_pid"
rc=$?
[ "$rc" = 0 ] || fail "drain: kaizen serve exited $rc: $(cat "$tmp/drain.out")"
[ "$(cat "$tmp/drain.code")" = 200 ] || fail "drain: in-flight request got $(cat "$tmp/drain.code")"
grep -q '"model_name":"diamonds"' "$tmp/drain.json" || fail "drain: answer $(cat "$tmp/drain.json")"
grep -q "SIGTERM: draining" "$tmp/drain.out" || fail "drain: no note"
curl -s -m 2 "http://127.0.0.1:$port/v2/health/live" >/dev/null && fail "drain: still listening"

for name in main tiny idle; do
  eval "pid=\$${name}_pid"
  kill -INT "$pid"
  wait "$pid" || fail "$name: exit status $? after SIGINT: $(tail -n 5 "$tmp/$name.out")"
  grep -q 'ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer' "$tmp/$name.out" &&
    fail "$name: sanitizer report: $(cat "$tmp/$name.out")"
done
echo "ok: serve http"
