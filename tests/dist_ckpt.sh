#!/usr/bin/env bash
# Sharded checkpoints (train.zero1, docs/DISTRIBUTED.md "Sharded
# checkpoints") through the CLI, an MLP on a generated CSV with the global
# batch 2 x 60 rows on 1, 2 and 3 ranks (batch_size 60, 30, 20):
#   (a) a 2-rank ZeRO-1 run killed (kill -9 of rank 1) after its step-20
#       checkpoint left one shard per rank and a manifest beside each .kzc;
#   (b) --resume on 2 ranks (each reads its own shard), on 1 process and on
#       3 ranks (re-sliced from the 2 shards): every curve within 1e-5
#       (relative) of the uninterrupted one-process run, step by step;
#   (c) 1 -> 2: a one-process checkpoint resumed on 2 ranks with ZeRO-1,
#       whose checkpoints are then sharded; resumed again on 1 process;
#   (d) a missing, truncated or corrupt shard: the resume fails naming the
#       file.
# usage: dist_ckpt.sh KAIZEN
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

awk 'BEGIN { srand(7); print "a,b,c,color,y";
  for (i = 0; i < 1500; i++) {
    a = rand(); b = rand(); c = rand();
    col = rand() < 0.3 ? "red" : (rand() < 0.5 ? "green" : "blue");
    s = a * 3 + b * b - c + (col == "red") * 0.7 + 0.3 * rand();
    printf "%.5f,%.5f,%.5f,%s,%s\n", a, b, c, col, (s > 1.6 ? "hi" : (s > 0.9 ? "mid" : "lo")) } }' >synth.csv
"$kaizen" data import --kind tabular --input synth.csv --out data --label y \
  --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import"; exit 1; }

# job NAME BATCH STEPS [train lines...]; the schedule is constant, so the
# step count does not change the curve (the killed run is "endless")
job() {
  local name="$1" batch="$2" steps="$3"; shift 3
  cat >"$name.yaml" <<EOT
model:
  type: mlp
  hidden: [64, 32]
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
  eval_every: 1000000
  seed: 4
$(for l in "$@"; do echo "  $l"; done)
output:
  runs_dir: runs
  experiment: $name
  run_id: r
  checkpoint_every: 10
  keep_checkpoints: 3
EOT
}
loss_col() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train/loss") c = i; next }
  $c != "" { print $1, $c }' "$1"; }
# same_curve BASE OTHER WHAT: every step of OTHER within 1e-5 of BASE's
same_curve() {
  local n; n=$(wc -l <"$2")
  [ "$n" -gt 0 ] || { fail "$3: no steps logged"; return; }
  head -n "$n" "$1" | paste -d' ' - "$2" | awk '{ d = $2 - $4; if (d < 0) d = -d;
    r = d / ($2 < 0 ? -$2 : $2); if ($1 != $3 || r > 1e-5) { bad++;
    print "step " $1 ": " $2 " vs " $3 " " $4 " (rel " r ")" } } END { exit bad > 0 }' >"$3.diff" ||
    fail "$3: curve differs from one process: $(head -3 "$3.diff")"
}

# the step of the newest .kzc in a checkpoint directory (empty: none)
newest_step() { ls "$1" 2>/dev/null | sed -n 's/^ckpt-0*\([0-9][0-9]*\)\.kzc$/\1/p' | sort -n | tail -1 | grep .; }

# (a) the killed 2-rank run
job kill 30 1000000 "zero1: true"
"${MPIRUN[@]}" -np 2 "$kaizen" train kill.yaml --quiet >kill.out 2>&1 &
mpi=$!
victim=""
for _ in $(seq 1 2400); do # up to 120 s for a checkpoint at step 20 or later
  for p in $(pgrep -f "train kill.yaml" 2>/dev/null); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && victim=$p
  done
  s=$(newest_step runs/kill/r/checkpoints)
  [ -n "$victim" ] && [ "${s:-0}" -ge 20 ] && break
  sleep 0.05
done
[ -n "$victim" ] && kill -9 "$victim"
for _ in $(seq 1 600); do kill -0 "$mpi" 2>/dev/null || break; sleep 0.1; done
kill -0 "$mpi" 2>/dev/null && { fail "the killed job still runs"; kill -9 "$mpi"; }
wait "$mpi" && fail "the killed job exited 0"
newest=$(newest_step runs/kill/r/checkpoints)
[ "${newest:-0}" -ge 20 ] || { echo "FAIL: no checkpoint at step 20 or later: $(tail -5 kill.out)"; exit 1; }
ck=runs/kill/r/checkpoints
for s in $(ls $ck | sed -n 's/^ckpt-\([0-9]*\)\.kzc$/\1/p'); do
  for f in "ckpt-$s.shard-0-of-2.kzs" "ckpt-$s.shard-1-of-2.kzs" "ckpt-$s.shards.json"; do
    [ -f "$ck/$f" ] || fail "checkpoint $s: no $f"
  done
done
m=$(printf "%s/ckpt-%010d.shards.json" $ck "$newest")
grep -q '"world": 2' "$m" || fail "manifest: $(cat "$m")"
echo "killed at or after step $newest"
end=$((newest + 20))

