#!/usr/bin/env bash
# Data-parallel neural training through the CLI (docs/DISTRIBUTED.md): an MLP
# on a generated CSV, `mpirun -np 2 kaizen train` with batch_size b against
# one process with batch_size 2b (the same global batch), with gradient
# accumulation, clipping, AdamW and a last short batch every epoch (dropout
# 0: masks are drawn per rank, docs/DISTRIBUTED.md):
#   (a) train/loss of every step within 1e-5 (relative) of one process's;
#   (b) predictions of the final model.kzm within 1e-5 (the weights);
#   (c) only rank 0 writes the run (one run directory);
#   (j) continual training with EWC, then replay, on 2 ranks: the curve and
#       the forgetting metrics of one process;
#   (i) the all-reduce overlapped with the backward pass in 9 buckets (all
#       started before the backward ended) and the blocking one
#       (KZ_DIST_OVERLAP=0): the same curve;
#   (e) train.zero1 (sharded AdamW state, reduce-scatter + all-gather) on 2
#       and 3 ranks: the same curve and weights, checkpoints included;
#   (f) a run checkpointed on 2 ranks with ZeRO-1 resumes on one process with
#       the same global batch and goes on as the one-process run does;
#   (g) a rank that hangs (SIGSTOP): the watchdog (KZ_DIST_TIMEOUT=5) ends the
#       job, non-zero, within 60 s, naming the waiting rank and the collective;
#   (h) KZ_RANK/KZ_WORLD_SIZE without MPI on the CPU: refused at once, named;
#   (d) kill -9 of rank 1 mid-run: the job exits non-zero within 60 s and the
#       output names rank 1.
# usage: dist_nn.sh KAIZEN
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
export OMP_NUM_THREADS=1

awk 'BEGIN { srand(3); print "a,b,c,d,color,y";
  for (i = 0; i < 1501; i++) {
    a = rand(); b = rand(); c = rand(); d = rand();
    col = rand() < 0.3 ? "red" : (rand() < 0.5 ? "green" : "blue");
    s = a * 3 + b * b - c + (col == "red") * 0.7 + 0.3 * rand();
    printf "%.5f,%.5f,%.5f,%.5f,%s,%s\n", a, b, c, d, col, (s > 1.6 ? "hi" : (s > 0.9 ? "mid" : "lo")) } }' >synth.csv
"$kaizen" data import --kind tabular --input synth.csv --out data --label y \
  --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import"; exit 1; }

# job NAME BATCH STEPS [train lines...]
job() {
  local name="$1" batch="$2" steps="$3"; shift 3
  cat >"$name.yaml" <<EOT
model:
  type: mlp
  hidden: [32, 16]
  dropout: 0
data:
  train: data
train:
  optimizer: adamw
  lr: 0.01
  weight_decay: 0.01
  batch_size: $batch
  grad_accum: 2
  steps: $steps
  clip_norm: 0.5
  log_every: 1
  eval_every: 20
  seed: 4
$(for l in "$@"; do echo "  $l"; done)
output:
  runs_dir: runs
  experiment: $name
  run_id: r
EOT
}
# 1200 train rows, global batch 2 x 2 x 50 = 200: an epoch is 6 optimizer
# steps with a short last micro-batch (1200 = 12 x 100)
job one 100 40
job two 50 40
"$kaizen" train one.yaml --quiet >one.out 2>&1 || fail "one process: $(cat one.out)"
mpirun_np 2 "$kaizen" train two.yaml --quiet >two.out 2>&1 || fail "mpirun -np 2: $(tail -20 two.out)"
[ "$(ls runs/two | wc -l)" = 1 ] || fail "run directories: $(ls runs/two)"

# (a) the loss curves, step by step
loss_col() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train/loss") c = i; next }
  $c != "" { print $1, $c }' "$1"; }
loss_col runs/one/r/metrics.csv >one.loss
loss_col runs/two/r/metrics.csv >two.loss
[ "$(wc -l <one.loss)" = 40 ] || fail "one process logged $(wc -l <one.loss) steps"
paste -d' ' one.loss two.loss | awk '{ d = $2 - $4; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
  if ($1 != $3 || r > 1e-5) { bad++; print "step " $1 ": " $2 " vs " $4 " (rel " r ")" } }
  END { exit bad > 0 }' >curve.diff || fail "loss curves differ: $(head -5 curve.diff)"
echo "loss at step 40: $(tail -1 one.loss) vs $(tail -1 two.loss)"

