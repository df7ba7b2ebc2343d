#!/usr/bin/env bash
# Data-parallel GBDT through the CLI (docs/DISTRIBUTED.md): `mpirun -np 2`
# and `-np 3 kaizen train job.yaml` write a model.json byte-identical to one
# process's, for
#   (a) a binary job with row and feature sampling, missing values and a
#       categorical feature, early stopping on the valid split;
#   (b) a 3-class job (the class-parallel streams), lossguide;
#   (c) regression with 256 bins (missing bits) and 2 threads per rank;
# (d) round checkpoints written on 2 ranks resume on 3 ranks and on one
# process to the uninterrupted model, byte for byte;
# (e) train.init_from: the binary model and (c)'s regression model continued
#     on 2 ranks = one process, byte for byte;
# and, with more than one rank, a job without exact_histograms, one with a
# leaf-refitting objective and a refresh (process_type: update) are refused. Run as root on 2
# cores in CI: the Open MPI settings for that are in dist_mpirun.sh.
# usage: dist_gbdt.sh KAIZEN
set -u
kaizen="$1"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/dist_mpirun.sh"
have_mpi || { echo "skipped: no mpirun"; exit 77; }
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
cd "$tmp" || exit 1

awk 'BEGIN { srand(11); print "a,b,c,d,e,color,y,z,v";
  for (i = 0; i < 6001; i++) {
    a = rand(); b = rand(); c = rand(); d = rand(); e = rand();
    col = rand() < 0.3 ? "red" : (rand() < 0.5 ? "green" : "blue");
    s = a * 3 + b * b - c + (col == "red") * 0.7 + 0.3 * rand();
    y = s > 1.6 ? "hi" : (s > 0.9 ? "mid" : "lo");
    z = (a * d + b * b * c + rand() * 0.5 > 0.8) ? "yes" : "no";
    v = 10 * a + 5 * b * c - 3 * d + rand();
    if (rand() < 0.05) a = "";
    printf "%s,%.5f,%.5f,%.5f,%.5f,%s,%s,%s,%.4f\n", a, b, c, d, e, col, y, z, v } }' >synth.csv
"$kaizen" data import --kind tabular --input synth.csv --out bin --label z --ignore y,v \
  --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import z"; exit 1; }
"$kaizen" data import --kind tabular --input synth.csv --out multi --label y --ignore z,v \
  --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import y"; exit 1; }
"$kaizen" data import --kind tabular --input synth.csv --out reg --label v --ignore y,z \
  --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import v"; exit 1; }

# job NAME DATA THREADS [model lines...]
job() {
  local name="$1" data="$2" threads="$3"; shift 3
  {
    echo "model:"
    echo "  type: gbdt"
    for l in "$@"; do echo "  $l"; done
    echo "data:"
    echo "  train: $data"
    echo "train:"
    echo "  seed: 5"
    echo "  threads: $threads"
    echo "  device: cpu"
    echo "output:"
    echo "  runs_dir: runs"
    echo "  experiment: $name"
  } >"$name.yaml"
}
job bin bin 1 "num_round: 25" "max_depth: 4" "subsample: 0.8" "colsample_bytree: 0.8" \
  "colsample_bynode: 0.7" "early_stopping_rounds: 5" "exact_histograms: true"
job multi multi 1 "num_round: 12" "grow_policy: lossguide" "max_depth: 0" "max_leaves: 12" \
  "subsample: 0.7" "exact_histograms: true"
job reg reg 2 "num_round: 15" "max_bin: 256" "eta: 0.2" "exact_histograms: true"

for name in bin multi reg; do
  OMP_NUM_THREADS=2 "$kaizen" train "$name.yaml" --quiet --set output.run_id=one \
    >"$name.one.out" 2>&1 || { fail "$name one process: $(cat "$name.one.out")"; continue; }
  for n in 2 3; do
    OMP_NUM_THREADS=1 mpirun_np $n "$kaizen" train "$name.yaml" --quiet \
      --set output.run_id=np$n >"$name.np$n.out" 2>&1 ||
      { fail "$name mpirun -np $n: $(tail -20 "$name.np$n.out")"; continue; }
    cmp -s "runs/$name/one/model.json" "runs/$name/np$n/model.json" ||
      fail "$name: mpirun -np $n model.json differs from one process's"
    # metrics.csv too, all but wall_s (train metrics over every rank's rows)
    cmp -s <(cut -d, -f1,3- "runs/$name/one/metrics.csv") <(cut -d, -f1,3- "runs/$name/np$n/metrics.csv") ||
      fail "$name: mpirun -np $n metrics.csv differs: $(diff <(cut -d, -f1,3- "runs/$name/one/metrics.csv") <(cut -d, -f1,3- "runs/$name/np$n/metrics.csv") | head -4)"
    # one run directory: rank 0's
    [ "$(ls "runs/$name" | wc -l)" = "$((n == 2 ? 2 : 3))" ] || fail "$name: run dirs $(ls "runs/$name")"
  done
  echo "$name: $(cat "$name.one.out")"
