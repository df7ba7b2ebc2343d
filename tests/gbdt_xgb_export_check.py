#!/usr/bin/python3
"""Checks `kaizen gbdt export --format xgboost-json` against XGBoost itself.

usage: gbdt_xgb_export_check.py TEST_GBDT_IO KAIZEN

test_gbdt_io --xgb-dir DIR writes hand-built kaizen models (every objective
XGBoost 1.7 has, numeric and categorical splits, missing values, 4-class
softprob) with random rows, kaizen's margins and kaizen's TreeSHAP values.
For each model this script runs the kaizen CLI to export it, loads the export
with xgboost.Booster and compares
  - margins (predict output_margin=True) to float precision,
  - SHAP values (pred_contribs=True, XGBoost's own TreeSHAP),
  - every importance type (`kaizen gbdt importance` vs Booster.get_score).
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


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {r.returncode}: {r.stderr}")
    return r.stdout


def check_shap_cli(d, kaizen):
    """`kaizen gbdt shap` on an imported data set vs XGBoost's pred_contribs.

    The model is test_gbdt_io's squarederror case (4 numeric + 2 categorical
    features) with its features renamed to the data set's columns."""
    rng = np.random.default_rng(7)
    csv = os.path.join(d, "shap_data.csv")
    rows = []
    with open(csv, "w") as f:
        f.write("a,b,c,d,e,f,y\n")
        for _ in range(120):
            num = ["" if rng.random() < 0.15 else f"{rng.uniform(-1.2, 1.2):.4f}" for _ in range(4)]
            cat = ["" if rng.random() < 0.15 else f"k{rng.integers(0, 6)}" for _ in range(2)]
            rows.append(num + cat)
            f.write(",".join(num + cat + [f"{rng.random():.3f}"]) + "\n")
    data_dir = os.path.join(d, "shap_data")
    run([kaizen, "data", "import", "--kind", "tabular", "--input", csv, "--out", data_dir,
         "--label", "y"])
    schema = json.load(open(os.path.join(data_dir, "manifest.json")))["schema"]
    cats = {c["name"]: c["categories"] for fld in schema["fields"] if fld["name"] == "categorical"
            for c in fld["columns"]}
    model = json.load(open(os.path.join(d, "squarederror.kaizen.json")))
    for feat, name in zip(model["features"], "abcdef"):
        feat["name"] = name
        if feat["type"] == "categorical":
            feat["n_categories"] = len(cats[name])
    kz_model = os.path.join(d, "shap_model.json")
    json.dump(model, open(kz_model, "w"))
    out = os.path.join(d, "shap.csv")
    run([kaizen, "gbdt", "shap", "--model", kz_model, "--data", data_dir, "--out", out])
    header = open(out).readline().strip().split(",")
    want_header = list("abcdef") + ["bias"]
    ours = np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)

    x = np.array([[float(v) if v else np.nan for v in r[:4]] +
                  [float(cats[n].index(v)) if v else np.nan for n, v in zip("ef", r[4:])]
                  for r in rows])
    xgb_model = os.path.join(d, "shap_model.xgb.json")
    run([kaizen, "gbdt", "export", "--model", kz_model, "--format", "xgboost-json", "--out",
         xgb_model])
    booster = xgb.Booster()
    booster.load_model(xgb_model)
    dm = xgb.DMatrix(x, missing=np.nan, feature_names=list("abcdef"),
                     feature_types=["q"] * 4 + ["c"] * 2, enable_categorical=True)
    ref = booster.predict(dm, pred_contribs=True)
    margin = booster.predict(dm, output_margin=True)
    ok = (header == want_header and ours.shape == ref.shape and
          np.max(np.abs(ours - ref)) < 1e-4 and np.max(np.abs(ours.sum(1) - margin)) < 1e-4)
    err = np.max(np.abs(ours - ref)) if ours.shape == ref.shape else float("inf")
    print(f"kaizen gbdt shap: {ours.shape[0]} rows, header {header}, max |kaizen - xgboost| "
          f"{err:.2e} {'ok' if ok else 'FAIL'}")
    # --rows limits the output (--overwrite: the first run's file is there).
    run([kaizen, "gbdt", "shap", "--model", kz_model, "--data", data_dir, "--out", out,
         "--rows", "7", "--overwrite"])
    n7 = len(open(out).read().strip().split("\n")) - 1
    print(f"kaizen gbdt shap --rows 7: {n7} rows {'ok' if n7 == 7 else 'FAIL'}")
    return (not ok) + (n7 != 7)


def f32_bits(values):
    return np.asarray(values, dtype=np.float64).astype(np.float32).view(np.uint32)