# (b) the final weights, through their predictions
preds() { "$kaizen" predict --model "$1" --data data --out "$2" >/dev/null 2>&1; }
preds runs/one/r/model.kzm one.csv || fail "predict one"
preds runs/two/r/model.kzm two.csv || fail "predict two"
paste -d, one.csv two.csv | awk -F, -v n="$(head -1 one.csv | awk -F, '{print NF}')" '
  NR > 1 { for (i = 1; i <= n; i++) { a = $i; b = $(i + n); if (a + 0 != a) continue;
    d = a - b; if (d < 0) d = -d; m = (a < 0 ? -a : a); if (m < 1) m = 1;
    if (d / m > 1e-5) bad++ } } END { exit bad > 0 }' || fail "final predictions differ"

# (i) overlap: buckets of 100 floats (9 for this MLP) reduced with
# MPI_Iallreduce as the backward pass finishes each layer; then the blocking
# path (KZ_DIST_OVERLAP=0): both give one process's curve
KZ_DIST_BUCKET_FLOATS=100 mpirun_np 2 "$kaizen" train two.yaml --set output.run_id=ov \
  >ov.out 2>ov.err || fail "overlap -np 2: $(tail -5 ov.err)"
grep -q '"detail":"gradient all-reduce in 9 bucket(s) of up to 100 floats; 360 of 360 started during the backward pass"' ov.err ||
  fail "overlap: $(grep overlap ov.err)"
KZ_DIST_OVERLAP=0 mpirun_np 2 "$kaizen" train two.yaml --set output.run_id=block \
  >block.out 2>block.err || fail "blocking -np 2: $(tail -5 block.err)"
for r in ov block; do
  loss_col runs/two/$r/metrics.csv >$r.loss
  paste -d' ' one.loss $r.loss | awk '{ d = $2 - $4; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
    if ($1 != $3 || r > 1e-5) { bad++; print "step " $1 ": " $2 " vs " $4 " (rel " r ")" } }
    END { exit bad > 0 }' >$r.diff || fail "$r: loss curve differs: $(head -5 $r.diff)"
done
grep -q '"event":"eval"' block.err || fail "blocking -np 2: no events: $(tail -3 block.err)"
grep -q '"event":"overlap"' block.err && fail "KZ_DIST_OVERLAP=0 still overlaps"

# (j) continual training with EWC on 2 ranks (with and without ZeRO-1): the
# Fisher (8 micro-batches of 4 old rows) and the forgetting metric are
# computed whole on every rank, so the curve and the summary's
# old_after/new_after metrics are one process's
awk 'BEGIN { srand(9); print "a,b,c,d,color,y";
  for (i = 0; i < 801; i++) {
    a = rand(); b = rand(); c = rand(); d = rand();
    col = rand() < 0.5 ? "red" : (rand() < 0.5 ? "green" : "blue");
    s = a * 2 + d * d - c + (col == "green") * 0.9 + 0.3 * rand();
    printf "%.5f,%.5f,%.5f,%.5f,%s,%s\n", a, b, c, d, col, (s > 1.6 ? "hi" : (s > 0.9 ? "mid" : "lo")) } }' >new.csv
"$kaizen" data import --kind tabular --input new.csv --out new --label y \
  --valid-fraction 0.2 --seed 1 >/dev/null || fail "import new"
for j in ewc1:100 ewc2:50; do
  job "${j%:*}" "${j#*:}" 12 "init_from: runs/one/r/model.kzm" "continual:" "  old_data: data" \
    "  ewc_lambda: 50" "  fisher_batches: 8" "  fisher_batch_size: 4"
  sed -i 's|^  train: data$|  train: new|' "${j%:*}.yaml"
done
"$kaizen" train ewc1.yaml --quiet >ewc1.out 2>&1 || fail "ewc one process: $(tail -5 ewc1.out)"
mpirun_np 2 "$kaizen" train ewc2.yaml --quiet >ewc2.out 2>&1 || fail "ewc -np 2: $(tail -5 ewc2.out)"
mpirun_np 2 "$kaizen" train ewc2.yaml --quiet --set train.zero1=true --set output.run_id=z \
  >ewcz.out 2>&1 || fail "ewc zero1 -np 2: $(tail -5 ewcz.out)"
