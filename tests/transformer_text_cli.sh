#!/usr/bin/env bash
# Transformers on raw text through the kaizen binary, each step its own
# process (docs/CLI.md, "Transformers on raw text"; docs/SERVING.md,
# "Transformers: text in"):
#  - text import records the vocabulary (tokens + sha256, the sha256sum of the
#    vocab file) in the data set; training copies it into the model;
#  - kaizen export writes vocab.txt from the model (no --vocab), byte-equal to
#    the file imported with, casing from the import;
#  - train.init_from an exported HF directory: the same vocabulary trains, a
#    data set imported with another of the same size and special tokens (two
#    tokens swapped) is refused naming both hashes;
#  - kaizen predict --input on a .txt / .jsonl: class names and probabilities,
#    per-word labels with character spans, QA answers equal to context[start:end]
#    (long contexts split into windows, --max-answer-len honoured), unit-norm
#    embeddings for mlm; bad text (empty, invalid UTF-8, missing column) fails
#    naming the row and leaves no output file;
#  - kaizen eval --input / --data for qa: exact match and F1 on answer text;
#  - kaizen serve: BYTES inputs listed in the metadata, answers equal to
#    predict's, bad text requests answered 400 while the server keeps serving.
#  - the in-process API (test_serve text): a BYTES label, and bytes that are
#    not UTF-8 refused naming the element.
# usage: transformer_text_cli.sh KAIZEN SHARED_DATA_DIR VOCAB SOURCE_DIR TEST_SERVE
set -u
kaizen="$1" data="$2" vocab="$3" src="$4" test_serve="$5"
[ -f "$data/austen.csv" ] || { echo "skipped: $data/austen.csv not found"; exit 77; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "skipped: no /usr/bin/python3"; exit 77; }
export OMP_WAIT_POLICY=passive # many jobs on few cores (results do not depend on it)
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
die() { echo "FAIL: $*"; exit 1; }

# ---- data: a slice of austen.csv (book classification), synthetic NER and QA ----
awk 'NR == 1 || NR % 40 == 0' "$data/austen.csv" >"$tmp/austen.csv"
"$kaizen" data import --kind text --input "$tmp/austen.csv" --out "$tmp/austen" --text-column text \
  --label book --vocab "$vocab" --cased --max-len 32 --valid-fraction 0.1 --seed 1 >/dev/null ||
  die "import austen"
"$py" "$src/tools/make_austen_ner_qa.py" --austen "$data/austen.csv" --out "$tmp" --rows 200 \
  >/dev/null || die "make_austen_ner_qa.py"
"$kaizen" data import --kind text --input "$tmp/ner.jsonl" --out "$tmp/ner" --words-column tokens \
  --token-labels-column ner_tags --vocab "$vocab" --cased --max-len 64 --valid-fraction 0.25 \
  --seed 1 >/dev/null || die "import ner"
"$kaizen" data import --kind text --input "$tmp/qa.jsonl" --out "$tmp/qa" --question-column question \
  --text-column context --answer-start-column answer_start --answer-text-column answer_text \
  --vocab "$vocab" --cased --max-len 64 --valid-fraction 0.25 --seed 1 >/dev/null ||
  die "import qa"

# the manifest records the vocabulary: its tokens and the sha256sum of the file
"$py" - "$tmp/austen/manifest.json" "$vocab" <<'PY' || fail "manifest vocabulary"
import hashlib, json, sys
meta = json.load(open(sys.argv[1]))["schema"]["meta"]
raw = open(sys.argv[2], "rb").read()
assert meta["vocab_sha256"] == hashlib.sha256(raw).hexdigest(), meta["vocab_sha256"]
assert meta["vocab_tokens"] == raw.decode().splitlines(), "tokens differ"
assert meta["text_column"] == "text"
PY

# ---- tiny models ---------------------------------------------------------------
job() { # NAME TASK DATA [extra yaml]
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
  steps: 20
  eval_every: 20
  seed: 3
${4:-}
output:
  runs_dir: $tmp/runs
YAML
  "$kaizen" train "$tmp/$1.yaml" --set output.run_id=$1 >"$tmp/$1.out" 2>&1 ||
    fail "$1 run: $(tail -3 "$tmp/$1.out")"
}
job cls classification "$tmp/austen"
job ner token_classification "$tmp/ner"
job qa qa "$tmp/qa"
job mlm mlm "$tmp/austen"
m() { echo "$tmp/runs/default/$1/model.kzm"; }
grep -q "valid/text_exact_match=.*valid/text_f1=" "$tmp/qa.out" ||
  fail "qa validation has no text metrics: $(tail -1 "$tmp/qa.out")"

