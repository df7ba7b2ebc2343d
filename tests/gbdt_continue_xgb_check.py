#!/usr/bin/python3
"""kaizen's GBDT continuation and refresh against XGBoost 1.7 (tests/gbdt.cmake).

usage: gbdt_continue_xgb_check.py KAIZEN

On a generated regression set whose features have at most 101 distinct values
each (so kaizen's cut points are XGBoost's: one bin per value, the cut
between two values the larger one), through the kaizen CLI:
  1. continuation: kaizen trains M rounds, exports the model
     (`kaizen gbdt export --format xgboost-json`), XGBoost continues it with
     xgb.train(..., xgb_model=export) for N rounds while kaizen continues the
     model file with train.init_from; the N new trees must predict the same:
     every row's margin added by them agrees to 1e-5 of the label's spread
     (XGBoost sums gradients from float margins, kaizen from double ones: the
     trees are the same, their leaves agree to float precision; measured
     1e-7 of the spread), and the continued models' RMSE to 0.1 % (the
     project's metric parity allows 2 %).
  2. refresh: the same M-round model refreshed on the data with the labels
     shifted (y + 1.5) by kaizen (process_type: update, updater: refresh) and
     by XGBoost's refresh updater; every leaf agrees to 1e-5 of its tree's
     largest leaf plus 1e-6 relative.
Exit 77 (skip) only when xgboost cannot be imported.
"""
import json
import os
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


def job(path, data, runs, extra):
    with open(path, "w") as f:
        f.write("model:\n  type: gbdt\n  objective: reg:squarederror\n")
        f.write(f"  eta: {ETA}\n  max_depth: {DEPTH}\n  max_bin: 256\n")
        for line in extra:
            f.write(f"  {line}\n")
        f.write(f"data:\n  train: {data}\ntrain:\n  seed: 1\n  threads: 1\n")
        f.write(f"output:\n  runs_dir: {runs}\n  experiment: x\n")


def xgb_params(base):
    return {"tree_method": "hist", "objective": "reg:squarederror", "eta": ETA,
            "max_depth": DEPTH, "max_bin": 256, "lambda": 1.0, "min_child_weight": 1.0,
            "base_score": base, "nthread": 1}


