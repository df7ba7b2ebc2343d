#!/usr/bin/env bash
# Issue 13: a trained model scores tomorrow's file. Every model family (GBDT,
# MLP, linear) is trained on the first 40,000 diamonds; then, each in its own
# process:
#   - `predict --input` on a raw CSV of later diamonds that holds only some
#     color grades, no price column, an extra id column and its columns in
#     another order gives, to the last bit, the predictions of those rows
#     imported together with the training rows (`predict --data` over an
#     import of the whole file, whose dictionaries are its own), and of an
#     import with `--schema-from` the model;
#   - shards whose dictionary differs from the model's at the same size
#     (`Fair` spelled `fair`) are mapped by string, never by code: equal to
#     the raw file's predictions, `fair` read as missing and counted;
#   - eval on a raw file and on its --schema-from import agree;
#   - a missing feature column, a missing label for eval, an existing --out
#     and --out naming the model fail, naming the column or file, leaving
#     nothing behind.
# Then a GBDT trained on each shared tabular set loads back and eval gives the
# metric training reported.
# usage: new_data_cli.sh KAIZEN SHARED_DATA_DIR
set -u
kaizen="$1"
data="$2"
[ -f "$data/diamonds.csv" ] || { echo "skipped: $data/diamonds.csv not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

d="$data/diamonds.csv"
head -n 40001 "$d" >train.csv
# later diamonds of colors D, E and G, price dropped, an id first, columns reordered
awk -F, 'NR == 1 { print "\"id\"," $3 "," $1 "," $4 "," $2 "," $5 "," $6 "," $8 "," $9 "," $10; next }
         NR > 40001 && ($3 == "\"D\"" || $3 == "\"E\"" || $3 == "\"G\"") {
           print "x" NR "," $3 "," $1 "," $4 "," $2 "," $5 "," $6 "," $8 "," $9 "," $10 }' \
  "$d" >new.csv
# the 0-based rows of the whole file that new.csv holds, in order
awk -F, 'NR > 40001 && ($3 == "\"D\"" || $3 == "\"E\"" || $3 == "\"G\"") { print NR - 2 }' \
  "$d" >new.rows
# later diamonds with Fair spelled fair: still five cut grades, another dictionary
awk -F, 'NR == 1 || NR > 40001 { sub(/^"Fair"$/, "\"fair\"", $2); print }' OFS=, "$d" >twist.csv
head -n 1 "$d" >later.csv && tail -n +40002 "$d" >>later.csv

run() { "$kaizen" "$@" >run.out 2>&1 || { fail "kaizen $*: $(cat run.out)"; return 1; }; }
run data import --kind tabular --input train.csv --out dtrain --label price --valid-fraction 0.1 \
  --seed 1 || exit 1
run data import --kind tabular --input "$d" --out dall --label price || exit 1
run data import --kind tabular --input twist.csv --out dtwist --label price || exit 1
grep -q '"fair"' dtwist/manifest.json || fail "twist.csv did not rename the Fair grade"

cat >gbdt.yaml <<EOF
model: {type: gbdt, objective: "reg:squarederror", num_round: 20, max_depth: 6}
data: {train: dtrain}
output: {runs_dir: runs, experiment: d, run_id: gbdt}
EOF
cat >mlp.yaml <<EOF
model: {type: mlp, hidden: [32]}
data: {train: dtrain}
train: {epochs: 1, batch_size: 256, seed: 1}
output: {runs_dir: runs, experiment: d, run_id: mlp}
EOF
cat >linear.yaml <<EOF
model: {type: linear}
data: {train: dtrain}
train: {epochs: 1, batch_size: 256, seed: 1}
output: {runs_dir: runs, experiment: d, run_id: linear}
EOF

# the predictions (every column after the first) of the rows listed in new.rows
pick() { awk -F, 'NR == FNR { want[$1 + 2] = 1; next } FNR in want' new.rows "$1" | cut -d, -f2-; }
preds() { tail -n +2 "$1" | cut -d, -f2-; }

for family in gbdt mlp linear; do
  run train $family.yaml --quiet || continue
  m=runs/d/$family/model.json
  [ -f "$m" ] || m=runs/d/$family/model.kzm
  run predict --overwrite --model "$m" --input new.csv --keep id --out in.csv || continue
  grep -q 'columns the model does not read (ignored): id' run.out ||
    fail "$family: the id column was not reported as ignored: $(cat run.out)"
  [ "$(head -n 1 in.csv)" = "id,price" ] || fail "$family: header $(head -n 1 in.csv)"
  [ "$(wc -l <in.csv)" -eq "$(wc -l <new.csv)" ] || fail "$family: not one prediction per row"
  [ "$(tail -n +2 in.csv | cut -d, -f1 | head -n 1)" = "$(sed -n 2p new.csv | cut -d, -f1)" ] ||
    fail "$family: --keep id did not copy the id"
  run predict --overwrite --model "$m" --data dall --out all.csv || continue
  pick all.csv >all.picked
  preds in.csv >in.preds
  cmp -s all.picked in.preds ||
    fail "$family: --input and the rows imported with the training data differ: $(diff all.picked in.preds | head -n 4)"
  run data import --schema-from "$m" --input new.csv --out dnew --overwrite || continue
  run predict --overwrite --model "$m" --data dnew --out dnew.csv || continue
  preds dnew.csv | cmp -s - in.preds || fail "$family: --schema-from import and --input differ"
  # same-size dictionary, another meaning: mapped by string
  run predict --overwrite --model "$m" --data dtwist --out tw_data.csv || continue
  grep -q 'read as missing (cut: [0-9]' run.out || fail "$family: unseen 'fair' not counted: $(cat run.out)"
  run predict --overwrite --model "$m" --input twist.csv --out tw_in.csv || continue
  preds tw_data.csv | cmp -s - <(preds tw_in.csv) || fail "$family: shards and raw file disagree on fair"
  run predict --overwrite --model "$m" --input later.csv --out later_in.csv || continue
  # rows not of the Fair grade score exactly as before the renaming
  paste -d, <(cut -d, -f2 later.csv | tail -n +2) <(preds later_in.csv) <(preds tw_in.csv) |
    awk -F, '$1 != "\"Fair\"" && $2 != $3 { bad++ } END { exit bad > 0 }' ||
    fail "$family: renaming Fair moved predictions of other rows"
  # eval: raw file and its --schema-from import agree
  run eval --model "$m" --input later.csv --quiet || continue
  cp run.out eval_in.txt
  run data import --schema-from "$m" --input later.csv --out dlater --overwrite || continue
  run eval --model "$m" --data dlater --quiet || continue
  cmp -s run.out eval_in.txt || fail "$family: eval --input and --data differ: $(cat eval_in.txt run.out)"
  grep -q '^rmse [0-9]' eval_in.txt || fail "$family: eval printed no rmse: $(cat eval_in.txt)"
  echo "$family: predict --input == --data (whole-file import) == --schema-from import, $(tail -n +2 in.csv | wc -l) rows; eval $(head -n 1 eval_in.txt)"
done

# errors name the column or file and leave nothing behind
m=runs/d/gbdt/model.json
awk -F, '{ print $1 "," $2 "," $4 "," $5 "," $6 "," $7 "," $8 "," $9 "," $10 }' new.csv >nocarat.csv
"$kaizen" predict --model $m --input nocarat.csv --out bad.csv >err.txt 2>&1 &&
  fail "a file without carat was scored"
grep -q "no column 'carat'" err.txt || fail "missing column not named: $(cat err.txt)"
[ ! -e bad.csv ] && [ ! -e bad.csv.tmp ] || fail "a failed predict left bad.csv behind"
"$kaizen" eval --model $m --input new.csv >err.txt 2>&1 && fail "eval without a label succeeded"
grep -q "no column 'price' (the label)" err.txt || fail "missing label not named: $(cat err.txt)"
echo keep >exists.csv
"$kaizen" predict --model $m --input new.csv --out exists.csv >err.txt 2>&1 &&
  fail "predict replaced an existing file"
grep -q "exists; pass --overwrite" err.txt && [ "$(cat exists.csv)" = keep ] ||
  fail "existing --out: $(cat err.txt)"
"$kaizen" predict --model $m --input new.csv --out $m --overwrite >err.txt 2>&1 &&
  fail "predict overwrote its model"
grep -q "is the model or the input" err.txt || fail "--out = model: $(cat err.txt)"
"$kaizen" eval --model $m --input new.csv --data dall >err.txt 2>&1 && fail "--input with --data"

# A GBDT per shared tabular set: eval of the saved model gives training's metric.
final_metric() { sed -n "s/.*\"valid\/$2\": \([-0-9.e+]*\).*/\1/p" "runs/$1/summary.json" | head -n 1; }
eval_metric() { sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" "$1" | head -n 1; }
same() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b;
                                          exit !(a != "" && b != "" && d <= 1e-8 * s + 1e-12) }'; }
for spec in letter:lettr:logloss diamonds:price:rmse breast_cancer:target:logloss pima2:diabetes:logloss; do
  IFS=: read -r set label metric <<<"$spec"
  extra=""
  [ "$set" = breast_cancer ] && extra="--label-type categorical"
  # shellcheck disable=SC2086
  run data import --kind tabular --input "$data/$set.csv" --out "s_$set" --label "$label" \
    --valid-fraction 0.2 --seed 1 $extra || continue
  obj="reg:squarederror"
  [ "$metric" = logloss ] && obj=$([ "$set" = letter ] && echo multi:softprob || echo binary:logistic)
  printf 'model: {type: gbdt, objective: "%s", num_round: 15, max_depth: 5}\ndata: {train: s_%s}\noutput: {runs_dir: runs, experiment: s, run_id: %s}\n' \
    "$obj" "$set" "$set" >"s_$set.yaml"
  run train "s_$set.yaml" --quiet || continue
  run eval --model "runs/s/$set/model.json" --data "s_$set" --split valid --json --quiet || continue
  want=$(final_metric "s/$set" "$metric") got=$(eval_metric run.out "$metric")
  same "$got" "$want" && echo "$set: eval $metric=$got, training $want" ||
    fail "$set: eval $metric=$got, training reported $want"
done

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "new data: all checks passed"
