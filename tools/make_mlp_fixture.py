#!/usr/bin/env python3
"""Writes tests/fixtures/mlp/mlp_parity.txt: a PyTorch reference for the tabular MLP.

The same tiny MLP is built in PyTorch (float64) from fixed rows and fixed weights
(drawn here with numpy, in kaizen's parameter-block order) and the script records,
for a classification case (GELU) and a regression case (ReLU):
  - the model outputs (class probabilities / predictions in label units),
  - the mean loss (cross-entropy / MSE on the standardised label),
  - the gradient of every parameter, flattened in block order,
  - the parameters after 3 AdamW steps on the same batch.
tests/test_mlp.c rebuilds the data set from the rows in the file, creates the model
with the same config, loads the weights and compares.

Needs torch (pip install torch numpy). Run:  python3 tools/make_mlp_fixture.py [OUT]
Preprocessing mirrors docs/MODELS.md: population mean/std in double over non-missing
values, NaN -> 0 after standardisation plus a missing indicator for columns with a
missing value, categorical code -1 or unseen -> the extra last embedding row,
embedding_dim auto = min(16, ceil(1.6 * n^0.56)).
"""
import math
import sys

import numpy as np
import torch

ROWS = 8
HIDDEN = [5, 4]
CARDS = [3, 5]  # categories per categorical column
N_CLASSES = 3
ADAMW = dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
STEPS = 3


def f32(a):
    return np.asarray(a, dtype=np.float32)


def make_rows(rng):
    num = f32(rng.normal(size=(ROWS, 3)) * [1.0, 3.0, 0.5] + [0.0, 10.0, -2.0])
    num[1, 1] = np.nan  # column 1 has missing values -> one indicator
    num[5, 1] = np.nan
    cat = np.stack([rng.integers(0, CARDS[0], ROWS), rng.integers(0, CARDS[1], ROWS)], 1)
    cat = cat.astype(np.int32)
    cat[2, 0] = -1  # missing category -> last embedding row
    cls = np.array([0, 1, 2, 1, 0, 2, 2, 1], dtype=np.int32)
    val = f32(rng.normal(size=ROWS) * 4.0 + 20.0)
    return num, cat, cls, val


def emb_dim(n):
    return min(16, math.ceil(1.6 * max(n, 1) ** 0.56))


def standardise(num):
    x = num.astype(np.float64)
    cols, miss_cols = [], []
    for i in range(x.shape[1]):
        v = x[:, i]
        ok = ~np.isnan(v)
        mean = v[ok].mean()
        std = math.sqrt(((v[ok] - mean) ** 2).mean())
        std = std if std > 1e-12 else 1.0
        cols.append(np.where(ok, (v - mean) / std, 0.0).astype(np.float32))
        if (~ok).any():
            miss_cols.append((~ok).astype(np.float32))
    return np.stack(cols + miss_cols, 1)


def layout(in_dim, out_dim):
    """(name, shape) in kaizen's block order."""
    shapes = [("emb%d" % j, (c + 1, emb_dim(c))) for j, c in enumerate(CARDS)]
    widths = [in_dim] + HIDDEN + [out_dim]
    for l in range(len(widths) - 1):
        shapes.append(("w%d" % l, (widths[l + 1], widths[l])))
        shapes.append(("b%d" % l, (widths[l + 1],)))
    return shapes


def forward(p, x_num, cat, act):
    parts = [torch.from_numpy(x_num.astype(np.float64))]
    for j, c in enumerate(CARDS):
        ids = np.where((cat[:, j] >= 0) & (cat[:, j] < c), cat[:, j], c)
        parts.append(p["emb%d" % j][torch.from_numpy(ids.astype(np.int64))])
    h = torch.cat(parts, 1)
    n_layers = len(HIDDEN) + 1
    for l in range(n_layers):
        h = h @ p["w%d" % l].T + p["b%d" % l]
        if l + 1 < n_layers:
            h = torch.nn.functional.gelu(h) if act == "gelu" else torch.relu(h)
    return h


def run_case(name, act, task, rows, rng, out):
    num, cat, cls, val = rows
    x_num = standardise(num)
    out_dim = N_CLASSES if task == "classification" else 1
    in_dim = x_num.shape[1] + sum(emb_dim(c) for c in CARDS)
    shapes = layout(in_dim, out_dim)
    init = {n: f32(rng.normal(size=s) * 0.5) for n, s in shapes}
    p = {n: torch.tensor(v.astype(np.float64), requires_grad=True) for n, v in init.items()}
    lmean = float(val.astype(np.float64).mean())
    lstd = math.sqrt(float(((val.astype(np.float64) - lmean) ** 2).mean()))
    ystd = torch.from_numpy(((val.astype(np.float64) - lmean) / lstd).astype(np.float32).astype(np.float64))

    def loss_of(z):
        if task == "classification":
            return torch.nn.functional.cross_entropy(z, torch.from_numpy(cls.astype(np.int64)))
        return torch.nn.functional.mse_loss(z[:, 0], ystd)

    z = forward(p, x_num, cat, act)
    loss = loss_of(z)
    loss.backward()
    if task == "classification":
        outputs = torch.softmax(z, 1).detach().numpy().ravel()
    else:
        outputs = (z[:, 0].detach().numpy() * lstd + lmean).ravel()
    grads = np.concatenate([p[n].grad.numpy().ravel() for n, _ in shapes])

    opt = torch.optim.AdamW([p[n] for n, _ in shapes], **ADAMW)
    for _ in range(STEPS):
        opt.zero_grad()
        loss_of(forward(p, x_num, cat, act)).backward()
        opt.step()
    after = np.concatenate([p[n].detach().numpy().ravel() for n, _ in shapes])
    params = np.concatenate([init[n].ravel() for n, _ in shapes])

    out.append("case %s %s %s" % (name, act, task))
    out.append("loss 1 %.17g" % loss.item())
    for key, arr in (("params", params), ("outputs", outputs), ("grads", grads), ("after", after)):
        out.append("%s %d %s" % (key, arr.size, " ".join("%.9g" % v for v in arr)))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/mlp/mlp_parity.txt"
    torch.manual_seed(0)
    rng = np.random.default_rng(20261122)
    rows = make_rows(rng)
    num, cat, cls, val = rows
    out = [
        "# kaizen MLP parity fixture, written by tools/make_mlp_fixture.py (torch %s, float64)"
        % torch.__version__,
        "# hidden %s, dropout 0, AdamW lr %g betas %s eps %g weight_decay %g, %d steps"
        % (HIDDEN, ADAMW["lr"], ADAMW["betas"], ADAMW["eps"], ADAMW["weight_decay"], STEPS),
        "rows 1 %d" % ROWS,
        "numeric %d %s" % (num.size, " ".join("nan" if np.isnan(v) else "%.9g" % v for v in num.ravel())),
        "categorical %d %s" % (cat.size, " ".join(str(v) for v in cat.ravel())),
        "class %d %s" % (cls.size, " ".join(str(v) for v in cls)),
        "value %d %s" % (val.size, " ".join("%.9g" % v for v in val)),
        "adamw 5 %g %g %g %g %g" % (ADAMW["lr"], ADAMW["betas"][0], ADAMW["betas"][1], ADAMW["eps"],
                                    ADAMW["weight_decay"]),
    ]
    run_case("cls", "gelu", "classification", rows, rng, out)
    run_case("reg", "relu", "regression", rows, rng, out)
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out) + "\n")
    import os

    os.replace(path + ".tmp", path)
    print("wrote", path)


if __name__ == "__main__":
    main()