def main():
    kaizen = sys.argv[1]
    d = tempfile.mkdtemp(prefix="kz_gbdt_cont_")
    rng = np.random.default_rng(11)
    n = 2000
    x = np.round(rng.uniform(0, 1, size=(n, 4)), 2)
    x[rng.random(n) < 0.05, 0] = np.nan
    y = 3 * np.nan_to_num(x[:, 0], nan=0.4) + x[:, 1] ** 2 - x[:, 2] + 0.3 * rng.random(n)
    for name, lab in (("base", y), ("shift", y + 1.5)):
        with open(os.path.join(d, f"{name}.csv"), "w") as f:
            f.write("a,b,c,e,y\n")
            for r in range(n):
                cells = ["" if np.isnan(v) else f"{v:.2f}" for v in x[r]]
                f.write(",".join(cells + [f"{lab[r]:.4f}"]) + "\n")
        run([kaizen, "data", "import", "--kind", "tabular", "--input",
             os.path.join(d, f"{name}.csv"), "--out", os.path.join(d, name), "--label", "y",
             "--label-type", "numeric", "--valid-fraction", "0", "--seed", "1"])
    runs = os.path.join(d, "runs")
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="passive")
    job(os.path.join(d, "m.yaml"), os.path.join(d, "base"), runs, [f"num_round: {M}"])
    run([kaizen, "train", os.path.join(d, "m.yaml"), "--quiet", "--set", "output.run_id=m"], env)
    model_m = os.path.join(runs, "x", "m", "model.json")
    base = json.load(open(model_m))["base_score"][0]
    export = os.path.join(d, "m.xgb.json")
    run([kaizen, "gbdt", "export", "--model", model_m, "--format", "xgboost-json", "--out", export])
    X, Y = read_train(os.path.join(d, "base"))
    names = ["a", "b", "c", "e"]
    dtrain = xgb.DMatrix(X, label=Y, missing=np.nan, feature_names=names)

    # 1. continuation: N more rounds on the same data
    job(os.path.join(d, "c.yaml"), os.path.join(d, "base"), runs,
        [f"num_round: {N}"])
    run([kaizen, "train", os.path.join(d, "c.yaml"), "--quiet", "--set", "output.run_id=c",
         "--set", f"train.init_from={model_m}"], env)
    model_c = os.path.join(runs, "x", "c", "model.json")
    bst0 = xgb.Booster(model_file=export)
    # XGBoost's base_score is 0 in the export (the base margin is a stump tree)
    bst = xgb.train(xgb_params(0.0), dtrain, num_boost_round=N, xgb_model=bst0)
    xgb_before = bst0.predict(dtrain, output_margin=True).astype(np.float64)
    xgb_after = bst.predict(dtrain, output_margin=True).astype(np.float64)
    kz_before = predict(kaizen, model_m, os.path.join(d, "base"), d, "before")
    kz_after = predict(kaizen, model_c, os.path.join(d, "base"), d, "after")
    spread = float(Y.max() - Y.min())
    added = np.abs((kz_after - kz_before) - (xgb_after - xgb_before)).max()
    rmse_kz = float(np.sqrt(np.mean((kz_after - Y) ** 2)))
    rmse_xgb = float(np.sqrt(np.mean((xgb_after - Y) ** 2)))
    print(f"continuation: {N} new trees; largest difference of the margin they add "
          f"{added:.3g} (label spread {spread:.3g}); RMSE kaizen {rmse_kz:.6f} XGBoost {rmse_xgb:.6f}")
    if not added <= 1e-5 * spread:
        fails.append(f"continuation: new trees add margins differing by {added} > 1e-5 x {spread}")
    if not abs(rmse_kz - rmse_xgb) <= 1e-3 * rmse_xgb:
        fails.append(f"continuation: RMSE kaizen {rmse_kz} vs XGBoost {rmse_xgb}")
    kz_trees = json.load(open(model_c))["trees"]
    xg_trees = json.loads(bst.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    same_struct = sum(1 for a, b in zip(kz_trees[M:], xg_trees[M + 1:])
                      if a["left"] == b["left_children"] and a["feature"][:1] == b["split_indices"][:1])
    print(f"continuation: {same_struct} of {N} new trees have XGBoost's shape and root feature")

    # 2. refresh on shifted labels
    job(os.path.join(d, "r.yaml"), os.path.join(d, "shift"), runs,
        ["process_type: update", "updater: refresh"])
    run([kaizen, "train", os.path.join(d, "r.yaml"), "--quiet", "--set", "output.run_id=r",
         "--set", f"train.init_from={model_m}"], env)
    kz_ref = json.load(open(os.path.join(runs, "x", "r", "model.json")))["trees"]
    # Without its base stump: XGBoost's refresh would refit the stump too. XGBoost
    # holds the base margin (reg:squarederror: the mean) as its float base_score.
    raw = json.load(open(export))
    gb = raw["learner"]["gradient_booster"]["model"]
    if len(gb["trees"]) == M + 1:
        gb["trees"] = gb["trees"][1:]
        for i, t in enumerate(gb["trees"]):
            t["id"] = i
        gb["tree_info"] = gb["tree_info"][1:]
        gb["gbtree_model_param"]["num_trees"] = str(M)
        raw["learner"]["learner_model_param"]["base_score"] = repr(float(np.float32(base)))
    nostump = os.path.join(d, "m.nostump.json")
    json.dump(raw, open(nostump, "w"))
    Xs, Ys = read_train(os.path.join(d, "shift"))
    dshift = xgb.DMatrix(Xs, label=Ys, missing=np.nan, feature_names=names)
    p = xgb_params(float(np.float32(base)))
    p.update({"process_type": "update", "updater": "refresh", "refresh_leaf": True,
              "verbosity": 0})
    ref = xgb.train(p, dshift, num_boost_round=M, xgb_model=xgb.Booster(model_file=nostump))
    xr = json.loads(ref.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    worst = 0.0
    for i, (a, b) in enumerate(zip(kz_ref, xr)):
        if a["left"] != b["left_children"]:
            fails.append(f"refresh: tree {i} changed shape")
            continue
        big = max(abs(v) for v in a["leaf_value"])
        for node, l in enumerate(a["left"]):
            if l >= 0:
                continue
            kv, xv = a["leaf_value"][node], b["split_conditions"][node]
            tol = 1e-5 * big + 1e-6 * abs(xv)
            worst = max(worst, abs(kv - xv) / tol if tol > 0 else 0)
    print(f"refresh: {len(kz_ref)} trees; worst leaf difference {worst:.3g} x the tolerance")
    if len(kz_ref) != len(xr) or not worst <= 1.0:
        fails.append(f"refresh: leaves differ from XGBoost's ({worst:.3g} x tolerance, "
                     f"{len(kz_ref)} vs {len(xr)} trees)")
    if fails:
        for f in fails:
            print("FAIL:", f)
        return 1
    print("gbdt continuation and refresh agree with XGBoost")
    return 0


def predict(kaizen, model, data, d, tag):
    out = os.path.join(d, f"pred_{tag}.csv")
    run([kaizen, "predict", "--model", model, "--data", data, "--out", out, "--overwrite"])
    with open(out) as f:
        head = f.readline().strip().split(",")
        col = head.index("y") if "y" in head else len(head) - 1
        rows = [line.strip().split(",") for line in f]
    return np.array([float(r[col]) for r in rows])


if __name__ == "__main__":
    sys.exit(main())
