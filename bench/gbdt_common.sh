# Shared by the GBDT-vs-XGBoost bench scripts (sourced, not run): the tools
# they drive and the synthetic speed task's data set.
#   needs: here (the repository), build (the build directory)
kz=$build/kaizen
drv=$build/tests/bench_gbdt
ref="/usr/bin/python3 $here/tools/gbdt_xgb_reference.py"
[ -x "$kz" ] && [ -x "$drv" ] || { echo "build first: $kz and $drv are needed" >&2; exit 2; }
/usr/bin/python3 -c 'import xgboost, h5py' 2>/dev/null ||
  { echo "python3-xgboost and python3-h5py are needed" >&2; exit 77; }
xgb_version=$(/usr/bin/python3 -c 'import xgboost; print(xgboost.__version__)')

# field JSON KEY: one value of a JSON object ("nan" when it is null or absent).
field() { /usr/bin/python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("nan" if v is None else v)' "$1" "$2"; }

# synth_data DIR SEED: the 1,000,000 x 28 binary task (2% missing) as shards
# with an 80/20 split, generated once and reused.
synth_data() {
  [ -f "$1/manifest.json" ] && return 0
  "$drv" synth "$1.csv" 1000000 28 0.02 "$2"
  "$kz" data import --kind tabular --input "$1.csv" --out "$1" --label y \
    --label-type categorical --valid-fraction 0.2 --seed 1 --overwrite >/dev/null
  rm -f "$1.csv"
}