done

# round checkpoints: a 2-rank run checkpoints at round 6 (margins gathered:
# the file one process writes); made to look interrupted (summary.json
# removed), it resumes on 3 ranks and on 1 process to the uninterrupted model
job ck bin 1 "num_round: 12" "max_depth: 4" "subsample: 0.8" "exact_histograms: true"
"$kaizen" train ck.yaml --quiet --set output.run_id=one >ck.one.out 2>&1 || fail "ck one: $(cat ck.one.out)"
for to in 3 1; do
  mpirun_np 2 "$kaizen" train ck.yaml --quiet --set output.run_id=cut$to \
    --set output.checkpoint_every=6 >ck.cut$to.out 2>&1 || fail "ck -np 2: $(tail -5 ck.cut$to.out)"
  ls runs/ck/cut$to/checkpoints/gbdt-*6.kzg >/dev/null 2>&1 || fail "ck: no round-6 checkpoint: $(ls runs/ck/cut$to/checkpoints)"
  rm -f runs/ck/cut$to/summary.json runs/ck/cut$to/model.json
  if [ $to = 1 ]; then
    "$kaizen" train ck.yaml --quiet --resume --set output.run_id=cut$to \
      --set output.checkpoint_every=6 >ck.res$to.out 2>&1 || fail "ck resume on 1: $(tail -5 ck.res$to.out)"
  else
    mpirun_np $to "$kaizen" train ck.yaml --quiet --resume --set output.run_id=cut$to \
      --set output.checkpoint_every=6 >ck.res$to.out 2>&1 || fail "ck resume on $to: $(tail -5 ck.res$to.out)"
  fi
  cmp -s runs/ck/one/model.json runs/ck/cut$to/model.json ||
    fail "ck: 2 ranks, resumed on $to: model.json differs from one process's"
done
# continuation (train.init_from): each rank starts from the model's predictions
# of its own rows; byte-identical to one process's continuation
cont=(--set train.init_from="$tmp/runs/reg/one/model.json" --set model.num_round=6)
OMP_NUM_THREADS=2 "$kaizen" train reg.yaml --quiet --set output.run_id=cont1 "${cont[@]}" \
  >cont1.out 2>&1 || fail "continuation, one process: $(cat cont1.out)"
OMP_NUM_THREADS=1 mpirun_np 2 "$kaizen" train reg.yaml --quiet --set output.run_id=cont2 \
  "${cont[@]}" >cont2.out 2>&1 || fail "continuation, mpirun -np 2: $(tail -20 cont2.out)"
cmp -s runs/reg/cont1/model.json runs/reg/cont2/model.json ||
  fail "continuation: mpirun -np 2 model.json differs from one process's"
# a refresh runs on one process
OMP_NUM_THREADS=1 mpirun_np 2 "$kaizen" train reg.yaml --quiet --set output.run_id=ref2 \
  "${cont[@]}" --set model.process_type=update --set model.updater=refresh >ref2.out 2>&1 &&
  fail "a refresh ran on 2 ranks"
grep -q "refresh) runs on one process" ref2.out || fail "refresh on 2 ranks: $(cat ref2.out)"

# train.init_from: 2 ranks continue a model with new trees as one process does
cat >cont.yaml <<EOT
model: {type: gbdt, num_round: 6, max_depth: 3, exact_histograms: true}
data: {train: bin}
train: {seed: 5, threads: 1, device: cpu, init_from: $PWD/runs/bin/one/model.json}
output: {runs_dir: runs, experiment: cont}
EOT
"$kaizen" train cont.yaml --quiet --set output.run_id=one >cont.one.out 2>&1 || fail "cont one: $(cat cont.one.out)"
mpirun_np 2 "$kaizen" train cont.yaml --quiet --set output.run_id=np2 >cont.np2.out 2>&1 ||
  fail "cont -np 2: $(tail -5 cont.np2.out)"
cmp -s runs/cont/one/model.json runs/cont/np2/model.json ||
  fail "train.init_from: 2 ranks' continued model differs from one process's"

# refused with more than one rank
job noexact bin 1 "num_round: 3"
OMP_NUM_THREADS=1 mpirun_np 2 "$kaizen" train noexact.yaml --quiet >noexact.out 2>&1 &&
  fail "a job without exact_histograms trained on 2 ranks"
grep -q "model.exact_histograms" noexact.out || fail "noexact message: $(cat noexact.out)"
grep -q "rank [01] of 2 failed" noexact.out || fail "noexact: no rank named: $(cat noexact.out)"
job quant reg 1 "num_round: 3" "objective: reg:quantile" "exact_histograms: true"
OMP_NUM_THREADS=1 mpirun_np 2 "$kaizen" train quant.yaml --quiet >quant.out 2>&1 &&
  fail "a quantile job trained on 2 ranks"
grep -q "refit leaves" quant.out || fail "quantile message: $(cat quant.out)"

[ $fails -eq 0 ] && echo "dist_gbdt: all ok"
exit $((fails > 0))
