#!/usr/bin/env python3
"""kaizen's LoRA adapters and Hugging Face PEFT, both directions.

usage: peft_check.py TEST_LORA TF_FIXTURE LORA_FIXTURE TMPDIR

The base is the classification model of the transformer fixture
(tests/fixtures/transformer), built in transformers from its weights.
1. kaizen -> PEFT: `test_lora peft-export` writes the fixture's rsLoRA
   query/value adapter with kaizen's exporter and kaizen's logits on the
   fixture batch; PeftModel.from_pretrained loads the directory (no missing
   or unexpected key) and gives the same logits.
2. PEFT -> kaizen: a new PEFT adapter (r 3, key + intermediate.dense +
   output.dense, bias lora_only, random B and biases) saved with
   save_pretrained; `test_lora peft-import` loads it onto kaizen's base and
   gives PEFT's logits.
Logits must agree to NMSE <= 1e-10 (both are fp32 on the CPU). Exits 77
(skip) when torch, transformers or peft are not importable."""
import json
import os
import subprocess
import sys

try:
    import numpy as np
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import BertConfig, BertForSequenceClassification
except ImportError as e:
    print(f"skipped: {e} (needs torch, transformers and peft: pip install peft)")
    sys.exit(77)


def run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def nmse(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(((a - b) ** 2).sum() / max((b ** 2).sum(), 1e-300))


def main():
    test_bin, tf_dir, lora_dir, tmp = sys.argv[1:5]
    os.makedirs(tmp, exist_ok=True)
    meta = json.load(open(os.path.join(tf_dir, "parity.json")))
    blob = np.fromfile(os.path.join(tf_dir, "parity.bin"), dtype="<f4")

    def tensor(key):
        t = meta["tensors"][key]
        n = int(np.prod(t["shape"]))
        return torch.tensor(blob[t["offset"]:t["offset"] + n].reshape(t["shape"]))

    c, inp = meta["config"], meta["inputs"]
    B, T = inp["B"], inp["T"]
    cfg = BertConfig(vocab_size=c["vocab"], hidden_size=c["hidden"], num_hidden_layers=c["layers"],
                     num_attention_heads=c["heads"], intermediate_size=c["ffn"],
                     max_position_embeddings=c["max_len"], type_vocab_size=c["type_vocab"],
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     layer_norm_eps=c["layernorm_eps"], hidden_act="gelu",
                     pad_token_id=meta["special_ids"]["pad"], num_labels=c["classes"])
    cfg._attn_implementation = "eager"

    def base():
        torch.manual_seed(0)
        m = BertForSequenceClassification(cfg).float()
        sd = {}
        for n in m.state_dict():
            key = ("param/" + n[5:]) if n.startswith("bert.") else ("classification/param/" + n)
            if key in meta["tensors"]:
                sd[n] = tensor(key)
        m.load_state_dict(sd, strict=False)
        return m.eval()

    ids = torch.tensor(inp["ids"]).reshape(B, T)
    types = torch.tensor(inp["types"]).reshape(B, T)
    attn = torch.zeros(B, T, dtype=torch.long)
    for b, n in enumerate(inp["lengths"]):
        attn[b, :n] = 1

    def logits(model):
        with torch.no_grad():
            return model(input_ids=ids, token_type_ids=types, attention_mask=attn).logits.numpy()

    # 1. kaizen -> PEFT
    run(test_bin, "peft-export", tf_dir, lora_dir, tmp)
    kz = np.fromfile(os.path.join(tmp, "kaizen_logits.bin"), dtype="<f4")
    adapter = os.path.join(tmp, "adapter")
    pm = PeftModel.from_pretrained(base(), adapter)
    pm.eval()
    st = pm.state_dict()
    n_lora = sum(1 for k in st if "lora_" in k)
    e1 = nmse(kz, logits(pm))
    print(f"kaizen -> PEFT: {n_lora} adapter tensors loaded, logits NMSE {e1:.3e}")
    if n_lora != 8 or e1 > 1e-10:
        sys.exit("kaizen's adapter does not reproduce in PEFT")
    with open(os.path.join(adapter, "adapter_config.json")) as f:
        ac = json.load(f)
    for k, v in (("peft_type", "LORA"), ("r", 2), ("lora_alpha", 4), ("use_rslora", True),
                 ("task_type", "SEQ_CLS"), ("bias", "none")):
        if ac.get(k) != v:
            sys.exit(f"adapter_config.json: {k} is {ac.get(k)!r}, expected {v!r}")

    # 2. PEFT -> kaizen
    lc = LoraConfig(r=3, lora_alpha=6, lora_dropout=0.0, bias="lora_only", task_type="SEQ_CLS",
                    target_modules=r".*encoder\.layer\.\d+\.(attention\.self\.key|"
                                   r"intermediate\.dense|output\.dense)")
    pm = get_peft_model(base(), lc)
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for n, p in pm.named_parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    pm.eval()
    want = logits(pm)
    saved = os.path.join(tmp, "peft_saved")
    pm.save_pretrained(saved)
    out = run(test_bin, "peft-import", tf_dir, saved, os.path.join(tmp, "peft_logits.bin"))
    got = np.fromfile(os.path.join(tmp, "peft_logits.bin"), dtype="<f4")
    e2 = nmse(got, want)
    print(out.strip())
    print(f"PEFT -> kaizen: logits NMSE {e2:.3e}")
    if e2 > 1e-10:
        sys.exit("PEFT's adapter does not reproduce in kaizen")
    print("ok")


if __name__ == "__main__":
    main()
