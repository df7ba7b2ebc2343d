#!/usr/bin/env python3
"""Writes the PyTorch + PEFT parity fixture of kaizen's LoRA adapters
(tests/fixtures/lora/).

The base model is the classification model of the transformer fixture
(tests/fixtures/transformer: Hugging Face BertForSequenceClassification on
the tiny config, 2 layers, hidden 64, 4 heads, ffn 128, seq 32, vocab 1000,
3 classes, dropout 0), read from its parity.bin, on its batch. PEFT's
LoraConfig wraps it in two variants:

  all    r 4, lora_alpha 8 (scale 2), every adaptable Linear of the encoder
         (query, key, value, attention.output.dense, intermediate.dense,
         output.dense), pooler and classifier trained (modules_to_save)
  rs_qv  r 2, lora_alpha 4, use_rslora (scale 4/sqrt(2)), query and value

lora_B is drawn N(0, 0.1) instead of PEFT's zeros so that the adapters
change the output and lora_A gets a gradient. For each variant: the
adapters (kaizen's names: encoder.layer.L.<module>.lora_A.weight), the
logits, the loss and the gradients of every trainable tensor (adapters,
pooler, classifier). Output: parity.json (index, losses) and parity.bin
(float32 LE), plus peft_all/, the `all` adapter as PEFT's save_pretrained
writes it (adapter_config.json, adapter_model.safetensors), which the C test
imports. Run with /work/venv/bin/python (torch, transformers, peft);
tests/test_lora.c reads the result.
"""
import json
import os
import re
import shutil
import sys

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import BertConfig, BertForSequenceClassification

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "fixtures", "lora")
TF = os.path.join(HERE, "..", "tests", "fixtures", "transformer")
MODULES = ["attention.self.query", "attention.self.key", "attention.self.value",
           "attention.output.dense", "intermediate.dense", "output.dense"]

with open(os.path.join(TF, "parity.json")) as f:
    tfmeta = json.load(f)
tfbin = np.fromfile(os.path.join(TF, "parity.bin"), dtype="<f4")


def tf_tensor(key):
    t = tfmeta["tensors"][key]
    n = int(np.prod(t["shape"]))
    return torch.tensor(tfbin[t["offset"]:t["offset"] + n].reshape(t["shape"]))


c = tfmeta["config"]
inp = tfmeta["inputs"]
B, T = inp["B"], inp["T"]
cfg = BertConfig(vocab_size=c["vocab"], hidden_size=c["hidden"], num_hidden_layers=c["layers"],
                 num_attention_heads=c["heads"], intermediate_size=c["ffn"],
                 max_position_embeddings=c["max_len"], type_vocab_size=c["type_vocab"],
                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                 layer_norm_eps=c["layernorm_eps"], hidden_act="gelu",
                 pad_token_id=tfmeta["special_ids"]["pad"], num_labels=c["classes"])
cfg._attn_implementation = "eager"


def base_model():
    torch.manual_seed(0)
    m = BertForSequenceClassification(cfg).float()
    sd = {}
    for n in m.state_dict():
        if n.startswith("bert."):
            key = "param/" + n[5:]
        else:
            key = "classification/param/" + n
        if key in tfmeta["tensors"]:
            sd[n] = tf_tensor(key)
    missing = m.load_state_dict(sd, strict=False)
    assert not missing.unexpected_keys and all("position_ids" in k for k in missing.missing_keys), \
        missing
    return m


ids = torch.tensor(inp["ids"]).reshape(B, T)
types = torch.tensor(inp["types"]).reshape(B, T)
attn = torch.zeros(B, T, dtype=torch.long)
for b, n in enumerate(inp["lengths"]):
    attn[b, :n] = 1
labels = torch.tensor(inp["labels"])

blobs, index = [], {}
offset = 0


def add(key, t):
    global offset
    a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
    index[key] = {"offset": offset, "shape": list(a.shape)}
    blobs.append(a.tobytes())
    offset += a.size


def kz_name(n):
    """PEFT's parameter name -> kaizen's tensor name (None if not trained)."""
    n = n.replace("base_model.model.", "", 1).replace(".default", "")
    n = n.replace(".modules_to_save", "").replace(".original_module", "")
    return n[5:] if n.startswith("bert.") else n


VARIANTS = {
    "all": dict(r=4, alpha=8, rslora=False, modules=MODULES),
    "rs_qv": dict(r=2, alpha=4, rslora=True, modules=MODULES[0:1] + MODULES[2:3]),
}
results = {}
for vi, (name, v) in enumerate(VARIANTS.items()):
    pattern = r".*encoder\.layer\.\d+\.(" + "|".join(re.escape(m) for m in v["modules"]) + ")"
    lc = LoraConfig(r=v["r"], lora_alpha=v["alpha"], use_rslora=v["rslora"],
                    target_modules=pattern, lora_dropout=0.0, bias="none", task_type="SEQ_CLS",
                    modules_to_save=["pooler", "classifier"])
    pm = get_peft_model(base_model(), lc)
    gen = torch.Generator().manual_seed(100 + vi)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if "lora_B" in n:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    pm.train()  # dropout is 0: train mode only matters for PEFT's bookkeeping
    out = pm(input_ids=ids, token_type_ids=types, attention_mask=attn, labels=labels)
    out.loss.backward()
    add(f"{name}/logits", out.logits)
    trained = []
    for n, p in pm.named_parameters():
        if not p.requires_grad:
            continue
        k = kz_name(n)
        trained.append(k)
        if "lora_" in k:
            add(f"{name}/param/{k}", p)
        add(f"{name}/grad/{k}", p.grad)
    results[name] = {"loss": float(out.loss.detach()), "r": v["r"], "alpha": v["alpha"],
                     "use_rslora": v["rslora"],
                     "target_modules": [m for m in v["modules"]], "trained": trained}
    if name == "all":
        d = os.path.join(OUT, "peft_all")
        shutil.rmtree(d, ignore_errors=True)
        pm.save_pretrained(d)
        for extra in ("README.md",):
            if os.path.exists(os.path.join(d, extra)):
                os.remove(os.path.join(d, extra))

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "parity.bin"), "wb") as f:
    for b in blobs:
        f.write(b)
import peft  # noqa: E402

with open(os.path.join(OUT, "parity.json"), "w") as f:
    json.dump({"generator": "tools/make_lora_fixture.py", "torch": torch.__version__,
               "peft": peft.__version__, "base": "tests/fixtures/transformer (classification)",
               "results": results, "tensors": index}, f, indent=1)
print(f"{offset} floats ({offset * 4 / 1e3:.1f} kB); losses " +
      ", ".join(f"{k} {r['loss']:.6f}" for k, r in results.items()))
