#!/usr/bin/env python3
"""PyTorch side of bench/tft_speed.sh: training windows per second of the same TFT
(tools/make_tft_fixture.py's network, float32, AdamW) on random windows.

usage: torch_tft_bench.py BATCH HIDDEN HEADS K TAU STEPS THREADS
"""
import importlib.util
import os
import sys
import time

import numpy as np
import torch


def main():
    B, D, H, K, TAU, STEPS, THREADS = (int(a) for a in sys.argv[1:8])
    torch.set_num_threads(THREADS)
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("tft_ref", os.path.join(here, "make_tft_fixture.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    m.D, m.H, m.K, m.TAU, m.B, m.DH, m.T = D, H, K, TAU, B, D // H, K + TAU
    m.CARDS, m.N_SREAL, m.N_OBS, m.N_KNOWN = [10], 1, 2, 3
    m.N_PAST = 1 + m.N_OBS + m.N_KNOWN
    m.USE_FUSED_LSTM = True
    rng = np.random.default_rng(1)
    specs = m.layout()
    P = {n: t.detach().float().requires_grad_(True) for n, t in m.draw_params(rng, specs).items()}
    f = lambda *s: torch.tensor(rng.uniform(-0.5, 0.5, size=s), dtype=torch.float32)
    inp = {"s_real": f(1, B), "past": f(m.N_PAST, K, B), "fut": f(m.N_KNOWN, TAU, B),
           "y": f(TAU, B), "s_cat": torch.tensor(np.arange(B).reshape(B, 1) % 10)}
    opt = torch.optim.AdamW(list(P.values()), lr=1e-3, weight_decay=0.0)
    for s in range(STEPS + 2):
        if s == 2:
            t0 = time.perf_counter()
        opt.zero_grad()
        loss = m.qloss(m.forward(P, inp), inp["y"])
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    n = sum(p.numel() for p in P.values())
    print(f"pytorch tft: {n} params, batch {B}, {STEPS} steps in {dt:.3f} s: "
          f"{B * STEPS / dt:.1f} windows/s (loss {loss.item():.4f})")


if __name__ == "__main__":
    main()
