#!/usr/bin/python3
"""kaizen's GBDT continuation and refresh against XGBoost 1.7 (tests/gbdt.cmake).

usage: gbdt_continue_xgb_check.py KAIZEN

For reg:squarederror and binary:logistic, on a generated set whose features
have at most 101 distinct values each (so kaizen's cut points are XGBoost's:
one bin per value, the cut between two values the larger one), through the
kaizen CLI:
  1. continuation: kaizen trains M rounds and exports the model (`kaizen gbdt
     export --format xgboost-json`); XGBoost continues the export with
     xgb.train(..., xgb_model=export) for N rounds while kaizen continues the
     model file with train.init_from. The N new trees must have XGBoost's
     shapes and split features, and the margin they add to each row must
     agree to 1e-5 of the largest one (XGBoost takes gradients from float
     margins, kaizen from double ones, so leaves agree to float precision:
     measured 1.4e-6 and 3e-7 of it; the project's metric parity allows 2 %).
  2. refresh: the same M-round model refreshed on new labels (regression:
     y + 1.5; logistic: another threshold) by kaizen (process_type: update,
     updater: refresh) and by XGBoost's refresh updater: every leaf must agree
     to 1e-5 of its tree's largest leaf plus 1e-6 of itself.
Exit 77 (skip) only when xgboost cannot be imported.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import xgboost as xgb
except ImportError as e:  # the one legitimate skip
    print(f"skipped: cannot import xgboost ({e})")
    sys.exit(77)
try:
    import h5py
except ImportError as e:
    sys.exit(f"FAIL: python3-h5py is needed to read the shards: {e}")

M, N, ETA, DEPTH = 8, 6, 0.3, 4
fails = []


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}: {r.stderr}{r.stdout}")
    return r.stdout


def read_train(d):
    """numeric features and label of the train split, as kaizen reads them."""
    man = json.load(open(os.path.join(d, "manifest.json")))
    num, lab = [], []
    for s in man["shards"]:
        if s["split"] != "train":
            continue
        with h5py.File(os.path.join(d, s["file"]), "r") as h:
            num.append(h["numeric"][...])
            lab.append(h["label"][...])
    return np.concatenate(num).astype(np.float32), np.concatenate(lab).reshape(-1).astype(np.float32)


def margins(model, X):
    """kaizen's margins of a numeric-only model.json: the base score plus the
    leaves (floats) in tree order, summed in double as kaizen does."""
    m = json.load(open(model))
    out = np.full(len(X), m["base_score"][0], dtype=np.float64)
    for t in m["trees"]:
        for r in range(len(X)):
            i = 0
            while t["left"][i] >= 0:
                x = X[r, t["feature"][i]]
                left = t["default_left"][i] if np.isnan(x) else x < np.float32(t["threshold"][i])
                i = t["left"][i] if left else t["right"][i]
            out[r] += float(np.float32(t["leaf_value"][i]))
    return out


def job(path, data, runs, objective, extra):
    with open(path, "w") as f:
        f.write(f"model:\n  type: gbdt\n  objective: {objective}\n")
        f.write(f"  eta: {ETA}\n  max_depth: {DEPTH}\n  max_bin: 256\n")
        for line in extra:
            f.write(f"  {line}\n")
        f.write(f"data:\n  train: {data}\ntrain:\n  seed: 1\n  threads: 1\n")
        f.write(f"output:\n  runs_dir: {runs}\n  experiment: x\n")


def xgb_params(objective, base):
    return {"tree_method": "hist", "objective": objective, "eta": ETA, "max_depth": DEPTH,
            "max_bin": 256, "lambda": 1.0, "min_child_weight": 1.0, "base_score": base,
            "nthread": 1, "verbosity": 0}


def write_set(d, name, x, lab):
    with open(os.path.join(d, f"{name}.csv"), "w") as f:
        f.write("a,b,c,e,y\n")
        for r in range(len(x)):
            cells = ["" if np.isnan(v) else f"{v:.2f}" for v in x[r]]
            f.write(",".join(cells + [f"{lab[r]:.4f}"]) + "\n")


def check(kaizen, d, objective, x, y, y_new, env):
    tag = objective.split(":")[0]
    for name, lab in ((f"{tag}_base", y), (f"{tag}_new", y_new)):
        write_set(d, name, x, lab)
        run([kaizen, "data", "import", "--kind", "tabular", "--input",
             os.path.join(d, f"{name}.csv"), "--out", os.path.join(d, name), "--label", "y",
             "--label-type", "numeric", "--valid-fraction", "0", "--seed", "1"])
    runs = os.path.join(d, "runs")
    base_data, new_data = os.path.join(d, f"{tag}_base"), os.path.join(d, f"{tag}_new")
    yaml = os.path.join(d, f"{tag}.yaml")
    job(yaml, base_data, runs, objective, [f"num_round: {M}"])
    run([kaizen, "train", yaml, "--quiet", "--set", f"output.run_id={tag}_m"], env)
    model_m = os.path.join(runs, "x", f"{tag}_m", "model.json")
    base = json.load(open(model_m))["base_score"][0]
    export = os.path.join(d, f"{tag}_m.xgb.json")
    run([kaizen, "gbdt", "export", "--model", model_m, "--format", "xgboost-json", "--out", export])
    X, Y = read_train(base_data)
    names = ["a", "b", "c", "e"]
    dtrain = xgb.DMatrix(X, label=Y, missing=np.nan, feature_names=names)

    # 1. continuation: N more rounds on the same data. The export's XGBoost
    # base_score is the value of margin 0 (0, 0.5 for logistic); the base
    # margin is a stump tree.
    run([kaizen, "train", yaml, "--quiet", "--set", f"output.run_id={tag}_c", "--set",
         f"model.num_round={N}", "--set", f"train.init_from={model_m}"], env)
    model_c = os.path.join(runs, "x", f"{tag}_c", "model.json")
    bst0 = xgb.Booster(model_file=export)
    zero = 0.5 if objective == "binary:logistic" else 0.0
    bst = xgb.train(xgb_params(objective, zero), dtrain, num_boost_round=N, xgb_model=bst0)
    xgb_added = (bst.predict(dtrain, output_margin=True).astype(np.float64)
                 - bst0.predict(dtrain, output_margin=True).astype(np.float64))
    kz_before, kz_after = margins(model_m, X), margins(model_c, X)
    scale = float(np.abs(kz_after - kz_before).max())
    added = float(np.abs((kz_after - kz_before) - xgb_added).max())
    kz_trees = json.load(open(model_c))["trees"]
    xg_trees = json.loads(bst.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    first = len(bst0.get_dump())  # M, plus the base stump when the base margin is not 0
    same = sum(1 for a, b in zip(kz_trees[M:], xg_trees[first:])
               if a["left"] == b["left_children"] and a["feature"] == [
                   f if l >= 0 else -1 for f, l in zip(b["split_indices"], b["left_children"])])
    print(f"{objective} continuation: {same} of {N} new trees have XGBoost's shape and features; "
          f"the margins they add differ by at most {added:.3g} (largest added {scale:.3g})")
    if same != N:
        fails.append(f"{objective} continuation: {N - same} new trees differ from XGBoost's")
    if not added <= 1e-5 * scale:
        fails.append(f"{objective} continuation: added margins differ by {added} > 1e-5 x {scale}")

    # 2. refresh on new labels. XGBoost would refit the base stump too, so it
    # gets the model without it and the base margin as its base_score (a
    # float, in the objective's space).
    run([kaizen, "train", yaml, "--quiet", "--set", f"output.run_id={tag}_r", "--set",
         f"train.init_from={model_m}", "--set", f"data.train={new_data}", "--set",
         "model.process_type=update", "--set", "model.updater=refresh"], env)
    kz_ref = json.load(open(os.path.join(runs, "x", f"{tag}_r", "model.json")))["trees"]
    raw = json.load(open(export))
    gb = raw["learner"]["gradient_booster"]["model"]
    if len(gb["trees"]) == M + 1:
        gb["trees"] = gb["trees"][1:]
        for i, t in enumerate(gb["trees"]):
            t["id"] = i
        gb["tree_info"] = gb["tree_info"][1:]
        gb["gbtree_model_param"]["num_trees"] = str(M)
    b_out = 1.0 / (1.0 + np.exp(-base)) if objective == "binary:logistic" else base
    b_out = float(np.float32(b_out))
    raw["learner"]["learner_model_param"]["base_score"] = repr(b_out)
    nostump = os.path.join(d, f"{tag}_m.nostump.json")
    json.dump(raw, open(nostump, "w"))
    Xs, Ys = read_train(new_data)
    dnew = xgb.DMatrix(Xs, label=Ys, missing=np.nan, feature_names=names)
    p = xgb_params(objective, b_out)
    p.update({"process_type": "update", "updater": "refresh", "refresh_leaf": True})
    ref = xgb.train(p, dnew, num_boost_round=M, xgb_model=xgb.Booster(model_file=nostump))
    xr = json.loads(ref.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    worst = 0.0
    for i, (a, b) in enumerate(zip(kz_ref, xr)):
        if a["left"] != b["left_children"]:
            fails.append(f"{objective} refresh: tree {i} changed shape")
            continue
        big = max(abs(v) for v in a["leaf_value"])
        for node, l in enumerate(a["left"]):
            if l >= 0:
                continue
            kv, xv = a["leaf_value"][node], b["split_conditions"][node]
            tol = 1e-5 * big + 1e-6 * abs(xv)
            worst = max(worst, abs(kv - xv) / tol if tol > 0 else 0)
    print(f"{objective} refresh: {len(kz_ref)} trees; worst leaf difference {worst:.3g} x the "
          "tolerance")
    if len(kz_ref) != len(xr) or not worst <= 1.0:
        fails.append(f"{objective} refresh: leaves differ from XGBoost's ({worst:.3g} x "
                     f"tolerance, {len(kz_ref)} vs {len(xr)} trees)")


def main():
    kaizen = sys.argv[1]
    d = tempfile.mkdtemp(prefix="kz_gbdt_cont_")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    rng = np.random.default_rng(11)
    n = 2000
    x = np.round(rng.uniform(0, 1, size=(n, 4)), 2)
    x[rng.random(n) < 0.05, 0] = np.nan
    y = 3 * np.nan_to_num(x[:, 0], nan=0.4) + x[:, 1] ** 2 - x[:, 2] + 0.3 * rng.random(n)
    try:
        check(kaizen, d, "reg:squarederror", x, y, y + 1.5, env)
        med = float(np.median(y))
        check(kaizen, d, "binary:logistic", x, (y > med).astype(float),
              (y > med + 0.4).astype(float), env)
    finally:
        if not os.environ.get("KEEP"):
            shutil.rmtree(d, ignore_errors=True)
    if fails:
        for f in fails:
            print("FAIL:", f)
        return 1
    print("gbdt continuation and refresh agree with XGBoost")
    return 0


if __name__ == "__main__":
    sys.exit(main())