def check_values(kz_model, booster):
    """The floats XGBoost holds after loading the export (saved again as JSON by XGBoost) are the
    kaizen model's, bit for bit: thresholds, leaf values, gains, covers, -0 and extremes."""
    kz = json.load(open(kz_model))
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    trees = trees[len(trees) - len(kz["trees"]):]  # after any base-score stumps
    for t, x in zip(kz["trees"], trees):
        leaf = [left < 0 for left in t["left"]]
        empty = [c and n == 0 for c, n in zip(t["categorical"], t["cat_count"])]
        cond = [v if lf else (3.4028234663852886e38 if e else 0.0 if c else th) for v, lf, e, c, th
                in zip(t["leaf_value"], leaf, empty, t["categorical"], t["threshold"])]
        pairs = [(cond, x["split_conditions"]),
                 ([v if lf else 0.0 for v, lf in zip(t["leaf_value"], leaf)], x["base_weights"]),
                 ([0.0 if lf else g for g, lf in zip(t["gain"], leaf)], x["loss_changes"]),
                 (t["cover"], x["sum_hessian"])]
        for want, got in pairs:
            if not np.array_equal(f32_bits(want), f32_bits(got)):
                print(f"  want {want}\n  got  {got}")
                return 1
    return 0


def main():
    test_exe, kaizen = sys.argv[1], sys.argv[2]
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        run([test_exe, "--xgb-dir", d])
        cases = [line.split() for line in open(os.path.join(d, "cases.txt"))]
        for name, groups, n_num, n_cat, *flags in cases:
            groups, n_num, n_cat = int(groups), int(n_num), int(n_cat)
            nf = n_num + n_cat
            kz_model = os.path.join(d, f"{name}.kaizen.json")
            out = os.path.join(d, f"{name}.xgb.json")
            run([kaizen, "gbdt", "export", "--model", kz_model, "--format", "xgboost-json",
                 "--out", out])
            booster = xgb.Booster()
            booster.load_model(out)
            bad = check_values(kz_model, booster)
            failures += bad
            print(f"{name}: every float read by XGBoost bit for bit {'FAIL' if bad else 'ok'}")
            if "values" in flags:
                continue

            data = np.loadtxt(os.path.join(d, f"{name}.rows.csv"), delimiter=",", ndmin=2)
            x = data[:, :nf]
            margin = data[:, nf:nf + groups]
            shap = data[:, nf + groups:].reshape(len(data), groups, nf + 1)
            meta = json.load(open(kz_model))
            names = [f["name"] for f in meta["features"]]
            types = ["q" if f["type"] == "numeric" else "c" for f in meta["features"]]
            dm = xgb.DMatrix(x, missing=np.nan, feature_names=names, feature_types=types,
                             enable_categorical=n_cat > 0)

            got = booster.predict(dm, output_margin=True).reshape(len(data), groups)
            err = np.max(np.abs(got - margin) / (1 + np.abs(margin)))
            ok = err < 2e-6
            failures += not ok
            print(f"{name}: {len(data)} rows, {groups} group(s), {n_num} numeric + {n_cat} "
                  f"categorical: max relative margin error {err:.2e} {'ok' if ok else 'FAIL'}")

            # XGBoost's TreeSHAP runs in float; kaizen's in double.
            contrib = booster.predict(dm, pred_contribs=True).reshape(len(data), groups, nf + 1)
            serr = np.max(np.abs(contrib - shap))
            ok = serr < 1e-5
            failures += not ok
            print(f"{name}: max |SHAP kaizen - xgboost| {serr:.2e} {'ok' if ok else 'FAIL'}")

            for imp in ["weight", "gain", "total_gain", "cover", "total_cover"]:
                lines = run([kaizen, "gbdt", "importance", "--model", kz_model, "--type",
                             imp]).strip().split("\n")
                if lines[0] != f"feature\t{imp}":
                    failures += 1
                    print(f"{name}: importance {imp}: bad header {lines[0]!r} FAIL")
                    continue
                ours = {k: float(v) for k, v in (ln.rsplit("\t", 1) for ln in lines[1:])}
                ref = booster.get_score(importance_type=imp)
                bad = set(ours) != set(ref) or any(
                    abs(ours[k] - ref[k]) > 1e-5 * (1 + abs(ref[k])) for k in ref)
                failures += bad
                if bad:
                    print(f"{name}: importance {imp}: kaizen {ours} xgboost {ref} FAIL")
            print(f"{name}: importance (5 types) vs get_score checked")
        failures += check_shap_cli(d, kaizen)
    if failures:
        sys.exit(f"{failures} check(s) failed")
    print("all XGBoost export checks passed")


if __name__ == "__main__":
    main()