loss_col runs/ewc1/r/metrics.csv >ewc1.loss
[ "$(wc -l <ewc1.loss)" = 12 ] || fail "ewc one process logged $(wc -l <ewc1.loss) steps"
for r in r z; do
  loss_col runs/ewc2/$r/metrics.csv >ewc2$r.loss
  paste -d' ' ewc1.loss ewc2$r.loss | awk '{ d = $2 - $4; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
    if ($1 != $3 || r > 1e-5) { bad++; print "step " $1 ": " $2 " vs " $4 " (rel " r ")" } }
    END { exit bad > 0 }' >ewc$r.diff || fail "ewc -np 2 ($r): loss curve differs: $(head -5 ewc$r.diff)"
  for k in old_before/accuracy old_after/accuracy new_after/accuracy; do
    a=$(grep -o "\"$k\": *[-0-9.e]*" runs/ewc1/r/summary.json | sed 's/.*: *//')
    b=$(grep -o "\"$k\": *[-0-9.e]*" runs/ewc2/$r/summary.json | sed 's/.*: *//')
    awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-5 * (a < 0 ? -a : a)) }' ||
      fail "ewc -np 2 ($r): $k $a vs $b"
  done
done
echo "ewc: step 12 $(tail -1 ewc1.loss) vs $(tail -1 ewc2r.loss)"
# replay 0.3 on top: the old data's micro-batches dealt to the ranks in
# stripes as the new data's, its epoch (1200 rows, 12 global micro-batches)
# counted globally; 30 steps pass its end
"$kaizen" train ewc1.yaml --quiet --set train.continual.replay=0.3 --set train.steps=30 \
  --set output.run_id=rep >rep1.out 2>&1 || fail "replay one process: $(tail -5 rep1.out)"
mpirun_np 2 "$kaizen" train ewc2.yaml --quiet --set train.continual.replay=0.3 --set train.steps=30 \
  --set output.run_id=rep >rep2.out 2>&1 || fail "replay -np 2: $(tail -5 rep2.out)"
loss_col runs/ewc1/rep/metrics.csv >rep1.loss
loss_col runs/ewc2/rep/metrics.csv >rep2.loss
[ "$(wc -l <rep1.loss)" = 30 ] || fail "replay one process logged $(wc -l <rep1.loss) steps"
paste -d' ' rep1.loss rep2.loss | awk '{ d = $2 - $4; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
  if ($1 != $3 || r > 1e-5) { bad++; print "step " $1 ": " $2 " vs " $4 " (rel " r ")" } }
  END { exit bad > 0 }' >rep.diff || fail "replay -np 2: loss curve differs: $(head -5 rep.diff)"
head -12 rep1.loss | cmp -s - ewc1.loss && fail "replay changed nothing"
echo "replay: step 30 $(tail -1 rep1.loss) vs $(tail -1 rep2.loss)"

# (e) ZeRO-1 on and off agree (with checkpoints every 10 steps: the state
# gathered for them)
job zero 50 40 "zero1: true"
mpirun_np 2 "$kaizen" train zero.yaml --quiet --set output.checkpoint_every=10 >zero.out 2>&1 ||
  fail "zero1 -np 2: $(tail -20 zero.out)"
loss_col runs/zero/r/metrics.csv >zero.loss
paste -d' ' one.loss zero.loss | awk '{ d = $2 - $4; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
  if ($1 != $3 || r > 1e-5) { bad++; print "step " $1 ": " $2 " vs " $4 " (rel " r ")" } }
  END { exit bad > 0 }' >zero.diff || fail "zero1 loss curve differs: $(head -5 zero.diff)"
preds runs/zero/r/model.kzm zero.csv || fail "predict zero"
paste -d, one.csv zero.csv | awk -F, -v n="$(head -1 one.csv | awk -F, '{print NF}')" '
  NR > 1 { for (i = 1; i <= n; i++) { a = $i; b = $(i + n); if (a + 0 != a) continue;
    d = a - b; if (d < 0) d = -d; m = (a < 0 ? -a : a); if (m < 1) m = 1;
    if (d / m > 1e-5) bad++ } } END { exit bad > 0 }' || fail "zero1 final predictions differ"
