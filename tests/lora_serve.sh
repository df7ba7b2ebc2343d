#!/usr/bin/env bash
# LoRA adapters by name in the server, and adapter-only checkpoints, each
# step its own process: a small classification base (and a second base), two
# LoRA runs from it (a: query + value r 4; b: all-linear r 2 with the
# adapted biases). Checks:
#  - an adapter run's checkpoints hold only the trainable tensors and the
#    base's fingerprint (sizes printed), the run stopped (or killed with
#    kill -9) and resumed from them ends on the same model bit for bit, and
#    resuming onto another base is refused naming both fingerprints;
#  - the in-process API (test_serve adapters): adapters by name on one base,
#    each answer equal to `kaizen predict --adapter` on the same texts, the
#    base's equal to plain predict; unknown names, duplicates and an adapter
#    of another base refused; mixed requests never share a batch;
#  - kaizen serve --adapter MODEL:NAME=DIR over HTTP: the metadata lists the
#    adapters, "parameters": {"adapter": NAME} picks one, answers equal
#    predict's, concurrent requests for different adapters each get theirs,
#    an unknown adapter is a 400 naming it, an adapter of another base stops
#    the server at startup naming both fingerprints.
# Everything runs on the CPU (--device cpu), where resuming is bit for bit.
# usage: lora_serve.sh KAIZEN SHARED_DATA_DIR VOCAB TEST_SERVE
set -u
kaizen="$1" data="$2" vocab="$3" test_serve="$4"
[ -f "$data/austen.csv" ] || { echo "skipped: $data/austen.csv not found"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; exit 1; }

awk 'NR == 1 || NR % 60 == 0' "$data/austen.csv" >"$tmp/austen.csv"
"$kaizen" data import --kind text --input "$tmp/austen.csv" --out "$tmp/austen" --text-column text \
  --label book --vocab "$vocab" --cased --max-len 32 --valid-fraction 0.1 --seed 1 >/dev/null ||
  die "import"

# job FILE STEPS SEED [LORA_YAML]
job() {
  cat >"$1" <<YAML
model:
  type: transformer
  task: classification
  layers: 2
  hidden: 32
  heads: 2
  ffn: 64
$4
data:
  train: $tmp/austen
train:
  lr: 0.005
  batch_size: 16
  steps: $2
  eval_every: 4
  seed: $3
  device: cpu
output:
  runs_dir: $tmp/runs
YAML
}
run() { echo "$tmp/runs/default/$1"; }

job "$tmp/base.yaml" 6 5 ""
"$kaizen" train "$tmp/base.yaml" --quiet --set output.run_id=base >/dev/null 2>&1 || die "base run"
base="$(run base)/model.kzm"
"$kaizen" train "$tmp/base.yaml" --quiet --set output.run_id=base2 --set train.seed=9 \
  >/dev/null 2>&1 || die "second base run"
base2="$(run base2)/model.kzm"
job "$tmp/a.yaml" 8 6 "  lora:
    r: 4
    alpha: 8
    target_modules: [query, value]"
job "$tmp/b.yaml" 8 7 "  lora:
    r: 2
    alpha: 4
    target_modules: all-linear
    bias: lora_only"
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a --set "train.init_from=$base" \
  --set output.checkpoint_every=2 >"$tmp/a.out" 2>&1 || die "lora run a: $(cat "$tmp/a.out")"
"$kaizen" train "$tmp/b.yaml" --quiet --set output.run_id=b --set "train.init_from=$base" \
  >"$tmp/b.out" 2>&1 || die "lora run b: $(cat "$tmp/b.out")"

# ---- adapter-only checkpoints ----------------------------------------------------------
ckpt=$(ls "$(run a)"/checkpoints/ckpt-*.kzc | tail -1)
base_ckpt=$(ls "$(run base)"/checkpoints/ckpt-*.kzc | tail -1)
python3 - "$ckpt" "$base" "$(run a)" "$base_ckpt" <<'PY' || fail "adapter-only checkpoint"
import json, os, struct, sys
ckpt, base, run, base_ckpt = sys.argv[1:]
b = open(ckpt, "rb").read()
state_len = struct.unpack("<Q", b[8:16])[0]
state = json.loads(b[16:16 + state_len])
assert state["params_n"] > 0 and state["base_fingerprint"].startswith("kz64:"), state
meta_len = struct.unpack("<Q", b[16 + state_len:24 + state_len])[0]
n = struct.unpack("<Q", b[24 + state_len + meta_len:32 + state_len + meta_len])[0]
assert state["params_n"] < n / 4, (state["params_n"], n)
sizes = {"checkpoint": os.path.getsize(ckpt), "the base run's checkpoint": os.path.getsize(base_ckpt), "model.kzm (whole model)": os.path.getsize(f"{run}/model.kzm"),
         "base model.kzm": os.path.getsize(base),
         "adapter/ (PEFT)": sum(os.path.getsize(f"{run}/adapter/{f}") for f in os.listdir(f"{run}/adapter"))}
