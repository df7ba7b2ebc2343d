#!/usr/bin/env python3
"""Writes tests/fixtures/tft/tft_parity.txt: a PyTorch reference for kaizen's TFT.

The network of models/tft/tft_net.c (docs/MODELS.md, "## tft") written again in
PyTorch (float64, autograd), on the tiny config of issue 17: hidden 16, 2 heads,
encoder k=12, horizon tau=4, 2 static inputs (one real, one categorical), 3 known
and 2 observed inputs, quantiles 0.1/0.5/0.9, 5 windows. Parameters are drawn here
in kaizen's block order under kaizen's names. The file records the inputs, the
parameters, the forecasts, the mean quantile loss, the gradient of every
parameter, and the losses of 10 AdamW steps on the same batch. tests/test_tft.c
runs the C network (fp32, CPU) on the same inputs and compares.

Run:  /work/venv/bin/python tools/make_tft_fixture.py [OUT]
"""
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

D, H, K, TAU, B = 16, 2, 12, 4, 5
N_SREAL, CARDS = 1, [3]
N_OBS, N_KNOWN = 2, 3
QUANTILES = [0.1, 0.5, 0.9]
ADAMW = dict(lr=0.0005, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
STEPS = 10
# The LSTMs through PyTorch's fused CPU kernel (what nn.LSTM runs) instead of a Python loop over
# the steps: same arithmetic, used by tools/torch_tft_bench.py for a fair speed comparison.
USE_FUSED_LSTM = False
DH = D // H
N_PAST = 1 + N_OBS + N_KNOWN
T = K + TAU


# ---- the parameter layout (models/tft/tft_layout.c, same order and names) ----
def layout():
    specs = []  # (name, shape, kind)

    def add(pre, field, shape, kind):
        specs.append((f"{pre}.{field}", shape, kind))

    def grn(pre, i, hid, out, ctx):
        add(pre, "fc1_w", (hid, i), "w")
        add(pre, "fc1_b", (hid,), "b")
        if ctx:
            add(pre, "ctx_w", (hid, ctx), "w")
        add(pre, "fc2_w", (hid, hid), "w")
        add(pre, "fc2_b", (hid,), "b")
        add(pre, "gate_w", (2 * out, hid), "w")
        add(pre, "gate_b", (2 * out,), "b")
        if i != out:
            add(pre, "skip_w", (out, i), "w")
            add(pre, "skip_b", (out,), "b")
        add(pre, "norm_w", (out,), "g")
        add(pre, "norm_b", (out,), "b")

    def gate(pre, i, out):
        add(pre, "gate_w", (2 * out, i), "w")
        add(pre, "gate_b", (2 * out,), "b")
        add(pre, "norm_w", (out,), "g")
        add(pre, "norm_b", (out,), "b")

    def vsn(pre, n_real, cards, ctx):
        n = n_real + len(cards)
        for i in range(n_real):
            add(f"{pre}.real{i}", "w", (D, 1), "w")
            add(f"{pre}.real{i}", "b", (D,), "b")
        for j, c in enumerate(cards):
            add(f"{pre}.cat{j}", "table", (c + 1, D), "e")
        grn(f"{pre}.flat", n * D, D, n, ctx)
        for i in range(n):
            grn(f"{pre}.var{i}", D, D, D, 0)

    def lstm(pre):
        add(pre, "wx", (4 * D, D), "w")
        add(pre, "wh", (4 * D, D), "w")
        add(pre, "b", (4 * D,), "b")

    vsn("vs", N_SREAL, CARDS, 0)
    for c in ("ctx_sel", "ctx_enr", "ctx_h", "ctx_c"):
        grn(c, D, D, D, 0)
    vsn("vp", N_PAST, [], D)
    vsn("vf", N_KNOWN, [], D)
    lstm("enc")
    lstm("dec")
    gate("gate_lstm", D, D)
    grn("enrich", D, D, D, D)
    add("attn", "wq", (H * DH, D), "w")
    add("attn", "bq", (H * DH,), "b")
    add("attn", "wk", (H * DH, D), "w")
    add("attn", "bk", (H * DH,), "b")
    add("attn", "wv", (DH, D), "w")
    add("attn", "bv", (DH,), "b")
    add("attn", "wo", (D, DH), "w")
    add("attn", "bo", (D,), "b")
    gate("gate_attn", D, D)
    grn("pos", D, D, D, 0)
    gate("gate_out", D, D)
    add("head", "w", (len(QUANTILES), D), "w")
    add("head", "b", (len(QUANTILES),), "b")
    return specs


def draw_params(rng, specs):
    P = {}
    for name, shape, kind in specs:
        if kind == "w":
            fan = shape[1] + shape[0]
            v = rng.uniform(-1, 1, size=shape) * math.sqrt(6.0 / fan)
        elif kind == "e":
            v = rng.normal(size=shape)
        elif kind == "g":
            v = 1.0 + 0.1 * rng.normal(size=shape)
        else:
            v = 0.1 * rng.normal(size=shape)
        # 4 decimals: short in the file, and the decimal string is the value
        # (both sides round it to the same float32)
        v = np.float32(np.round(v, 4))
        P[name] = torch.tensor(v, dtype=torch.float64, requires_grad=True)
    return P


# ---- the network ------------------------------------------------------------
def linear(x, w, b):
    return x @ w.T + b


def grn(P, pre, a, ctx=None):
    z1 = linear(a, P[pre + ".fc1_w"], P[pre + ".fc1_b"])
    if ctx is not None:
        z1 = z1 + ctx @ P[pre + ".ctx_w"].T  # [B, hid] broadcast over the steps
    h1 = F.elu(z1)
    z2 = linear(h1, P[pre + ".fc2_w"], P[pre + ".fc2_b"])
    g = F.glu(linear(z2, P[pre + ".gate_w"], P[pre + ".gate_b"]), dim=-1)
    skip = linear(a, P[pre + ".skip_w"], P[pre + ".skip_b"]) if pre + ".skip_w" in P else a
    out = P[pre + ".norm_w"].shape[0]
    return F.layer_norm(skip + g, (out,), P[pre + ".norm_w"], P[pre + ".norm_b"], eps=1e-5)


def gate(P, pre, x, skip):
    g = F.glu(linear(x, P[pre + ".gate_w"], P[pre + ".gate_b"]), dim=-1)
    out = P[pre + ".norm_w"].shape[0]
    return F.layer_norm(skip + g, (out,), P[pre + ".norm_w"], P[pre + ".norm_b"], eps=1e-5)


def vsn(P, pre, reals, cats, ctx):
    """reals: list of [...] tensors, cats: list of id tensors [...]."""
    E = [x.unsqueeze(-1) @ P[f"{pre}.real{i}.w"].T + P[f"{pre}.real{i}.b"] for i, x in enumerate(reals)]
    E += [P[f"{pre}.cat{j}.table"][ids] for j, ids in enumerate(cats)]
    w = torch.softmax(grn(P, pre + ".flat", torch.cat(E, dim=-1), ctx), dim=-1)
    Y = torch.stack([grn(P, f"{pre}.var{i}", e) for i, e in enumerate(E)], dim=-2)
    return (w.unsqueeze(-2) @ Y).squeeze(-2), w


def lstm_step(P, pre, g_in, h, c):
    g = g_in + h @ P[pre + ".wh"].T
    i, f, gg, o = g.split(D, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
    return torch.sigmoid(o) * torch.tanh(c), c


def forward(P, inp):
    s_real, s_cat, past, fut = inp["s_real"], inp["s_cat"], inp["past"], inp["fut"]
    cs, _ = vsn(P, "vs", [s_real[i] for i in range(N_SREAL)],
                [s_cat[:, j] for j in range(len(CARDS))], None)
    c_sel, c_enr, c_h, c_c = (grn(P, n, cs) for n in ("ctx_sel", "ctx_enr", "ctx_h", "ctx_c"))
    xi_enc, _ = vsn(P, "vp", [past[v] for v in range(N_PAST)], [], c_sel)  # [K, B, D]
    xi_dec, _ = vsn(P, "vf", [fut[v] for v in range(N_KNOWN)], [], c_sel)  # [TAU, B, D]
    xi = torch.cat([xi_enc, xi_dec], dim=0)
    gx = torch.cat([linear(xi_enc, P["enc.wx"], P["enc.b"]), linear(xi_dec, P["dec.wx"], P["dec.b"])])
    if USE_FUSED_LSTM:
        zb = torch.zeros(4 * D, dtype=xi.dtype)
        he, h1, c1 = torch._VF.lstm(xi_enc, (c_h[None], c_c[None]),
                                    [P["enc.wx"], P["enc.wh"], P["enc.b"], zb], True, 1, 0.0,
                                    True, False, False)
        hd, _, _ = torch._VF.lstm(xi_dec, (h1, c1), [P["dec.wx"], P["dec.wh"], P["dec.b"], zb],
                                  True, 1, 0.0, True, False, False)
        hs = torch.cat([he, hd])
    else:
        h, c, hs = c_h, c_c, []
        for t in range(T):
            h, c = lstm_step(P, "enc" if t < K else "dec", gx[t], h, c)
            hs.append(h)
        hs = torch.stack(hs)
    phi = gate(P, "gate_lstm", hs, xi)
    theta = grn(P, "enrich", phi, c_enr)
    q = linear(theta[K:], P["attn.wq"], P["attn.bq"]).view(TAU, B, H, DH).permute(1, 2, 0, 3)
    k = linear(theta, P["attn.wk"], P["attn.bk"]).view(T, B, H, DH).permute(1, 2, 0, 3)
    v = linear(theta, P["attn.wv"], P["attn.bv"]).permute(1, 0, 2)  # [B, T, DH]
    s = q @ k.transpose(-1, -2) / math.sqrt(DH)  # [B, H, TAU, T]
    allowed = torch.arange(T)[None, :] <= torch.arange(TAU)[:, None] + K
    a = torch.softmax(s.masked_fill(~allowed, float("-inf")), dim=-1)
    o = (a.mean(dim=1) @ v).permute(1, 0, 2)  # [TAU, B, DH]
    att = linear(o, P["attn.wo"], P["attn.bo"])
    delta = gate(P, "gate_attn", att, theta[K:])
    psi = grn(P, "pos", delta)
    out = gate(P, "gate_out", psi, phi[K:])
    return linear(out, P["head.w"], P["head.b"])  # [TAU, B, Q]


def qloss(pred, y):
    mask = ~torch.isnan(y)
    e = (torch.where(mask, y, torch.zeros_like(y))).unsqueeze(-1) - pred
    q = torch.tensor(QUANTILES, dtype=torch.float64)
    l = torch.maximum(q * e, (q - 1) * e) * mask.unsqueeze(-1)
    return l.sum() / (mask.sum() * len(QUANTILES))


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tft/tft_parity.txt"
    rng = np.random.default_rng(17)
    specs = layout()
    P = draw_params(rng, specs)
    f32 = lambda a: np.float32(a)
    raw = {
        "s_real": f32(rng.normal(size=(N_SREAL, B))),
        "s_cat": np.array([[0], [2], [1], [-1], [2]], dtype=np.int32),  # -1: unknown
        "past": f32(rng.normal(size=(N_PAST, K, B))),
        "fut": f32(rng.normal(size=(N_KNOWN, TAU, B))),
        "y": f32(rng.normal(size=(TAU, B))),
    }
    raw["y"][2, 3] = np.nan
    ids = np.where(raw["s_cat"] < 0, CARDS[0], raw["s_cat"])
    inp = {k: torch.tensor(v, dtype=torch.float64) for k, v in raw.items() if k != "s_cat"}
    inp["s_cat"] = torch.tensor(ids, dtype=torch.long)

    pred = forward(P, inp)
    loss = qloss(pred, inp["y"])
    loss.backward()
    names = [n for n, _, _ in specs]
    params0 = torch.cat([P[n].detach().reshape(-1) for n in names])
    grads = torch.cat([P[n].grad.reshape(-1) for n in names])

    opt = torch.optim.AdamW([P[n] for n in names], **ADAMW)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        l = qloss(forward(P, inp), inp["y"])
        losses.append(l.item())
        l.backward()
        opt.step()

    def line(f, key, vals, fmt="%.17g"):
        vals = np.asarray(vals).reshape(-1)
        f.write(key + " " + str(vals.size) + " " + " ".join(fmt % v for v in vals) + "\n")

    with open(out_path, "w") as f:
        f.write(f"# kaizen TFT parity fixture, written by tools/make_tft_fixture.py "
                f"(torch {torch.__version__}, float64)\n")
        f.write(f"# hidden {D}, heads {H}, k {K}, tau {TAU}, batch {B}, static 1 real + 1 "
                f"categorical (3), observed {N_OBS}, known {N_KNOWN}, quantiles {QUANTILES}; "
                f"AdamW {ADAMW}, {STEPS} steps\n")
        line(f, "dims", [D, H, K, TAU, B, N_SREAL, len(CARDS), CARDS[0], N_OBS, N_KNOWN], "%d")
        line(f, "quantiles", QUANTILES)
        line(f, "adamw", [ADAMW["lr"], ADAMW["betas"][0], ADAMW["betas"][1], ADAMW["eps"],
                          ADAMW["weight_decay"]])
        for n, shape, _ in specs:
            f.write(f"tensor {n} {int(np.prod(shape))}\n")
        line(f, "s_real", raw["s_real"], "%.9g")
        line(f, "s_cat", raw["s_cat"], "%d")
        line(f, "past", raw["past"], "%.9g")
        line(f, "fut", raw["fut"], "%.9g")
        line(f, "y", raw["y"], "%.9g")
        line(f, "params", np.round(params0.numpy(), 4), "%.4f")
        line(f, "pred", pred.detach().numpy(), "%.12g")
        line(f, "loss", [loss.item()])
        line(f, "grads", grads.numpy(), "%.8g")
        line(f, "losses", losses)
    print(f"wrote {out_path}: {len(names)} tensors, {params0.numel()} parameters, "
          f"loss {loss.item():.6f}, after {STEPS} AdamW steps {losses[-1]:.6f}")


if __name__ == "__main__":
    main()
