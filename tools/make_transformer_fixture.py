#!/usr/bin/env python3
"""Writes the PyTorch parity fixture of the transformer encoder
(tests/fixtures/transformer/): Hugging Face BertForMaskedLM,
BertForSequenceClassification, BertForTokenClassification and
BertForQuestionAnswering on the tiny config (2 layers, hidden 64,
4 heads, ffn 128, seq 32, vocab 1000), dropout 0, on a batch of 4 padded
rows with a fixed MLM mask given as input.

For each task: the logits, the loss and every parameter gradient (for
the heads other than mlm, whose word-embedding gradient is zero outside
the rows of the batch's tokens, only those rows of it, to keep the fixture
small), then the losses of 10 AdamW steps on the same batch (the trainer's AdamW: decoupled
weight decay on every parameter, bias-corrected moments). Parameters carry
Hugging Face's names without the `bert.` prefix, as the C model's named
views do. Output: parity.json (config, inputs, losses and an index of the
tensors) and parity.bin (the tensors, little-endian float32, one after the
other). Run with /work/venv/bin/python; tests/test_transformer.c reads it.
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import (BertConfig, BertForMaskedLM, BertForQuestionAnswering,
                          BertForSequenceClassification, BertForTokenClassification)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "tests", "fixtures", "transformer")
B, T, V, H, L, NH, F, C, CT = 4, 32, 1000, 64, 2, 4, 128, 3, 5
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
LR, BETA1, BETA2, EPS, WD, STEPS = 1e-3, 0.9, 0.999, 1e-8, 0.01, 10

torch.manual_seed(1234)
rng = np.random.default_rng(1234)
cfg = BertConfig(vocab_size=V, hidden_size=H, num_hidden_layers=L, num_attention_heads=NH,
                 intermediate_size=F, max_position_embeddings=T, type_vocab_size=2,
                 hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, layer_norm_eps=1e-12,
                 hidden_act="gelu", pad_token_id=PAD, initializer_range=0.02, num_labels=C)
cfg._attn_implementation = "eager"

# inputs: [CLS] tokens [SEP] then padding; row 1 is a pair (types 1 after its first SEP)
lengths = [32, 20, 9, 27]
ids = np.zeros((B, T), dtype=np.int64)
types = np.zeros((B, T), dtype=np.int64)
for b, n in enumerate(lengths):
    ids[b, 0] = CLS
    ids[b, 1:n - 1] = rng.integers(5, V, n - 2)
    ids[b, n - 1] = SEP
ids[1, 10] = SEP
types[1, 11:lengths[1]] = 1
attn = np.zeros((B, T), dtype=np.int64)
for b, n in enumerate(lengths):
    attn[b, :n] = 1

# a fixed MLM mask: 15% of the real non-special tokens, 80/10/10
masked_ids = ids.copy()
mask_pos, mask_target = [], []
for b, n in enumerate(lengths):
    for t in range(n):
        if ids[b, t] in (CLS, SEP, PAD) or rng.random() >= 0.15:
            continue
        mask_pos.append(b * T + t)
        mask_target.append(int(ids[b, t]))
        u = rng.random()
        masked_ids[b, t] = MASK if u < 0.8 else (int(rng.integers(0, V)) if u < 0.9 else ids[b, t])
mlm_labels = np.full((B, T), -100, dtype=np.int64)
for p, tgt in zip(mask_pos, mask_target):
    mlm_labels[p // T, p % T] = tgt
cls_labels = [0, 2, 1, 2]
# token labels: a class per real token, -100 on specials, padding and some sub-tokens
tok_labels = np.full((B, T), -100, dtype=np.int64)
for b, n in enumerate(lengths):
    for t in range(1, n - 1):
        if ids[b, t] != SEP and rng.random() >= 0.2:
            tok_labels[b, t] = int(rng.integers(0, CT))
# answer spans (inclusive token positions); row 2 has none: (0, 0), the [CLS]
qa_start, qa_end = [5, 12, 0, 20], [8, 15, 0, 25]


def perturb(model):
    # HF's init leaves biases 0 and LayerNorm gammas 1: move every tensor off
    # those values so that a wrong gradient of any of them shows
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.add_(0.05 * torch.randn_like(p))


def hf_name(n):
    return n[5:] if n.startswith("bert.") else n


mlm = BertForMaskedLM(cfg).float()
perturb(mlm)
clsm = BertForSequenceClassification(cfg).float()
perturb(clsm)
cfg_tok = BertConfig.from_dict(cfg.to_dict())
cfg_tok.num_labels = CT
cfg_tok._attn_implementation = "eager"
tokm = BertForTokenClassification(cfg_tok).float()
perturb(tokm)
cfg_qa = BertConfig.from_dict(cfg.to_dict())
cfg_qa.num_labels = 2
cfg_qa._attn_implementation = "eager"
qam = BertForQuestionAnswering(cfg_qa).float()
perturb(qam)
# the heads share the MLM model's encoder (a fine-tuning start)
enc = {k: v for k, v in mlm.state_dict().items() if k.startswith("bert.")}
for model in (clsm, tokm, qam):
    missing = model.load_state_dict(enc, strict=False)
    assert not missing.unexpected_keys, missing.unexpected_keys
word_rows = sorted(set(int(i) for i in ids.reshape(-1)))

blobs, index = [], {}
offset = 0


def add(key, t):
    global offset
    a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
    index[key] = {"offset": offset, "shape": list(a.shape)}
    blobs.append(a.tobytes())
    offset += a.size


x_ids = torch.tensor(ids)
x_masked = torch.tensor(masked_ids)
x_types = torch.tensor(types)
x_attn = torch.tensor(attn)


def run(model, task):
    if task == "mlm":
        out = model(input_ids=x_masked, token_type_ids=x_types, attention_mask=x_attn,
                    labels=torch.tensor(mlm_labels))
        logits = out.logits.reshape(B * T, V)[torch.tensor(mask_pos)]
    elif task == "classification":
        out = model(input_ids=x_ids, token_type_ids=x_types, attention_mask=x_attn,
                    labels=torch.tensor(cls_labels))
        logits = out.logits
    elif task == "token_classification":
        out = model(input_ids=x_ids, token_type_ids=x_types, attention_mask=x_attn,
                    labels=torch.tensor(tok_labels))
        logits = out.logits.reshape(B * T, CT)
    else:
        out = model(input_ids=x_ids, token_type_ids=x_types, attention_mask=x_attn,
                    start_positions=torch.tensor(qa_start), end_positions=torch.tensor(qa_end))
        logits = torch.stack([out.start_logits, out.end_logits])  # [2, B, T]
    return out.loss, logits


params = {}
result = {}
TASKS = (("mlm", mlm), ("classification", clsm), ("token_classification", tokm), ("qa", qam))
for task, model in TASKS:
    # the encoder is shared: "param/<name>"; each head is its task's: "<task>/param/<name>"
    for n, p in model.named_parameters():
        params.setdefault(f"param/{hf_name(n)}" if n.startswith("bert.") else f"{task}/param/{n}", p)
    model.zero_grad()
    loss, logits = run(model, task)
    loss.backward()
    add(f"{task}/logits", logits)
    for n, p in model.named_parameters():
        name = hf_name(n)
        if task != "mlm" and name == "embeddings.word_embeddings.weight":
            add(f"{task}/grad_rows/{name}", p.grad[torch.tensor(word_rows)])
        else:
            add(f"{task}/grad/{name}", p.grad)
    result[task] = {"loss": float(loss.detach())}

# the weights before any step (the encoder is the same in both models)
for n, p in sorted(params.items()):
    add(n, p)

for task, model in TASKS:
    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS,
                            weight_decay=WD)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss, _ = run(model, task)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    result[task]["adamw_losses"] = losses

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "parity.bin"), "wb") as f:
    for b in blobs:
        f.write(b)
meta = {
    "generator": "tools/make_transformer_fixture.py",
    "torch": torch.__version__,
    "config": {"layers": L, "hidden": H, "heads": NH, "ffn": F, "max_len": T, "vocab": V,
               "type_vocab": 2, "classes": C, "token_classes": CT, "layernorm_eps": 1e-12},
    "special_ids": {"pad": PAD, "unk": UNK, "cls": CLS, "sep": SEP, "mask": MASK},
    "adamw": {"lr": LR, "beta1": BETA1, "beta2": BETA2, "eps": EPS, "weight_decay": WD,
              "steps": STEPS},
    "inputs": {"B": B, "T": T, "lengths": lengths, "ids": ids.reshape(-1).tolist(),
               "masked_ids": masked_ids.reshape(-1).tolist(), "types": types.reshape(-1).tolist(),
               "mask_pos": mask_pos, "mask_target": mask_target, "labels": cls_labels,
               "token_labels": tok_labels.reshape(-1).tolist(), "answer_start": qa_start,
               "answer_end": qa_end, "word_rows": word_rows},
    "results": result,
    "tensors": index,
}
with open(os.path.join(OUT, "parity.json"), "w") as f:
    json.dump(meta, f, indent=1)
print(f"{offset} floats ({offset * 4 / 1e6:.2f} MB), {len(mask_pos)} masked tokens, losses " +
      ", ".join(f"{t} {r['loss']:.6f}" for t, r in result.items()))