# ---- export writes the model's own vocabulary ------------------------------------
"$kaizen" export --model "$(m mlm)" --format safetensors --out "$tmp/hf" >/dev/null ||
  fail "export without --vocab"
cmp -s "$tmp/hf/vocab.txt" "$vocab" || fail "exported vocab.txt differs from the imported one"
grep -q '"do_lower_case": false' "$tmp/hf/tokenizer_config.json" ||
  fail "export: a cased import must export do_lower_case false"

# ---- train.init_from the exported directory: same vocabulary, then another ----------
job hfcls classification "$tmp/austen" "  init_from: $tmp/hf"
[ -f "$(m hfcls)" ] || fail "init_from an HF directory with the data set's vocabulary"
other_vocab="$tmp/other_vocab.txt"
"$py" - "$vocab" "$other_vocab" <<'PY' || die "other vocabulary"
import sys
t = open(sys.argv[1], encoding="utf-8").read().splitlines()
t[-1], t[-2] = t[-2], t[-1]
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(t) + "\n")
PY
"$kaizen" data import --kind text --input "$tmp/austen.csv" --out "$tmp/austen_other" \
  --text-column text --label book --vocab "$other_vocab" --cased --max-len 32 >/dev/null ||
  die "import with the other vocabulary"
sed "s#train: $tmp/austen\$#train: $tmp/austen_other#" "$tmp/hfcls.yaml" >"$tmp/hfbad.yaml"
if "$kaizen" train "$tmp/hfbad.yaml" --set output.run_id=hfbad >"$tmp/hfbad.out" 2>&1; then
  fail "init_from with another vocabulary trained"
fi
other_sha=$(sha256sum "$other_vocab" | cut -d' ' -f1)
vocab_sha=$(sha256sum "$vocab" | cut -d' ' -f1)
grep -q "$other_sha" "$tmp/hfbad.out" && grep -q "$vocab_sha" "$tmp/hfbad.out" ||
  fail "the vocabulary mismatch must name both hashes: $(cat "$tmp/hfbad.out")"

# ---- predict on raw text ---------------------------------------------------------
printf 'It is a truth universally acknowledged.\nEmma Woodhouse, handsome, clever, and rich.\n%s\n' \
  "$(printf 'Caf\xc3\xa9 au lait \xe2\x80\x94 na\xc3\xafve.')" >"$tmp/texts.txt"
for t in cls ner mlm; do
  "$kaizen" predict --model "$(m $t)" --input "$tmp/texts.txt" --out "$tmp/$t.csv" ||
    fail "predict $t"