print("adapter run a:", state["params_n"], "of", n, "floats in the checkpoint;",
      "; ".join(f"{k} {v} bytes" for k, v in sizes.items()))
assert sizes["checkpoint"] * 2 < sizes["base model.kzm"], sizes
PY
# stopped at step 4, resumed from its adapter-only checkpoint: the same model
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a2 --set "train.init_from=$base" \
  --set train.steps=4 --set output.checkpoint_every=2 >/dev/null 2>&1 || fail "short lora run"
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a2 --set "train.init_from=$base" \
  --set output.checkpoint_every=2 --resume --allow-changes >"$tmp/a2.out" 2>&1 ||
  fail "lora resume: $(cat "$tmp/a2.out")"
cmp -s "$(run a)/model.kzm" "$(run a2)/model.kzm" || fail "resumed lora run: model.kzm differs"
cmp -s "$(run a)/adapter/adapter_model.safetensors" "$(run a2)/adapter/adapter_model.safetensors" ||
  fail "resumed lora run: the adapter differs"
# killed with kill -9 after its third checkpoint, resumed: the same model as uninterrupted
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=kfull --set "train.init_from=$base" \
  --set train.steps=600 --set output.checkpoint_every=20 >/dev/null 2>&1 || fail "long lora run"
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=k --set "train.init_from=$base" \
  --set train.steps=600 --set output.checkpoint_every=20 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ "$(ls "$(run k)/checkpoints/" 2>/dev/null | grep -c '^ckpt-.*\.kzc$')" -ge 3 ] && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.02
done
if kill -9 $pid 2>/dev/null; then
  wait $pid 2>/dev/null
  [ ! -e "$(run k)/summary.json" ] || fail "the killed lora run has a summary: killed too late"
  "$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=k --set "train.init_from=$base" \
    --set train.steps=600 --set output.checkpoint_every=20 --resume >"$tmp/k.out" 2>&1 ||
    fail "resume of the killed lora run: $(cat "$tmp/k.out")"
  cmp -s "$(run kfull)/model.kzm" "$(run k)/model.kzm" || fail "killed + resumed lora run differs"
else
  wait $pid 2>/dev/null
  fail "the lora run ended before it could be killed (make it longer)"
fi
# ... and onto another base: refused, both fingerprints named
"$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a3 --set "train.init_from=$base" \
  --set train.steps=4 --set output.checkpoint_every=2 >/dev/null 2>&1 || fail "short lora run a3"
