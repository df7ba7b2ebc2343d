#!/usr/bin/env bash
# Data-parallel scaling on this machine (docs/DISTRIBUTED.md, "Checking
# scaling"): samples/s of `kaizen train` on 1 rank and on 2 ranks under
# mpirun with the same global batch, for an MLP and for GBDT (rows x rounds
# per second), one OpenMP thread per rank. Prints a table; the last line is
# the headline ratio (MLP samples/s on 2 ranks over 1).
# usage: bench/dist_scaling.sh [KAIZEN]   (default build-cpu/kaizen)
set -eu
kaizen=$(realpath "${1:-build-cpu/kaizen}")
here=$(cd "$(dirname "$0")" && pwd)
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

mlp() { # NAME BATCH
  cat >"$1.yaml" <<EOT
model: {type: mlp, hidden: [512, 512], dropout: 0}
data: {train: data}
train: {lr: 0.001, batch_size: $2, steps: 60, log_every: 1000, eval_every: 0, seed: 1}
output: {runs_dir: runs, experiment: $1}
EOT
}
gbdt() {
  cat >"$1.yaml" <<EOT
model: {type: gbdt, num_round: 30, max_depth: 6, exact_histograms: true}
data: {train: data}
train: {seed: 1, device: cpu}
output: {runs_dir: runs, experiment: $1}
EOT
}
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
mlp mlp1 256
mlp mlp2 128
gbdt gbdt1
rows=$(awk 'END { print NR - 1 }' data.csv)
m1=$(secs "$kaizen" train mlp1.yaml --quiet)
m2=$(secs mpirun_np 2 "$kaizen" train mlp2.yaml --quiet)
g1=$(secs "$kaizen" train gbdt1.yaml --quiet)
g2=$(secs mpirun_np 2 "$kaizen" train gbdt1.yaml --quiet)
cmp $(ls runs/gbdt1/*/model.json) # 1 and 2 ranks: the same model
echo "host: $(lscpu | awk -F: '/Model name/ { gsub(/^ +/, "", $2); print $2 }'), $(nproc --all) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "whole-job wall time (start-up, data import excluded; evaluation and model writing included)"
printf "%-28s %10s %14s\n" case seconds "samples/s"
mlp_s=$((60 * 256))
printf "%-28s %10.2f %14.0f\n" "mlp 512x512, 1 rank" "$m1" "$(echo "$mlp_s / $m1" | bc -l)"
printf "%-28s %10.2f %14.0f\n" "mlp 512x512, 2 ranks" "$m2" "$(echo "$mlp_s / $m2" | bc -l)"
printf "%-28s %10.2f %14.0f\n" "gbdt 30 rounds, 1 rank" "$g1" "$(echo "$rows * 0.95 * 30 / $g1" | bc -l)"
printf "%-28s %10.2f %14.0f\n" "gbdt 30 rounds, 2 ranks" "$g2" "$(echo "$rows * 0.95 * 30 / $g2" | bc -l)"
printf "gbdt 2-rank speed-up %.2fx\n" "$(echo "$g1 / $g2" | bc -l)"
printf "mlp 2-rank speed-up %.2fx\n" "$(echo "$m1 / $m2" | bc -l)"
