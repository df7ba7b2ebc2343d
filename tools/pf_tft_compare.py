#!/usr/bin/env python3
"""pytorch-forecasting's TemporalFusionTransformer on the windows kaizen's TFT
is scored on (docs/MODELS.md, "## tft"; issue 17's accuracy comparison).

The split is kaizen's (`kaizen data import --valid-fraction F`): the last
ceil(n * F) steps of every series are the validation span. Training windows
lie inside the training span; evaluation windows are every window (stride 1)
whose horizon lies in the validation span, the encoder reaching back into
the training span. The target is scaled per series (mean, standard deviation
of the training span) as kaizen's `model.scaling: series` does. Metrics as
`kaizen eval` prints them: q_risk_pNN = 2 sum QL_q / sum |y|, and the
seasonal naive (the value `season` steps before, from the window's origin)
on the same steps.

usage (the /work/venv interpreter, with pytorch-forecasting installed):
  tools/pf_tft_compare.py --csv ../shared/data/txhousing.csv --series city --time date \
      --target sales --known month --valid-fraction 0.065 --k 24 --tau 6 --season 12 \
      --hidden 16 --heads 4 --epochs 25
  tools/pf_tft_compare.py --csv ../shared/data/taylor.csv --time t --target demand \
      --valid-fraction 0.2 --k 336 --tau 48 --season 336 --cycles 48,336 --stride 2 ...
"""
import argparse
import math
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--series", help="series id column (default: one series)")
    ap.add_argument("--time", required=True, help="time column (numeric, sorts the rows)")
    ap.add_argument("--target", required=True)
    ap.add_argument("--known", default="", help="known-future numeric columns, comma-separated")
    ap.add_argument("--observed", default="", help="observed numeric columns, comma-separated")
    ap.add_argument("--cycles", default="", help="periods in steps: sin/cos known inputs")
    ap.add_argument("--lags", default="", help="the target L >= tau steps before, known inputs")
    ap.add_argument("--valid-fraction", type=float, required=True)
    ap.add_argument("--k", type=int, required=True)
    ap.add_argument("--tau", type=int, required=True)
    ap.add_argument("--season", type=int, required=True)
    ap.add_argument("--stride", type=int, default=1,
                    help="kaizen's model.stride: an epoch is 1/stride of the training windows")
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=25)
    ap.add_argument("--quantiles", default="0.1,0.5,0.9")
    ap.add_argument("--patience", type=int, default=0,
                    help="stop after this many epochs without a better val_loss (0: never), "
                         "as kaizen's train.early_stopping.patience")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
    from pytorch_forecasting import TemporalFusionTransformer, TimeSeriesDataSet
    from pytorch_forecasting.data import GroupNormalizer
    from pytorch_forecasting.metrics import QuantileLoss

    torch.set_num_threads(a.threads)
    pl.seed_everything(a.seed, workers=True)
    qs = [float(q) for q in a.quantiles.split(",")]
    known = [c for c in a.known.split(",") if c]
    observed = [c for c in a.observed.split(",") if c]
    cycles = [int(c) for c in a.cycles.split(",") if c]

    df = pd.read_csv(a.csv)
    sid = a.series or "__series"
    if not a.series:
        df[sid] = "all"
    df[sid] = df[sid].astype(str)
    df = df.sort_values([sid, a.time]).reset_index(drop=True)
    df["time_idx"] = df.groupby(sid).cumcount()
    df[a.target] = df[a.target].astype(np.float32)
    # pytorch-forecasting takes no missing values: a missing target enters as
    # its series' training mean (what kaizen's scaled 0 is) with weight 0 in
    # the loss (kaizen skips unlabelled steps); observed inputs likewise
    df["y_raw"] = df[a.target]
    df["weight"] = df[a.target].notna().astype(np.float32)
    for p in cycles:  # the phase from the step count, as kaizen's model.cycles
        step = np.diff(np.sort(df[a.time].unique())).min() if df[a.time].nunique() > 1 else 1.0
        ph = np.mod(np.round(df[a.time].to_numpy(np.float64) / step), p) / p
        df[f"cycle{p}_sin"] = np.sin(2 * np.pi * ph).astype(np.float32)
        df[f"cycle{p}_cos"] = np.cos(2 * np.pi * ph).astype(np.float32)
        known += [f"cycle{p}_sin", f"cycle{p}_cos"]
    for L in [int(c) for c in a.lags.split(",") if c]:  # as kaizen's model.lags
        if L < a.tau:
            sys.exit(f"lag {L} < tau {a.tau}")
        df[f"lag{L}"] = df.groupby(sid)["y_raw"].shift(L).astype(np.float32)
        known.append(f"lag{L}")
    n = df.groupby(sid)["time_idx"].transform("max") + 1
    df["n_valid"] = np.ceil(n * a.valid_fraction).astype(int)
    df["is_valid"] = df["time_idx"] >= n - df["n_valid"]
    first_valid = (n - df["n_valid"]).groupby(df[sid]).first()
    if first_valid.nunique() != 1:
        sys.exit("series of different lengths: this script cuts one validation start for all")
    cut = int(first_valid.iloc[0])
    train_mean = df[~df["is_valid"]].groupby(sid)[a.target].transform("mean")
    df[a.target] = df[a.target].fillna(df[sid].map(df[~df["is_valid"]].groupby(sid)[a.target].mean()))
    for c in observed:
        df[c] = df[c].fillna(df[~df["is_valid"]][c].mean())
    for c in [c for c in known if c.startswith("lag")]:  # before the series' start: its mean
        df[c] = df[c].fillna(df[sid].map(df[~df["is_valid"]].groupby(sid)["y_raw"].mean()))
    del train_mean
    train_df = df[~df["is_valid"]]

    common = dict(
        time_idx="time_idx", target=a.target, group_ids=[sid], weight="weight",
        min_encoder_length=a.k, max_encoder_length=a.k,
        min_prediction_length=a.tau, max_prediction_length=a.tau,
        static_categoricals=[sid],
        time_varying_known_reals=known, time_varying_unknown_reals=[a.target] + observed,
        add_relative_time_idx=True, add_target_scales=False, add_encoder_length=False,
        target_normalizer=GroupNormalizer(groups=[sid], transformation=None, center=True),
    )
    training = TimeSeriesDataSet(train_df, **common)
    # every window whose first forecast step is in the validation span
    valid = TimeSeriesDataSet.from_dataset(training, df, min_prediction_idx=cut,
                                           stop_randomization=True, predict=False)
    n_train_windows = len(training)
    per_epoch = max(1, math.ceil(n_train_windows / a.stride / a.batch))
    tl = training.to_dataloader(train=True, batch_size=a.batch, num_workers=0)
    vl = valid.to_dataloader(train=False, batch_size=256, num_workers=0)

    model = TemporalFusionTransformer.from_dataset(
        training, hidden_size=a.hidden, attention_head_size=a.heads, dropout=a.dropout,
        hidden_continuous_size=a.hidden, output_size=len(qs), loss=QuantileLoss(qs),
        learning_rate=a.lr, log_interval=-1, reduce_on_plateau_patience=1000)
    ckpt = ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=1,
                           dirpath=tempfile.mkdtemp(prefix="pf_tft_"))
    trainer = pl.Trainer(max_epochs=a.epochs, accelerator="cpu", devices=1, gradient_clip_val=1.0,
                         default_root_dir=ckpt.dirpath,
                         limit_train_batches=per_epoch, logger=False,
                         callbacks=[ckpt] + ([EarlyStopping("val_loss", patience=a.patience)]
                                             if a.patience > 0 else []),
                         enable_progress_bar=False, enable_model_summary=False,
                         deterministic=False)
    t0 = time.time()
    trainer.fit(model, train_dataloaders=tl, val_dataloaders=vl)
    train_s = time.time() - t0
    best = TemporalFusionTransformer.load_from_checkpoint(ckpt.best_model_path)

    def score(m):
        out = m.predict(vl, mode="quantiles", return_x=True, trainer_kwargs=dict(
            accelerator="cpu", logger=False, enable_progress_bar=False))
        pred = out.output.numpy().astype(np.float64)  # [N, tau, Q], target units
        x = out.x
        g = x["groups"][:, 0].numpy()
        t_first = x["decoder_time_idx"][:, 0].numpy()
        classes = training.get_parameters()["categorical_encoders"][sid].classes_
        name_of = {v: k for k, v in classes.items()}
        series_y = {s: d.sort_values("time_idx")["y_raw"].to_numpy(np.float64)
                    for s, d in df.groupby(sid)}
        ql = np.zeros(len(qs))
        abs_y = naive_e = 0.0
        for w in range(pred.shape[0]):
            sy = series_y[name_of[int(g[w])]]
            p = int(t_first[w])
            for i in range(a.tau):
                j = p - a.season + i % a.season
                nv = sy[j] if j >= 0 else math.nan
                yy = sy[p + i]  # NaN: missing, not scored (as kaizen)
                if math.isnan(yy) or math.isnan(nv):
                    continue
                for qi, q in enumerate(qs):
                    e = yy - pred[w, i, qi]
                    ql[qi] += max(q * e, (q - 1) * e)
                abs_y += abs(yy)
                naive_e += abs(yy - nv)
        return pred.shape[0], [2 * v / abs_y for v in ql], naive_e / abs_y

    nw, qr, naive = score(best)
    _, qr_last, _ = score(model)
    print(f"pytorch-forecasting {__import__('pytorch_forecasting').__version__} TFT: hidden "
          f"{a.hidden}, heads {a.heads}, dropout {a.dropout}, k {a.k}, tau {a.tau}, lr {a.lr}, "
          f"batch {a.batch}, {a.epochs} epochs of {per_epoch} batches "
          f"({n_train_windows} training windows, stride {a.stride}), {train_s:.0f} s")
    print(f"evaluation windows {nw}, epochs run {trainer.current_epoch}, best checkpoint "
          f"{ckpt.best_model_path.rsplit('/', 1)[-1]}")
    names = " ".join(f"q_risk_p{100 * q:g}" for q in qs)
    print(f"best by val_loss ({names}): " + " ".join(f"{v:.6g}" for v in qr))
    print(f"last epoch       ({names}): " + " ".join(f"{v:.6g}" for v in qr_last))
    print(f"naive_q_risk_p50 {naive:.6g}")


if __name__ == "__main__":
    main()
