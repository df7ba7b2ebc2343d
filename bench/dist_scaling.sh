#!/usr/bin/env bash
# Data-parallel scaling on this machine (docs/DISTRIBUTED.md, "Checking
# scaling"): samples/s of `kaizen train` on 1 rank and on 2 ranks under
# mpirun with the same global batch, one OpenMP thread per rank, for an MLP,
# a small transformer (MLM on Austen lines, when ../shared/data is there) and
# GBDT (rows x rounds per second; the 2-rank model is checked byte-identical).
# Whole-job wall time: start-up, evaluation and model writing included, data
# import excluded. Prints a table; the last line is the headline ratio (the
# transformer's samples/s on 2 ranks over 1, the MLP's without the data).
# usage: bench/dist_scaling.sh [KAIZEN] [SHARED_DATA]
set -eu
kaizen=$(realpath "${1:-build-cpu/kaizen}")
shared=$(realpath "${2:-../shared/data}" 2>/dev/null || true)
here=$(cd "$(dirname "$0")" && pwd)
vocab="$here/../tests/fixtures/wordpiece/vocab_austen_cased.txt"
. "$here/../tests/dist_mpirun.sh" # root and oversubscription settings for this VM
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export OMP_NUM_THREADS=1

awk 'BEGIN { srand(5); printf "y"; for (j = 0; j < 32; j++) printf ",x%d", j; print "";
  for (i = 0; i < 40000; i++) { s = 0; line = "";
    for (j = 0; j < 32; j++) { x = rand(); s += (j % 3 == 0 ? x : -x / 2); line = line sprintf(",%.5f", x) }
    print (s > 0 ? "pos" : "neg") line } }' >data.csv
"$kaizen" data import --kind tabular --input data.csv --out data --label y --valid-fraction 0.05 \
  --seed 1 >/dev/null
rows=$(awk 'END { print NR - 1 }' data.csv)

secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
row() { printf "%-34s %9.2f %12.0f\n" "$1" "$2" "$(echo "$3 / $2" | bc -l)"; }

cat >mlp1.yaml <<EOT
model: {type: mlp, hidden: [512, 512], dropout: 0}
data: {train: data}
train: {lr: 0.001, batch_size: 256, steps: 150, log_every: 1000, seed: 1}
output: {runs_dir: runs, experiment: mlp1}
EOT
sed 's/batch_size: 256/batch_size: 128/; s/mlp1/mlp2/' mlp1.yaml >mlp2.yaml
cat >gbdt.yaml <<EOT
model: {type: gbdt, num_round: 100, max_depth: 6, exact_histograms: true}
data: {train: data}
train: {seed: 1, device: cpu}
output: {runs_dir: runs, experiment: gbdt}
EOT
m1=$(secs "$kaizen" train mlp1.yaml --quiet)
m2=$(secs mpirun_np 2 "$kaizen" train mlp2.yaml --quiet)
g1=$(secs "$kaizen" train gbdt.yaml --quiet)
g2=$(secs mpirun_np 2 "$kaizen" train gbdt.yaml --quiet)
cmp $(ls runs/gbdt/*/model.json) # 1 and 2 ranks: the same model
t1="" t2=""
if [ -n "$shared" ] && [ -f "$shared/austen.csv" ]; then
  awk 'NR == 1 || NR % 4 == 1' "$shared/austen.csv" >austen.csv
  "$kaizen" data import --kind text --input austen.csv --out austen --text-column text \
    --label book --vocab "$vocab" --cased --max-len 64 --min-chars 40 --valid-fraction 0.2 \
    --seed 1 >/dev/null
  cat >tf1.yaml <<EOT
model: {type: transformer, task: mlm, layers: 2, hidden: 128, heads: 4, ffn: 512}
data: {train: austen}
train: {lr: 0.0005, batch_size: 32, steps: 120, log_every: 1000, seed: 1}
output: {runs_dir: runs, experiment: tf1}
EOT
  sed 's/batch_size: 32/batch_size: 16/; s/tf1/tf2/' tf1.yaml >tf2.yaml
  t1=$(secs "$kaizen" train tf1.yaml --quiet --set output.run_id=a)
  t2=$(secs mpirun_np 2 "$kaizen" train tf2.yaml --quiet --set output.run_id=a)
  # the gradient all-reduce overlapped with the backward pass (the default;
  # this model is one 4 Mi-float bucket) against the blocking all-reduce
  # after it, and against buckets of 256 Ki floats started as the layers
  # finish (docs/DISTRIBUTED.md "Overlap")
  t2b=$(KZ_DIST_OVERLAP=0 secs mpirun_np 2 "$kaizen" train tf2.yaml --quiet --set output.run_id=b)
  t2s=$(KZ_DIST_BUCKET_FLOATS=262144 secs mpirun_np 2 "$kaizen" train tf2.yaml --quiet \
    --set output.run_id=s)
  # the training loop alone (the run summary's wall_s: no start-up, no
  # mpirun launch, no final model writing)
  loop() { sed -n 's/.*"wall_s": *\([0-9.e+-]*\).*/\1/p' "runs/$1/summary.json" | head -1; }
  l1=$(loop tf1/a) l2=$(loop tf2/a) l2b=$(loop tf2/b) l2s=$(loop tf2/s)
fi

echo "host: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), $(nproc --all) CPUs; load average after the runs $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-34s %9s %12s\n" case seconds "samples/s"
row "mlp 512x512, batch 256, 1 rank" "$m1" $((150 * 256))
row "mlp 512x512, 2 ranks x 128" "$m2" $((150 * 256))
if [ -n "$t1" ]; then
  row "transformer mlm 2x128, 1 rank" "$t1" $((120 * 32))
  row "transformer mlm, 2 ranks x 16" "$t2" $((120 * 32))
  row "  same, overlap off (blocking)" "$t2b" $((120 * 32))
  row "  same, buckets of 256 Ki floats" "$t2s" $((120 * 32))
  echo "training loop only (run summary wall_s):"
  row "transformer, 1 rank" "$l1" $((120 * 32))
  row "transformer, 2 ranks" "$l2" $((120 * 32))
  row "  same, overlap off (blocking)" "$l2b" $((120 * 32))
  row "  same, buckets of 256 Ki floats" "$l2s" $((120 * 32))
fi
row "gbdt 100 rounds, 1 rank (rows)" "$g1" "$rows * 0.95 * 100"
row "gbdt 100 rounds, 2 ranks (rows)" "$g2" "$rows * 0.95 * 100"
printf "gbdt 2-rank speed-up %.2fx\n" "$(echo "$g1 / $g2" | bc -l)"
printf "mlp 2-rank speed-up %.2fx\n" "$(echo "$m1 / $m2" | bc -l)"
[ -n "$t1" ] && printf "transformer 2-rank speed-up %.2fx (whole job), %.2fx (training loop)\n" \
  "$(echo "$t1 / $t2" | bc -l)" "$(echo "$l1 / $l2" | bc -l)"
exit 0
