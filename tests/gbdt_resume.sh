#!/usr/bin/env bash
# GBDT round checkpoints and `kaizen train --resume` (docs/GBDT.md, "Checkpoints
# and resume"), end to end on a generated CSV (no shared data needed):
#   (a) a 3-class job with row and feature sampling (classes grown in
#       parallel, random streams forked per round) and (b) a binary job with
#       early stopping, both on 2 threads: each run uninterrupted, and again
#       killed with kill -9 after its second checkpoint, the newest checkpoint
#       truncated (skipped with a warning naming it), then --resume: model.json
#       byte for byte, metrics.csv (all but wall_s) and summary.json (all but
#       times, memory, run id, resumed) equal the uninterrupted run's;
#   (c) --resume of a finished run is refused and leaves it untouched;
#   (d) --resume of a run killed before its first checkpoint fails, saying so;
#       while it trains, `runs list` says running and --resume is refused;
#       killed, `runs list` says crashed (run.pid names a dead process);
#   (e) --resume under a changed model parameter is refused, naming it; under
#       another thread count it warns and goes on;
#   (f) --resume without output.run_id, and a new run over an existing id, fail.
# usage: gbdt_resume.sh KAIZEN
set -u
kaizen="$1"
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# 30,000 rows: 8 numeric features (5 % missing in the first), a categorical
# one, a 3-class label and a noisy binary one (so early stopping triggers).
awk 'BEGIN { srand(7); print "a,b,c,d,e,f,g,h,color,y,z";
  for (i = 0; i < 30000; i++) {
    a = rand(); b = rand(); c = rand(); d = rand(); e = rand(); f = rand(); g = rand(); h = rand();
    col = rand() < 0.3 ? "red" : (rand() < 0.5 ? "green" : "blue");
    s = a * 3 + b * b - c + (col == "red") * 0.7 + 0.3 * rand();
    y = s > 1.6 ? "hi" : (s > 0.9 ? "mid" : "lo");
    z = (a * d + b * b * c + rand() * 0.5 > 0.8) ? "yes" : "no";
    if (rand() < 0.05) a = "";
    printf "%s,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%s,%s,%s\n", a, b, c, d, e, f, g, h, col, y, z } }' \
  >"$tmp/synth.csv"
"$kaizen" data import --kind tabular --input "$tmp/synth.csv" --out "$tmp/multi" --label y \
  --ignore z --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import (y)"; exit 1; }
"$kaizen" data import --kind tabular --input "$tmp/synth.csv" --out "$tmp/binary" --label z \
  --ignore y --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import (z)"; exit 1; }

# job FILE DATA [model lines...]
job() {
  local file="$1" data="$2"; shift 2
  {
    echo "model:"
    echo "  type: gbdt"
    for l in "$@"; do echo "  $l"; done
    echo "data:"
    echo "  train: $tmp/$data"
    echo "train:"
    echo "  seed: 3"
    echo "  threads: 2"
    echo "output:"
    echo "  runs_dir: $tmp/runs"
    echo "  experiment: e"
    echo "  checkpoint_every: 5"
    echo "  keep_checkpoints: 3"
  } >"$file"
}
job "$tmp/multi.yaml" multi "num_round: 200" "eta: 0.1" "max_depth: 6" "subsample: 0.8" \
  "colsample_bytree: 0.8" "colsample_bynode: 0.8"
job "$tmp/binary.yaml" binary "num_round: 1000" "eta: 0.02" "max_depth: 4" "subsample: 0.7" \
  "colsample_bynode: 0.7" "eval_metric: [logloss, auc]" "early_stopping_rounds: 25"
run_dir() { echo "$tmp/runs/e/$1"; }
# metrics.csv without its wall_s column; summary.json without what differs
# between any two runs (id, times, memory) and `resumed`.
rows() { cut -d, -f1,3- "$1"; }
summary() { grep -Ev '"(run_id|wall_s|peak_memory_bytes|resumed|started|finished)"' "$1"; }

