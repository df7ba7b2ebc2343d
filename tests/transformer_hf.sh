#!/usr/bin/env bash
# train.init_from with a Hugging Face BERT directory (the real
# all-MiniLM-L6-v2), its errors, and kaizen export read back by Hugging Face
# (docs/MODELS.md, docs/CLI.md). Skipped (77) without ../shared/data/austen.csv
# or the checkpoint; the transformers part is skipped (with a message) when
# PYTHON lacks torch/transformers.
#   transformer_hf.sh KAIZEN SHARED_DATA VOCAB_MINILM VOCAB_CASED MINILM_DIR PYTHON
set -u
kaizen="$1" data="$2" vocab="$3" vocab_cased="$4" minilm="${KZ_MINILM_DIR:-$5}" py="$6"
[ -f "$data/austen.csv" ] || { echo "skipped: $data/austen.csv not found"; exit 77; }
[ -f "$minilm/config.json" ] || {
  echo "skipped: no all-MiniLM-L6-v2 checkpoint at '$minilm' (set KZ_MINILM_DIR, or run" \
    "tools/install-deps.sh --with-test)"
  exit 77
}
export OMP_WAIT_POLICY=passive
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

awk 'NR == 1 || NR % 200 == 0' "$data/austen.csv" >"$tmp/austen.csv"
"$kaizen" data import --kind text --input "$tmp/austen.csv" --out "$tmp/austen" --text-column text \
  --label book --vocab "$vocab" --max-len 32 --valid-fraction 0.2 --seed 1 >/dev/null ||
  { echo "FAIL: import"; exit 1; }
"$kaizen" data import --kind text --input "$tmp/austen.csv" --out "$tmp/austen_cased" \
  --text-column text --label book --vocab "$vocab_cased" --cased --max-len 32 \
  --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import (cased)"; exit 1; }

cat >"$tmp/cls.yaml" <<YAML
model:
  type: transformer
  task: classification
data:
  train: $tmp/austen
train:
  init_from: $minilm
  lr: 0.00005
  batch_size: 8
  steps: 2
  seed: 1
output:
  runs_dir: $tmp/runs
YAML
"$kaizen" train "$tmp/cls.yaml" --set output.run_id=cls >"$tmp/cls.out" 2>&1 ||
  fail "classification from MiniLM: $(cat "$tmp/cls.out")"
grep -q "train.init_from .*: loaded 103 tensors; in part: embeddings.position_embeddings.weight (first 32 of 512 rows); left as initialised: classifier.weight (absent), classifier.bias (absent)" \
  "$tmp/cls.out" || fail "no load note: $(head -3 "$tmp/cls.out")"
cls="$tmp/runs/default/cls/model.kzm"
[ -f "$cls" ] || fail "no $cls"

# sizes: the job's keys must agree with config.json (or be left unset)
"$kaizen" train "$tmp/cls.yaml" --set output.run_id=bad1 --set model.hidden=64 >"$tmp/bad1" 2>&1 &&
  fail "model.hidden 64 accepted"
grep -q "model.hidden: 64, but the checkpoint .* has hidden_size 384" "$tmp/bad1" ||
  fail "hidden mismatch message: $(cat "$tmp/bad1")"
"$kaizen" train "$tmp/cls.yaml" --set output.run_id=ok2 --set model.hidden=384 --set model.layers=6 \
  --set train.steps=1 >"$tmp/ok2" 2>&1 || fail "agreeing sizes refused: $(cat "$tmp/ok2")"
# the data set's vocabulary must be the checkpoint's
"$kaizen" train "$tmp/cls.yaml" --set output.run_id=bad2 --set "data.train=$tmp/austen_cased" \
  >"$tmp/bad2" 2>&1 && fail "a data set of another vocabulary accepted"
grep -q "was tokenised with vocab_austen_cased.txt (sha256 [0-9a-f]*), the checkpoint has .*vocab.txt (sha256 [0-9a-f]*)" \
  "$tmp/bad2" || fail "vocabulary mismatch message: $(cat "$tmp/bad2")"

# export, and the refusals
"$kaizen" export --model "$cls" --format safetensors --out "$tmp/hf" --vocab "$vocab" >/dev/null ||
  fail "export"
"$kaizen" export --model "$cls" --format safetensors --out "$tmp/hf" --vocab "$vocab" \
  >/dev/null 2>&1 && fail "export over an existing directory without --overwrite"
"$kaizen" export --model "$cls" --format safetensors --out "$tmp/hf" --vocab "$vocab" --overwrite \
  >/dev/null || fail "export --overwrite"
"$kaizen" export --model "$cls" --format onnx --out "$tmp/x" --vocab "$vocab" >/dev/null 2>&1
[ $? -eq 2 ] || fail "--format onnx not a usage error"
"$kaizen" weights inspect "$tmp/hf" --check >/dev/null || fail "weights inspect of the export"

# embed a .kzm (its encoder) and the export through Hugging Face
head -20 "$(dirname "$0")/fixtures/minilm/sentences.txt" >"$tmp/s.txt"
"$kaizen" embed --model "$cls" --vocab "$vocab" --input "$tmp/s.txt" --out "$tmp/e.csv" \
  --max-len 32 2>/dev/null || fail "embed of a .kzm"
"$kaizen" embed --model "$tmp/hf" --input "$tmp/s.txt" --out "$tmp/e_hf.jsonl" --max-len 32 \
  2>/dev/null || fail "embed of the export"
if "$py" -c "import torch, transformers" 2>/dev/null; then
  "$py" - "$tmp" <<'PY' || fail "transformers on the export"
import json, sys
import numpy as np, torch
from transformers import BertForSequenceClassification, BertTokenizer
tmp = sys.argv[1]
m, info = BertForSequenceClassification.from_pretrained(tmp + "/hf", output_loading_info=True)
assert not info["missing_keys"] and not info["unexpected_keys"], info
assert m.config.num_labels == 6 and len(m.config.id2label) == 6, m.config.id2label
m.eval()
tok = BertTokenizer.from_pretrained(tmp + "/hf")
lines = open(tmp + "/s.txt").read().splitlines()
enc = tok(lines, padding=True, truncation=True, max_length=32, return_tensors="pt")
with torch.no_grad():
    h = m.bert(**enc).last_hidden_state
mask = enc["attention_mask"].unsqueeze(-1).float()
ref = ((h * mask).sum(1) / mask.sum(1)).numpy()
ref /= np.linalg.norm(ref, axis=1, keepdims=True)
got = np.loadtxt(tmp + "/e.csv", delimiter=",", skiprows=1)
got2 = np.array([json.loads(l)["embedding"] for l in open(tmp + "/e_hf.jsonl")])
for g in (got, got2):
    cos = (g * ref).sum(1) / np.linalg.norm(g, axis=1)
    print(f"kaizen embed vs transformers on the export: min cosine {cos.min():.8f}")
    assert cos.min() >= 0.9999, cos
PY
else
  echo "transformers part skipped: $py lacks torch/transformers"
fi
[ "$fails" -eq 0 ] && echo "transformer_hf: all checks passed"
exit $((fails > 0))