ls runs/zero/r/checkpoints/* >/dev/null 2>&1 || fail "zero1: no checkpoint written"
echo "zero1 loss at step 40: $(tail -1 zero.loss)"

# (f) 20 steps on 2 ranks (ZeRO-1, checkpoint at 20), then --resume on one
# process (batch 100, no ZeRO) to step 40: steps 21-40 as the one-process run's
job half 50 20 "zero1: true"
mpirun_np 2 "$kaizen" train half.yaml --quiet --set output.checkpoint_every=10 >half.out 2>&1 ||
  fail "half -np 2: $(tail -20 half.out)"
"$kaizen" train half.yaml --quiet --resume --allow-changes --set train.steps=40 \
  --set train.batch_size=100 --set train.zero1=false --set output.checkpoint_every=10 \
  >resume.out 2>&1 || fail "resume on one process: $(tail -5 resume.out)"
loss_col runs/half/r/metrics.csv | awk '$1 > 20' >half.loss
awk '$1 > 20' one.loss >one.tail
[ "$(wc -l <half.loss)" = 20 ] || fail "resumed run logged $(wc -l <half.loss) steps after 20"
paste -d' ' one.tail half.loss | awk '{ d = $2 - $4; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2);
  if ($1 != $3 || r > 1e-5) { bad++; print "step " $1 ": " $2 " vs " $4 " (rel " r ")" } }
  END { exit bad > 0 }' >half.diff || fail "resumed curve differs: $(head -5 half.diff)"
echo "resumed on 1 rank, step 40: $(tail -1 half.loss)"

# (d) a rank killed mid-run takes the job down, named
job long 50 100000
"${MPIRUN[@]}" -np 2 "$kaizen" train long.yaml --quiet >long.out 2>&1 &
mpi=$! # mpirun itself, so that every path below can end it
victim=""
for _ in $(seq 1 100); do # up to 20 s for the ranks to start training
  for p in $(pgrep -f "train long.yaml" 2>/dev/null); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$p
  done
  [ -n "$victim" ] && [ -s runs/long/r/metrics.csv ] && break
  sleep 0.2
done
if [ -z "$victim" ]; then
  fail "no rank 1 process found under mpirun"
  kill "$mpi" 2>/dev/null # mpirun ends its ranks
  wait "$mpi"
else
  t0=$(date +%s)
  kill -9 "$victim"
  for _ in $(seq 1 600); do kill -0 "$mpi" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$mpi" 2>/dev/null; then
    fail "the job still runs 60 s after rank 1 was killed"
    kill -9 "$mpi" 2>/dev/null
  fi
  wait "$mpi"
  rc=$?
  echo "killed rank 1: job exited $rc after $(($(date +%s) - t0)) s"
  [ "$rc" != 0 ] || fail "the job exited 0 after rank 1 was killed"
  grep -q "rank 1" long.out || fail "no message names rank 1: $(tail -5 long.out)"
fi

# (h) ranks without MPI (KZ_RANK / KZ_WORLD_SIZE) train on GPUs only: on the
# CPU a rank says so at once instead of waiting for its peers
KZ_RANK=0 KZ_WORLD_SIZE=2 timeout 60 "$kaizen" train two.yaml --quiet --set output.run_id=nompi \
  >nompi.out 2>&1 && fail "CPU training without MPI on 2 ranks started"
grep -q "rank 0 of 2 failed: .*CPU training on several ranks needs an MPI launcher" nompi.out ||
  fail "no-MPI message: $(cat nompi.out)"

# (g) rank 1 stopped: rank 0's watchdog ends the job
KZ_DIST_TIMEOUT=5 "${MPIRUN[@]}" -np 2 "$kaizen" train long.yaml --quiet --set output.run_id=hang \
  >hang.out 2>&1 &
mpi=$!
victim=""
for _ in $(seq 1 100); do
  for p in $(pgrep -f "run_id=hang" 2>/dev/null); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$p
  done
  [ -n "$victim" ] && [ -s runs/long/hang/metrics.csv ] && break
  sleep 0.2
done
if [ -z "$victim" ]; then
  fail "hang: no rank 1 process found"
  kill "$mpi" 2>/dev/null
  wait "$mpi"
else
  t0=$(date +%s)
  kill -STOP "$victim"
  for _ in $(seq 1 600); do kill -0 "$mpi" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$mpi" 2>/dev/null; then
    fail "the job still runs 60 s after rank 1 stopped"
    kill -9 "$victim" "$mpi" 2>/dev/null
  fi
  wait "$mpi"
  rc=$?
  kill -9 "$victim" 2>/dev/null
  echo "stopped rank 1: job exited $rc after $(($(date +%s) - t0)) s"
  [ "$rc" != 0 ] || fail "the job exited 0 with rank 1 stopped"
  grep -q "rank 0 of 2 failed: .* has waited .* a rank has died or hangs" hang.out ||
    fail "hang: no watchdog message: $(tail -5 hang.out)"
fi

[ $fails -eq 0 ] && echo "dist_nn: all ok"
exit $((fails > 0))