# kill_after_checkpoints YAML ID N: starts the job and kill -9s it once N
# checkpoints exist; fails if the job ended first.
kill_after_checkpoints() {
  local yaml="$1" id="$2" want="$3" i
  "$kaizen" train "$yaml" --quiet --set output.run_id="$id" >"$tmp/$id.killed.out" 2>&1 &
  local pid=$!
  for i in $(seq 1 600); do
    [ "$(ls "$(run_dir "$id")/checkpoints/" 2>/dev/null | grep -c '^gbdt-[0-9]*\.kzg$')" -ge "$want" ] &&
      break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  if kill -9 $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    [ -e "$(run_dir "$id")/summary.json" ] && fail "$id: the killed run has a summary: killed too late"
    return 0
  fi
  wait $pid 2>/dev/null
  fail "$id: the job ended before it could be killed (make it longer): $(tail -2 "$tmp/$id.killed.out")"
  return 1
}

# check_resume NAME YAML: uninterrupted NAME-full, killed NAME-k, resumed.
check_resume() {
  local name="$1" yaml="$2"
  "$kaizen" train "$yaml" --quiet --set output.run_id="$name-full" >"$tmp/$name-full.out" 2>&1 ||
    { fail "$name: uninterrupted run: $(cat "$tmp/$name-full.out")"; return; }
  kill_after_checkpoints "$yaml" "$name-k" 2 || return
  # the dead process recorded in run.pid: the run reads as crashed
  "$kaizen" runs list --runs-dir "$tmp/runs" | grep -qE "^e +$name-k +gbdt +crashed " ||
    fail "$name: runs list does not show the killed run as crashed"
  local ck newest
  ck="$(run_dir "$name-k")/checkpoints"
  newest="$ck/$(ls "$ck" | grep '^gbdt-[0-9]*\.kzg$' | sort | tail -1)"
  # A checkpoint cut short (by a full disk, say) is skipped for the one before.
  head -c 100 "$newest" >"$newest.cut" && mv "$newest.cut" "$newest"
  [ "$name" = multi ] && {
    # (e) another model parameter: refused, naming it, nothing changed
    cp "$(run_dir "$name-k")/metrics.csv" "$tmp/metrics.before"
    "$kaizen" train "$yaml" --quiet --set output.run_id="$name-k" --set model.eta=0.2 --resume \
      >"$tmp/changed.out" 2>&1 && fail "resume with another eta succeeded"
    grep -q 'model.eta: 0.1 in the checkpoint, 0.2 now' "$tmp/changed.out" ||
      fail "resume with another eta: message does not name it: $(cat "$tmp/changed.out")"
    cmp -s "$tmp/metrics.before" "$(run_dir "$name-k")/metrics.csv" ||
      fail "a refused resume changed metrics.csv"
    # another thread count: a warning, and the run goes on (on a copy)
    cp -r "$(run_dir "$name-k")" "$(run_dir "$name-t1")"
    "$kaizen" train "$yaml" --quiet --set output.run_id="$name-t1" --set train.threads=1 --resume \
      >"$tmp/threads.out" 2>&1 || fail "resume on 1 thread: $(cat "$tmp/threads.out")"
    grep -q 'warning: .*threads: 2 in the checkpoint, 1 now' "$tmp/threads.out" ||
      fail "resume on 1 thread: no warning: $(cat "$tmp/threads.out")"
  }
  "$kaizen" train "$yaml" --set output.run_id="$name-k" --resume >"$tmp/$name-resumed.out" 2>&1 ||
    { fail "$name: resume: $(cat "$tmp/$name-resumed.out")"; return; }
  grep -q "warning: skipping checkpoint: $newest" "$tmp/$name-resumed.out" ||
    fail "$name: the truncated checkpoint was not skipped by name: $(head -3 "$tmp/$name-resumed.out")"
  grep -q '\[gbdt\] resuming .* (round [0-9]* of' "$tmp/$name-resumed.out" ||
    fail "$name: resume did not say where it resumed: $(head -3 "$tmp/$name-resumed.out")"
  cmp "$(run_dir "$name-full")/model.json" "$(run_dir "$name-k")/model.json" ||
    fail "$name: the resumed model.json differs from the uninterrupted run's"
  diff <(rows "$(run_dir "$name-full")/metrics.csv") <(rows "$(run_dir "$name-k")/metrics.csv") \
    >"$tmp/rows.diff" || fail "$name: metrics.csv differs: $(head -5 "$tmp/rows.diff")"
  diff <(summary "$(run_dir "$name-full")/summary.json") \
    <(summary "$(run_dir "$name-k")/summary.json") >"$tmp/sum.diff" ||
    fail "$name: summary.json differs: $(cat "$tmp/sum.diff")"
  grep -q '"resumed": true' "$(run_dir "$name-k")/summary.json" ||
    fail "$name: summary.json does not say resumed"
  [ -e "$(run_dir "$name-k")/run.pid" ] && fail "$name: run.pid left behind by a finished run"
  [ "$(tail -1 "$tmp/$name-full.out" | sed 's/ run .*//')" = \
    "$(tail -1 "$tmp/$name-resumed.out" | sed 's/ run .*//')" ] ||
    fail "$name: final lines differ: $(tail -1 "$tmp/$name-resumed.out")"
}