out=$("$kaizen" train "$tmp/a.yaml" --quiet --set output.run_id=a3 --set "train.init_from=$base2" \
  --set output.checkpoint_every=2 --resume --allow-changes 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "fingerprint kz64:[0-9a-f]*; the base the job loaded (train.init_from) has kz64:[0-9a-f]*" ||
  fail "resume onto another base: $out"

# ---- predictions to compare with -------------------------------------------------------
cat >"$tmp/texts.txt" <<'TXT'
It is a truth universally acknowledged.
Emma was not required, by any subsequent discovery, to retract her ill opinion.
Captain Wentworth had no fortune.
TXT
"$kaizen" predict --model "$base" --input "$tmp/texts.txt" --out "$tmp/p_base.csv" --device cpu \
  >/dev/null 2>&1 ||
  fail "predict base"
for x in a b; do
  "$kaizen" predict --model "$base" --adapter "$(run $x)/adapter" --input "$tmp/texts.txt" \
    --out "$tmp/p_$x.csv" --device cpu >/dev/null 2>&1 || fail "predict --adapter $x"
done

# ---- in-process ------------------------------------------------------------------------
"$test_serve" adapters "$base" "$(run a)/adapter" "$(run b)/adapter" "$base2" >"$tmp/inproc.txt" ||
  fail "in-process adapters"
python3 - "$tmp" <<'PY' || fail "in-process answers differ from predict's"
import csv, sys
tmp = sys.argv[1]
got = {}
for line in open(f"{tmp}/inproc.txt"):
    name, row, *p = line.split()
    got[(name, int(row))] = [float(x) for x in p]
for name in ("base", "a", "b"):
    rows = list(csv.DictReader(open(f"{tmp}/p_{name}.csv")))
    for i, r in enumerate(rows):
        want = [float(v) for k, v in r.items() if k.startswith("p_")]
        worst = max(abs(x - y) for x, y in zip(want, got[(name, i)]))
        assert len(want) == len(got[(name, i)]) and worst < 1e-6, (name, i, want, got[(name, i)])
print("in-process answers equal predict's for the base, a and b")
PY

# ---- over HTTP -------------------------------------------------------------------------
out=$("$kaizen" serve --model tf="$base2" --adapter "tf:a=$(run a)/adapter" --request - </dev/null 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "fingerprint kz64:[0-9a-f]*; this base model's is kz64:" ||
  fail "serve: an adapter of another base: $out"
# ... also given in the config (adapters: [...])
printf 'adapters: ["tf:a=%s"]\n' "$(run a)/adapter" >"$tmp/serve.yaml"
out=$("$kaizen" serve --config "$tmp/serve.yaml" --model tf="$base2" --request - </dev/null 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "fingerprint kz64:[0-9a-f]*; this base model's is kz64:" ||
  fail "serve: an adapter of another base (config): $out"
out=$("$kaizen" serve --model tf="$base" --adapter "a=$(run a)/adapter" --request - </dev/null 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "expected MODEL:NAME=DIR" || fail "serve: --adapter without model: $out"
"$kaizen" serve --port 0 --port-file "$tmp/port" --device cpu --model tf="$base" \
  --adapter "tf:a=$(run a)/adapter" --adapter "tf:b=$(run b)/adapter" --max-queue-delay-us 20000 \
  --log "$tmp/requests.jsonl" \
  >"$tmp/serve.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || die "serve did not start: $(cat "$tmp/serve.out")"
python3 - "$(cat "$tmp/port")" "$tmp" <<'PY' || fail "serve over HTTP"
import csv, json, sys, threading, urllib.request, urllib.error
port, tmp = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}"
def call(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
texts = open(f"{tmp}/texts.txt").read().splitlines()
def body(adapter):
    b = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}]}
    if adapter is not None:
        b["parameters"] = {"adapter": adapter}
    return b
st, md = call("/v2/models/tf")
assert st == 200 and [a["name"] for a in md["adapters"]] == ["a", "b"], md
assert all(a["base_fingerprint"].startswith("kz64:") for a in md["adapters"]), md
want = {}
for name in ("base", "a", "b"):
    rows = list(csv.DictReader(open(f"{tmp}/p_{name}.csv")))
    want[name] = {k: [float(r[k]) for r in rows] for k in rows[0] if k.startswith("p_")}
def check(name, j):
    o = {x["name"]: x["data"] for x in j["outputs"]}
    for k, v in want[name].items():
        assert max(abs(x - y) for x, y in zip(v, o[k])) < 1e-6, (name, k, v, o[k])
for name, adapter in (("base", None), ("a", "a"), ("b", "b"), ("base", "")):
    st, j = call("/v2/models/tf/infer", body(adapter))
    assert st == 200, j
    check(name, j)
# mixed requests at once (a 20 ms queue delay gathers them): each its own adapter
errors = []
def worker(i):
    name = ("base", "a", "b")[i % 3]
    try:
        st, j = call("/v2/models/tf/infer", body(None if name == "base" else name))
        assert st == 200, j
        check(name, j)
    except Exception as e:
        errors.append(repr(e))
threads = [threading.Thread(target=worker, args=(i,)) for i in range(24)]
[t.start() for t in threads]
[t.join() for t in threads]
assert not errors, errors[:3]
st, j = call("/v2/models/tf/infer", body("zzz"))
assert st == 400 and "no adapter 'zzz' (loaded: a, b)" in j["error"], (st, j)
st, j = call("/v2/models/tf/infer", {**body(None), "parameters": {"adapter": 3}})
assert st == 400 and "parameters.adapter" in j["error"], (st, j)
print("HTTP: the base, a and b answer as predict does; mixed requests, unknown adapter 400")
PY

# the request log names the adapter of each request that asked for one
for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
pids=()
python3 - "$tmp/requests.jsonl" <<'PY' || fail "request log"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
infer = [l for l in lines if l["path"].endswith("/infer")]
assert sum(l.get("adapter") == "a" for l in infer) >= 9, infer[:3]
assert sum(l.get("adapter") == "b" for l in infer) >= 9 and any("adapter" not in l for l in infer)
PY
[ $fails -eq 0 ] && echo "ok" || { echo "$fails failure(s)"; exit 1; }