done
# qa: the first rows of the set, one with a context of many windows (answer at its end)
"$py" - "$tmp/qa.jsonl" "$tmp/qa_in.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:20]
filler = " ".join(["She walked along the lane and thought of nothing at all."] * 12)
r = dict(rows[0])
r["context"] = filler + " " + rows[0]["context"]
r["answer_start"] = rows[0]["answer_start"] + len(filler) + 1
rows.append(r)
with open(sys.argv[2], "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY
"$kaizen" predict --model "$(m qa)" --input "$tmp/qa_in.jsonl" --out "$tmp/qa.csv" || fail "predict qa"
"$kaizen" predict --model "$(m qa)" --input "$tmp/qa_in.jsonl" --out "$tmp/qa1.csv" \
  --max-answer-len 1 --qa-stride 0 || fail "predict qa --max-answer-len 1"
"$py" - "$tmp" "$vocab" <<'PY' || fail "predictions"
import csv, json, math, sys
tmp = sys.argv[1]
texts = open(f"{tmp}/texts.txt", encoding="utf-8").read().splitlines()
books = ["Emma", "Mansfield Park", "Northanger Abbey", "Persuasion", "Pride & Prejudice",
         "Sense & Sensibility"]
rows = list(csv.DictReader(open(f"{tmp}/cls.csv", encoding="utf-8")))
assert len(rows) == len(texts), rows
for r in rows:
    p = {b: float(r["p_" + b]) for b in books}
    assert abs(sum(p.values()) - 1) < 1e-5, p
    assert r["label"] == max(p, key=p.get), r
rows = list(csv.DictReader(open(f"{tmp}/ner.csv", encoding="utf-8")))
assert len(rows) == len(texts)
names = set(json.load(open(f"{tmp}/ner/manifest.json"))["schema"]["meta"]["token_labels"]["names"])
for text, r in zip(texts, rows):
    words, labels, spans = json.loads(r["words"]), json.loads(r["labels"]), json.loads(r["spans"])
    assert len(words) == len(labels) == len(spans) > 0, r
    for w, (s, e), lab in zip(words, spans, labels):
        assert text[s:e] == w, (text, s, e, w)  # character offsets
        assert lab in names, lab
    assert words[:3] == text.replace(",", " ,").replace(".", " .").split()[:3], words
ctx = {}
for line in open(f"{tmp}/qa_in.jsonl", encoding="utf-8"):
    j = json.loads(line)
    ctx.setdefault("rows", []).append(j)
for name in ("qa", "qa1"):
    rows = list(csv.DictReader(open(f"{tmp}/{name}.csv", encoding="utf-8")))
    assert len(rows) == len(ctx["rows"]), (name, len(rows))
    for j, r in zip(ctx["rows"], rows):
        s, e = int(r["start"]), int(r["end"])
        assert 0 <= s < e <= len(j["context"]), (s, e)
        assert j["context"][s:e] == r["answer"], (j["context"][s:e], r["answer"])
        assert 0 < float(r["score"]) <= 1, r["score"]
        if name == "qa1":
            assert " " not in r["answer"], r["answer"]  # one word piece
long = rows[-1]
rows = list(csv.DictReader(open(f"{tmp}/mlm.csv", encoding="utf-8")))
for r in rows:
    v = [float(x) for x in r.values()]
    assert len(v) == 32 and abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-5, v[:4]
PY

# bad text: an empty line, invalid UTF-8, a missing column; no output left behind
printf 'fine text\n\nmore\n' >"$tmp/empty.txt"
printf 'fine text\nbad \xff byte\n' >"$tmp/bad_utf8.txt"
printf '{"question": "Who?"}\n' >"$tmp/noctx.jsonl"
bad() { # NAME MODEL INPUT EXPECTED
  if "$kaizen" predict --model "$(m $2)" --input "$3" --out "$tmp/bad_$1.csv" 2>"$tmp/bad_$1.err"; then
    fail "predict $1 succeeded"
  fi
  grep -q "$4" "$tmp/bad_$1.err" || fail "predict $1: $(cat "$tmp/bad_$1.err")"
  [ ! -e "$tmp/bad_$1.csv" ] && [ ! -e "$tmp/bad_$1.csv.tmp" ] || fail "predict $1 left a file"
}
bad empty cls "$tmp/empty.txt" "row 2: input 'text' is empty"
bad utf8 ner "$tmp/bad_utf8.txt" "row 2: input 'text'.*UTF-8"
bad noctx qa "$tmp/noctx.jsonl" "no column 'context'"

# ---- eval: answer text metrics -------------------------------------------------------
"$kaizen" eval --model "$(m qa)" --input "$tmp/qa.jsonl" --json >"$tmp/qa_eval.json" ||
  fail "eval qa --input"
"$kaizen" eval --model "$(m qa)" --data "$tmp/qa" --split valid --json >"$tmp/qa_eval_data.json" ||
  fail "eval qa --data"
"$py" - "$tmp/qa_eval.json" "$tmp/qa_eval_data.json" <<'PY' || fail "eval text metrics"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a["rows"] == 200, a
for j in (a, b):
    assert 0 <= j["text_exact_match"] <= j["text_f1"] <= 1, j
assert "exact_match" in b and "span_f1" in b, b
PY

# ---- serve ---------------------------------------------------------------------------
"$test_serve" text "$(m cls)" || fail "in-process text serving"
"$kaizen" serve --port 0 --port-file "$tmp/port" --model cls="$(m cls)" --model ner="$(m ner)" \
  --model qa="$(m qa)" --model mlm="$(m mlm)" >"$tmp/serve.out" 2>&1 &
pids+=($!)
for _ in $(seq 1 200); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || die "serve did not start: $(cat "$tmp/serve.out")"
"$py" - "$(cat "$tmp/port")" "$tmp" <<'PY' || fail "serve"
import csv, json, sys, urllib.request, urllib.error
port, tmp = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"
def call(path, body=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
def texts(name, values):
    return {"name": name, "datatype": "BYTES", "shape": [len(values)], "data": values}
def outs(j):
    return {o["name"]: o for o in j["outputs"]}
lines = open(f"{tmp}/texts.txt", encoding="utf-8").read().splitlines()
# metadata: BYTES inputs
for name, inputs in (("cls", ["text"]), ("ner", ["text"]), ("qa", ["question", "context"]),
                     ("mlm", ["text"])):
    st, md = call(f"/v2/models/{name}")
    assert st == 200, md
    assert [i["name"] for i in md["inputs"]] == inputs, md
    assert all(i["datatype"] == "BYTES" for i in md["inputs"]), md
# classification: label and probabilities as predict wrote them
st, j = call("/v2/models/cls/infer", {"inputs": [texts("text", lines)]})
assert st == 200, j
o = outs(j)
for k, r in enumerate(csv.DictReader(open(f"{tmp}/cls.csv", encoding="utf-8"))):
    assert o["label"]["data"][k] == r["label"], (o["label"], r)
    assert abs(o["p_Emma"]["data"][k] - float(r["p_Emma"])) < 1e-6
# token classification: per-word labels, [rows, words] padded
st, j = call("/v2/models/ner/infer", {"inputs": [texts("text", lines)]})
assert st == 200, j
o = outs(j)
W = o["words"]["shape"][1]
for k, r in enumerate(csv.DictReader(open(f"{tmp}/ner.csv", encoding="utf-8"))):
    words, labels = json.loads(r["words"]), json.loads(r["labels"])
    assert o["words"]["data"][k * W:k * W + len(words)] == words
    assert o["labels"]["data"][k * W:k * W + len(words)] == labels
    assert o["word_start"]["data"][k * W] == json.loads(r["spans"])[0][0]
    assert all(x is None for x in o["words"]["data"][k * W + len(words):(k + 1) * W])
# qa: the answers predict gave
qa = [json.loads(l) for l in open(f"{tmp}/qa_in.jsonl", encoding="utf-8")]
st, j = call("/v2/models/qa/infer", {"inputs": [texts("question", [q["question"] for q in qa]),
                                                texts("context", [q["context"] for q in qa])]})
assert st == 200, j
o = outs(j)
for k, r in enumerate(csv.DictReader(open(f"{tmp}/qa.csv", encoding="utf-8"))):
    assert o["answer"]["data"][k] == r["answer"], (o["answer"]["data"][k], r["answer"])
    assert (o["start"]["data"][k], o["end"]["data"][k]) == (int(r["start"]), int(r["end"]))
# mlm: embeddings
st, j = call("/v2/models/mlm/infer", {"inputs": [texts("text", lines[:2])]})
assert st == 200 and outs(j)["embedding"]["shape"] == [2, 32], j
# bad requests: 400 with a message, and the server keeps serving
bad = [
    ({"inputs": [{"name": "text", "datatype": "FP32", "shape": [1], "data": [1.0]}]}, "BYTES"),
    ({"inputs": [texts("text", [""])]}, "empty"),
    ({"inputs": [texts("text", [None])]}, "null"),
    ({"inputs": [texts("text", ["   "])]}, "no tokens"),
    ({"inputs": [texts("text", ["x" * (1 << 20 + 1)])]}, "too long"),
    ({"inputs": [texts("words", ["a b"])]}, "no input 'words'"),
]
for body, want in bad:
    st, j = call("/v2/models/cls/infer", body)
    assert st == 400 and want in j["error"], (st, j, want)
# ... and none of them counts as a failure of the model itself
with urllib.request.urlopen(f"{base}/metrics") as r:
    metrics = r.read().decode()
backend = [l for l in metrics.splitlines()
           if l.startswith('nv_inference_request_failure{model="cls"') and 'reason="BACKEND"' in l]
assert backend and backend[0].endswith(" 0"), backend
st, j = call("/v2/models/qa/infer", {"inputs": [texts("question", ["Who?"])]})
assert st == 400 and "missing input 'context'" in j["error"], j
raw = b'{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["a \xff b"]}]}'
st, j = call("/v2/models/cls/infer", raw=raw)
assert st == 400, (st, j)
st, j = call("/v2/models/cls/infer", {"inputs": [texts("text", lines[:1])]})
assert st == 200, j
PY

[ "$fails" -eq 0 ] && echo "ok" || exit 1