# the uninterrupted reference: one process, the same global batch
job one 60 "$end" "zero1: false"
"$kaizen" train one.yaml --quiet >one.out 2>&1 || fail "one process: $(tail -5 one.out)"
loss_col runs/one/r/metrics.csv >one.loss

# (b) resume the killed run on 2, 1 and 3 ranks (copies of its directory)
for w in 1 3; do cp -r runs/kill/r "runs/kill/r$w"; done
mpirun_np 2 "$kaizen" train kill.yaml --quiet --resume --allow-changes --set train.steps=$end \
  >resume2.out 2>&1 || fail "resume on 2 ranks: $(tail -5 resume2.out)"
"$kaizen" train kill.yaml --quiet --resume --allow-changes --set train.steps=$end \
  --set train.batch_size=60 --set output.run_id=r1 >resume1.out 2>&1 ||
  fail "resume on 1 process: $(tail -5 resume1.out)"
mpirun_np 3 "$kaizen" train kill.yaml --quiet --resume --allow-changes --set train.steps=$end \
  --set train.batch_size=20 --set output.run_id=r3 >resume3.out 2>&1 ||
  fail "resume on 3 ranks: $(tail -5 resume3.out)"
for w in "" 1 3; do
  loss_col "runs/kill/r$w/metrics.csv" >"kill$w.loss"
  [ "$(wc -l <"kill$w.loss")" = "$end" ] || fail "resume r$w logged $(wc -l <"kill$w.loss") steps, not $end"
  same_curve one.loss "kill$w.loss" "resume${w:-2}"
done
ls runs/kill/r3/checkpoints | grep -q "shard-2-of-3" || fail "3 ranks wrote no 3-rank shards"
echo "step $end: one process $(tail -1 one.loss | cut -d' ' -f2), resumed on 2/1/3 ranks" \
  "$(tail -1 kill.loss | cut -d' ' -f2) $(tail -1 kill1.loss | cut -d' ' -f2) $(tail -1 kill3.loss | cut -d' ' -f2)"

# (c) 1 -> 2 -> 1: one process to step 10, 2 ranks (ZeRO-1) to 20, one to 30
job up 60 10 "zero1: false"
"$kaizen" train up.yaml --quiet >up1.out 2>&1 || fail "up, 1 process: $(tail -5 up1.out)"
mpirun_np 2 "$kaizen" train up.yaml --quiet --resume --allow-changes --set train.steps=20 \
  --set train.batch_size=30 --set train.zero1=true >up2.out 2>&1 ||
  fail "up, resume on 2 ranks: $(tail -5 up2.out)"
[ -f runs/up/r/checkpoints/ckpt-0000000020.shard-1-of-2.kzs ] || fail "up: the 2-rank checkpoint is not sharded"
"$kaizen" train up.yaml --quiet --resume --allow-changes --set train.steps=30 \
  --set train.batch_size=60 --set train.zero1=false >up3.out 2>&1 ||
  fail "up, resume on 1 process: $(tail -5 up3.out)"
loss_col runs/up/r/metrics.csv >up.loss
[ "$(wc -l <up.loss)" = 30 ] || fail "up logged $(wc -l <up.loss) steps"
same_curve one.loss up.loss up

# (d) a missing, then a truncated shard: named in the error
cp -r runs/kill/r runs/kill/miss
last=$(ls runs/kill/miss/checkpoints | sed -n 's/^ckpt-\([0-9]*\)\.kzc$/\1/p' | sort -n | tail -1)
rm "runs/kill/miss/checkpoints/ckpt-$last.shard-1-of-3.kzs" 2>/dev/null ||
  rm "runs/kill/miss/checkpoints/ckpt-$last.shard-1-of-2.kzs"
"$kaizen" train kill.yaml --quiet --resume --allow-changes --set train.batch_size=60 \
  --set output.run_id=miss >miss.out 2>&1 && fail "resume with a missing shard succeeded"
grep -q "ckpt-$last.shard-1-of-[23].kzs: missing optimizer-state shard" miss.out ||
  fail "missing shard: $(tail -3 miss.out)"
cp -r runs/kill/r runs/kill/trunc
f=$(ls runs/kill/trunc/checkpoints/ckpt-$last.shard-0-of-*.kzs)
truncate -s 100 "$f"
mpirun_np 2 "$kaizen" train kill.yaml --quiet --resume --set output.run_id=trunc \
  --allow-changes >trunc.out 2>&1 && fail "resume with a truncated shard succeeded"
grep -q "$(basename "$f"): truncated or wrong size: 100 bytes, expected" trunc.out ||
  fail "truncated shard: $(tail -3 trunc.out)"

cp -r runs/kill/r runs/kill/flip
f=$(ls runs/kill/flip/checkpoints/ckpt-$last.shard-1-of-*.kzs)
printf '\x7f' | dd of="$f" bs=1 seek=80 conv=notrunc 2>/dev/null
"$kaizen" train kill.yaml --quiet --resume --allow-changes --set train.batch_size=60 \
  --set output.run_id=flip >flip.out 2>&1 && fail "resume with a corrupt shard succeeded"
grep -q "$(basename "$f"): checksum mismatch" flip.out || fail "corrupt shard: $(tail -3 flip.out)"

[ $fails -eq 0 ] && echo "dist_ckpt: all ok"
exit $((fails > 0))
