#!/usr/bin/env python3
"""kaizen's Hugging Face export, read by Hugging Face itself.

usage: hf_export_check.py TEST_HF_BERT KAIZEN MINILM_DIR FIXTURES TMPDIR
(KZ_MINILM_DIR in the environment wins over MINILM_DIR)

1. `test_hf_bert export` loads all-MiniLM-L6-v2 through kz_hf_bert_load_weights
   and writes it with kz_hf_bert_export as BertModel; transformers' AutoModel
   loads it with no missing or unexpected key, every parameter equal to the
   original's bit for bit, BertTokenizer gives the fixture's ids, and the
   mean-pooled, normalised embeddings of the 100 fixture lines match
   tests/fixtures/minilm/embeddings.safetensors (cosine >= 0.99999).
2. The same as BertForSequenceClassification with 6 labels: the encoder under
   "bert.", the classifier kaizen wrote, id2label as given.
3. The other way: a tiny BertForMaskedLM saved by transformers (bert. prefix,
   cls.predictions head, tied decoder left out) reads in `kaizen weights
   inspect --check`.
Exits 77 (skip) when torch/transformers or the checkpoint are missing."""
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
    from safetensors.numpy import load_file
    from transformers import (AutoModel, BertConfig, BertForMaskedLM, BertForSequenceClassification,
                              BertTokenizer)
except ImportError as e:
    print(f"skipped: {e} (needs torch, transformers, safetensors)")
    sys.exit(77)


def run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def main():
    test_bin, kaizen, minilm, fixtures, tmp = sys.argv[1:6]
    minilm = os.environ.get("KZ_MINILM_DIR") or minilm
    if not minilm or not os.path.isfile(os.path.join(minilm, "config.json")):
        print(f"skipped: no all-MiniLM-L6-v2 checkpoint at '{minilm}' (set KZ_MINILM_DIR)")
        sys.exit(77)
    os.makedirs(tmp, exist_ok=True)
    orig = AutoModel.from_pretrained(minilm).eval()
    orig_sd = orig.state_dict()

    out = os.path.join(tmp, "minilm_export")
    run(test_bin, "export", minilm, out, "BertModel")
    model, info = AutoModel.from_pretrained(out, output_loading_info=True)
    model.eval()
    bad = {k: v for k, v in info.items() if v}
    if bad:
        sys.exit(f"BertModel export: loading info {bad}")
    sd = model.state_dict()
    for name, t in orig_sd.items():
        if not torch.equal(sd[name], t):
            sys.exit(f"BertModel export: {name} differs")
    lines = open(os.path.join(fixtures, "sentences.txt"), encoding="utf-8").read().splitlines()
    want_ids = [list(map(int, l.split())) for l in open(os.path.join(fixtures, "token_ids.txt"))]
    tok = BertTokenizer.from_pretrained(out)
    if [tok(l)["input_ids"] for l in lines] != want_ids:
        sys.exit("the exported vocab.txt / tokenizer_config.json tokenise differently")
    batch = tok(lines, padding=True, return_tensors="pt")
    with torch.no_grad():
        states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=1).numpy()
    ref = load_file(os.path.join(fixtures, "embeddings.safetensors"))["embeddings"]
    cos = (emb * ref).sum(1) / np.linalg.norm(emb, axis=1) / np.linalg.norm(ref, axis=1)
    if cos.min() < 0.99999:
        sys.exit(f"exported embeddings: min cosine {cos.min()}")
    print(f"BertModel export: {len(orig_sd)} parameters identical, min cosine {cos.min():.7f} on 100 lines")

    out = os.path.join(tmp, "minilm_cls_export")
    run(test_bin, "export", minilm, out, "BertForSequenceClassification", "6")
    cls, info = BertForSequenceClassification.from_pretrained(out, output_loading_info=True)
    if any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")):
        sys.exit(f"classification export: loading info {info}")
    w = cls.classifier.weight.detach().numpy()
    want = (np.arange(6 * 384) % 1000 / 1000.0).astype(np.float32).reshape(6, 384)
    if not np.array_equal(w, want) or cls.config.id2label[5] != "class 5" or cls.num_labels != 6:
        sys.exit("classification export: classifier or labels differ")
    if not torch.equal(cls.bert.encoder.layer[3].output.dense.weight, orig.encoder.layer[3].output.dense.weight):
        sys.exit("classification export: encoder differs")
    print("BertForSequenceClassification export: loads with no missing/unexpected key, classifier and labels as written")

    tiny = os.path.join(tmp, "tiny_mlm")
    cfg = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=32, max_position_embeddings=32)
    torch.manual_seed(0)
    BertForMaskedLM(cfg).save_pretrained(tiny, safe_serialization=True)
    with open(os.path.join(tiny, "vocab.txt"), "w") as f:
        f.writelines(f"[unused{i}]\n" for i in range(40))
    listing = run(kaizen, "weights", "inspect", tiny, "--check")
    rows = [" ".join(l.split()) for l in listing.splitlines()]
    for want in ("embeddings.word_embeddings.weight F32 [40, 16] (file: bert.embeddings.word_embeddings.weight)",
                 "cls.predictions.transform.LayerNorm.weight F32 [16]",
                 "every float tensor read back, all values finite"):
        if want not in rows:
            sys.exit(f"kaizen weights inspect of a transformers BertForMaskedLM lacks '{want}':\n{listing}")
    print("transformers BertForMaskedLM save_pretrained: read by kaizen weights inspect --check")


if __name__ == "__main__":
    main()
