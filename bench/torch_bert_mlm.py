#!/usr/bin/env python3
"""PyTorch side of bench/transformer_cpu.sh: masked-LM training tokens/s of a
BERT encoder (Hugging Face BertForMaskedLM, which runs the vocabulary decoder on
every position) with AdamW in fp32 on the CPU, on random token ids.

Run from a venv with torch and transformers (never needed by the engine):
  python bench/torch_bert_mlm.py --layers 4 --hidden 256 --heads 4 --ffn 1024 \
      --seq 128 --batch 16 --vocab 30522 --threads 2 --steps 10
Prints one line: torch <version> tokens/s <rate> step_s <median seconds>
cpu_tokens/s <rate> cpu_step_s <median process CPU seconds, all threads>. On a
shared machine the CPU-time rate is the steadier one: it does not count the
time the process waits for a core.
"""
import argparse
import statistics
import time

import torch
from transformers import BertConfig, BertForMaskedLM


def main():
    ap = argparse.ArgumentParser()
    for k, v in dict(layers=4, hidden=256, heads=4, ffn=1024, seq=128, batch=16, vocab=30522,
                     threads=2, steps=10, warmup=2, seed=0).items():
        ap.add_argument("--" + k, type=int, default=v)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    cfg = BertConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers,
                     num_attention_heads=a.heads, intermediate_size=a.ffn,
                     max_position_embeddings=max(512, a.seq), hidden_act="gelu",
                     hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    model = BertForMaskedLM(cfg)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    g = torch.Generator().manual_seed(a.seed)
    times, cpu = [], []
    for step in range(a.warmup + a.steps):
        ids = torch.randint(5, a.vocab, (a.batch, a.seq), generator=g)
        labels = torch.full_like(ids, -100)
        pick = torch.rand((a.batch, a.seq), generator=g) < 0.15
        labels[pick] = ids[pick]
        ids[pick] = 4  # a [MASK]-like id
        att = torch.ones_like(ids)
        t0, c0 = time.perf_counter(), time.process_time()
        out = model(input_ids=ids, attention_mask=att, labels=labels)
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if step >= a.warmup:
            times.append(dt)
            cpu.append(dc)
    med, cmed = statistics.median(times), statistics.median(cpu)
    n = a.batch * a.seq
    print(f"torch {torch.__version__} tokens/s {n / med:.1f} step_s {med:.4f} "
          f"cpu_tokens/s {n / cmed:.1f} cpu_step_s {cmed:.4f}")


if __name__ == "__main__":
    main()
