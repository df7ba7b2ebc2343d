#!/usr/bin/env bash
# Trainable ranges (kz_nn_model_base.trainable) end to end with the MLP on
# pima2: a run continued from a model file with model.freeze_layers: [0]
# leaves the first layer's W and b bit-identical and changes the rest; its
# checkpoints hold optimizer state for the trainable floats only; a run
# stopped at step 12 and resumed (--resume, the optimizer state and the
# frozen block read back from its checkpoint) ends on the same model bytes
# as the uninterrupted run.
# usage: freeze_cli.sh KAIZEN SHARED_DATA_DIR
set -u
kaizen="$1" data="$2"
[ -f "$data/pima2.csv" ] || { echo "skipped: $data/pima2.csv not found"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 not found"; exit 77; }
tmp=$(mktemp -d)
trap "rm -rf $tmp" EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$kaizen" data import --kind tabular --input "$data/pima2.csv" --out "$tmp/pima2" \
  --label diabetes --valid-fraction 0.2 --seed 1 >/dev/null || { echo "FAIL: import"; exit 1; }

# job FILE STEPS [extra lines under model:] -- writes an MLP job
job() {
  local file="$1" steps="$2"; shift 2
  {
    echo "model:"
    echo "  type: mlp"
    echo "  hidden: [8]"
    echo "  dropout: 0.1"
    for l in "$@"; do echo "  $l"; done
    echo "data:"
    echo "  train: $tmp/pima2"
    echo "train:"
    echo "  lr: 0.01"
    echo "  batch_size: 16"
    echo "  steps: $steps"
    echo "  eval_every: 10"
    echo "  clip_norm: 1.0"
    echo "  seed: 3"
    echo "output:"
    echo "  runs_dir: $tmp/runs"
    echo "  checkpoint_every: 5"
    echo "  keep_checkpoints: 20"
  } >"$file"
}
run_dir() { echo "$tmp/runs/default/$1"; }

# The parameter block of a .kzm (docs/FORMATS.md) as hex, floats [a, b).
block() {
  python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
p = open(sys.argv[1], "rb").read()
ml = struct.unpack_from("<Q", p, 8)[0]
off = 16 + ml + 8
a, b = int(sys.argv[2]), int(sys.argv[3])
print(p[off + 4 * a:off + 4 * b].hex())
PY
}

job "$tmp/base.yaml" 10
"$kaizen" train "$tmp/base.yaml" --quiet --set output.run_id=base >"$tmp/base.out" 2>&1 ||
  fail "base run: $(cat "$tmp/base.out")"
base="$(run_dir base)/model.kzm"
job "$tmp/frozen.yaml" 30 "freeze_layers: [0]"
for id in f1 f2; do
  "$kaizen" train "$tmp/frozen.yaml" --quiet --set output.run_id=$id --set "train.init_from=$base" \
    >"$tmp/$id.out" 2>&1 || fail "frozen run $id: $(cat "$tmp/$id.out")"
done
f1="$(run_dir f1)/model.kzm"
n=$(python3 -c "import struct,sys; p=open(sys.argv[1],'rb').read(); ml=struct.unpack_from('<Q',p,8)[0]; print(struct.unpack_from('<Q',p,16+ml)[0])" "$f1")
# the block is [layer 0: W, b | output layer: W [2, 8], b [2]] (two classes)
n0=$((n - 2 * 8 - 2))
[ "$(block "$base" 0 $n0)" = "$(block "$f1" 0 $n0)" ] || fail "the frozen layer changed in training"
[ "$(block "$base" $n0 "$n")" != "$(block "$f1" $n0 "$n")" ] || fail "the trainable layers did not change"
cmp -s "$f1" "$(run_dir f2)/model.kzm" || fail "two frozen runs: model.kzm differ"
# AdamW state for the trainable floats only: state_n in the checkpoint's state
ck=$(ls "$(run_dir f1)"/checkpoints/*.kzc | head -1)
grep -aq "\"state_n\":$((n - n0))" "$ck" || fail "the checkpoint does not record state_n $((n - n0))"

# stop at step 12, then resume from its newest checkpoint to step 30: the same model bytes
"$kaizen" train "$tmp/frozen.yaml" --quiet --set output.run_id=k --set "train.init_from=$base" \
  --set train.steps=12 >/dev/null 2>&1 || fail "short frozen run"
"$kaizen" train "$tmp/frozen.yaml" --quiet --set output.run_id=k --set "train.init_from=$base" \
  --resume --allow-changes >"$tmp/k.out" 2>&1 || fail "resume: $(cat "$tmp/k.out")"
cmp -s "$f1" "$(run_dir k)/model.kzm" || fail "resumed frozen run: model.kzm differs"

# a bad index is refused
job "$tmp/bad.yaml" 5 "freeze_layers: [2]"
"$kaizen" train "$tmp/bad.yaml" --quiet --set output.run_id=bad >"$tmp/bad.out" 2>&1 &&
  fail "freeze_layers: [2] accepted for one hidden layer"
grep -q "model.freeze_layers\[0\]: 2" "$tmp/bad.out" || fail "bad freeze_layers: $(cat "$tmp/bad.out")"

[ "$fails" -eq 0 ] && echo "ok" || exit 1
