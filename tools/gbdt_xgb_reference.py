#!/usr/bin/python3
"""XGBoost reference for kaizen's GBDT (tests/gbdt.cmake, bench/gbdt_vs_xgboost.sh).

Reads the train and valid splits of a kaizen tabular data set (HDF5 shards,
via h5py), trains XGBoost's `hist` booster with the given parameters and
prints one JSON object: the valid metrics as XGBoost computes them, the
training time and the prediction throughput.

Exit code 77 (the test suite's "skipped") when xgboost is missing; a missing
h5py (installed alongside it by tools/install-deps.sh --with-test) is an error.
Run it with /usr/bin/python3 (Debian's python3-xgboost, python3-h5py).
"""
import argparse
import json
import os
import sys
import time

try:
    import numpy as np
    import xgboost as xgb
except ImportError as e:  # the reference itself is absent: skip, do not fail
    print(f"skipped: {e}", file=sys.stderr)
    sys.exit(77)
try:
    import h5py
except ImportError as e:  # installed with python3-xgboost by tools/install-deps.sh --with-test
    print(f"python3-h5py is needed to read the shards: {e}", file=sys.stderr)
    sys.exit(1)


def read_split(d, split):
    """numeric, categorical (float, NaN = missing), label of one split."""
    with open(os.path.join(d, "manifest.json")) as f:
        manifest = json.load(f)
    parts = {"numeric": [], "categorical": [], "label": []}
    for shard in manifest["shards"]:
        if shard["split"] != split:
            continue
        with h5py.File(os.path.join(d, shard["file"]), "r") as h:
            for k in parts:
                if k in h:
                    parts[k].append(h[k][...])
    if not parts["label"]:
        return None
    n = sum(len(x) for x in parts["label"])
    num = np.concatenate(parts["numeric"]).astype(np.float32) if parts["numeric"] else np.zeros((n, 0), np.float32)
    if parts["categorical"]:
        cat = np.concatenate(parts["categorical"]).astype(np.float32)
        cat[cat < 0] = np.nan
    else:
        cat = np.zeros((n, 0), np.float32)
    label = np.concatenate(parts["label"]).reshape(n).astype(np.float64)
    return num, cat, label


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="kaizen data set directory (train + valid splits)")
    ap.add_argument("--objective", default="binary:logistic")
    ap.add_argument("--metric", action="append", help="eval metric(s), XGBoost names")
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--eta", type=float, default=0.3)
    ap.add_argument("--max-depth", type=int, default=6)
    ap.add_argument("--max-bin", type=int, default=256)
    ap.add_argument("--lambda", dest="lam", type=float, default=1.0)
    ap.add_argument("--min-child-weight", type=float, default=1.0)
    ap.add_argument("--max-cat-to-onehot", type=int, default=4)
    ap.add_argument("--num-class", type=int, default=0)
    ap.add_argument("--nthread", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    tr = read_split(args.data, "train")
    va = read_split(args.data, "valid")
    if tr is None or va is None:
        print(f"{args.data}: needs train and valid splits with labels", file=sys.stderr)
        return 2

    def dmatrix(s):
        num, cat, label = s
        x = np.concatenate([num, cat], axis=1)
        types = ["q"] * num.shape[1] + ["c"] * cat.shape[1]
        return xgb.DMatrix(x, label=label, missing=np.nan, feature_types=types,
                           enable_categorical=cat.shape[1] > 0, nthread=args.nthread or -1)

    dtrain, dvalid = dmatrix(tr), dmatrix(va)
    y = tr[2]
    # The same start as kaizen: base_score from the data (XGBoost 1.7 takes
    # it in prediction space and defaults to 0.5).
    params = {
        "tree_method": "hist", "objective": args.objective, "eta": args.eta,
        "max_depth": args.max_depth, "max_bin": args.max_bin, "lambda": args.lam,
        "min_child_weight": args.min_child_weight, "max_cat_to_onehot": args.max_cat_to_onehot,
        "nthread": args.nthread or os.cpu_count(), "seed": args.seed,
    }
    if args.objective in ("reg:squarederror", "binary:logistic", "count:poisson"):
        params["base_score"] = float(np.mean(y))
    elif args.objective == "reg:absoluteerror":
        params["base_score"] = float(np.median(y))
    if args.objective == "multi:softprob":
        params["num_class"] = args.num_class or int(y.max()) + 1
    metrics = args.metric or []
    if metrics:
        params["eval_metric"] = metrics
    t0 = time.perf_counter()
    bst = xgb.train(params, dtrain, num_boost_round=args.rounds)
    train_s = time.perf_counter() - t0
    out = {"train_s": train_s, "rows_train": int(len(y)), "rows_valid": int(len(va[2]))}
    line = bst.eval(dvalid, name="valid")
    for item in line.split("\t")[1:]:
        k, v = item.rsplit(":", 1)
        out[k] = float(v)
    # A fresh DMatrix: predicting dvalid again would hit XGBoost's cache of
    # the predictions eval() just made.
    dpred = dmatrix(va)
    t0 = time.perf_counter()
    pred = bst.predict(dpred)
    t = time.perf_counter() - t0
    out["predict_rows_per_s"] = len(va[2]) / t if t > 0 else None
    if args.objective == "multi:softprob":
        out["valid-accuracy"] = float(np.mean(np.argmax(pred, axis=1) == va[2]))
    elif args.objective == "binary:logistic":
        out["valid-accuracy"] = float(np.mean((pred > 0.5) == (va[2] > 0.5)))
        out["valid_pos"] = int(np.sum(va[2] > 0.5))  # class sizes: the AUC's standard error
        out["valid_neg"] = int(len(va[2])) - out["valid_pos"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