check_resume multi "$tmp/multi.yaml"
check_resume binary "$tmp/binary.yaml"
grep -q '"status": "stopped_early"' "$(run_dir binary-full)/summary.json" ||
  fail "the binary job did not stop early (the test means to cover early stopping)"

# (c) a finished run: refused, untouched
cp "$(run_dir multi-full)/model.json" "$tmp/model.before"
cp "$(run_dir multi-full)/summary.json" "$tmp/summary.before"
"$kaizen" train "$tmp/multi.yaml" --quiet --set output.run_id=multi-full --resume \
  >"$tmp/done.out" 2>&1 && fail "resume of a finished run succeeded"
grep -q 'has already ended (.*status finished); nothing to resume' "$tmp/done.out" ||
  fail "resume of a finished run: unclear message: $(cat "$tmp/done.out")"
cmp -s "$tmp/model.before" "$(run_dir multi-full)/model.json" &&
  cmp -s "$tmp/summary.before" "$(run_dir multi-full)/summary.json" ||
  fail "a refused resume changed the finished run"

# (d) killed before its first checkpoint
job "$tmp/nockpt.yaml" multi "num_round: 400" "eta: 0.1" "max_depth: 6"
sed -i 's/checkpoint_every: 5/checkpoint_every: 100000/' "$tmp/nockpt.yaml"
"$kaizen" train "$tmp/nockpt.yaml" --quiet --set output.run_id=nockpt >/dev/null 2>&1 &
pid=$!
for i in $(seq 1 600); do
  [ "$( { wc -l <"$(run_dir nockpt)/metrics.csv"; } 2>/dev/null || echo 0)" -ge 3 ] && break
  sleep 0.05
done
# while it trains: runs list says running, and --resume is refused
"$kaizen" runs list --runs-dir "$tmp/runs" | grep -qE "^e +nockpt +gbdt +running " ||
  fail "runs list does not show the training run as running"
"$kaizen" train "$tmp/nockpt.yaml" --quiet --set output.run_id=nockpt --resume >"$tmp/alive.out" 2>&1 &&
  fail "resume of a run still training succeeded"
grep -q "still being trained by process $pid" "$tmp/alive.out" ||
  fail "resume of a run still training: $(cat "$tmp/alive.out")"
if kill -9 $pid 2>/dev/null; then
  wait $pid 2>/dev/null
  "$kaizen" train "$tmp/nockpt.yaml" --quiet --set output.run_id=nockpt --resume \
    >"$tmp/nockpt.out" 2>&1 && fail "resume without a checkpoint succeeded"
  grep -q 'holds no GBDT checkpoint to continue from' "$tmp/nockpt.out" ||
    fail "resume without a checkpoint: unclear message: $(cat "$tmp/nockpt.out")"
else
  fail "the no-checkpoint job ended before it could be killed"
fi

# (f) usage errors
"$kaizen" train "$tmp/multi.yaml" --quiet --resume >"$tmp/noid.out" 2>&1 &&
  fail "resume without a run id succeeded"
grep -q 'needs output.run_id' "$tmp/noid.out" || fail "resume without a run id: $(cat "$tmp/noid.out")"
"$kaizen" train "$tmp/multi.yaml" --quiet --set output.run_id=multi-full >"$tmp/again.out" 2>&1 &&
  fail "a new run over an existing run id succeeded"
grep -q 'already exists' "$tmp/again.out" || fail "existing run id: $(cat "$tmp/again.out")"
"$kaizen" train "$tmp/multi.yaml" --quiet --set output.run_id=absent --resume >"$tmp/absent.out" 2>&1 &&
  fail "resume of an absent run succeeded"
grep -q 'does not exist' "$tmp/absent.out" || fail "absent run: $(cat "$tmp/absent.out")"

[ $fails -eq 0 ] && echo "gbdt resume: all checks passed"
exit $((fails > 0))
