#!/usr/bin/env bash
# `kaizen data` end to end: every file in shared/data imports with one
# command, inspect reports it, and each kind of bad input exits non-zero with
# a message naming the file and line or dataset, leaving no output behind.
# usage: data_cli.sh KAIZEN SHARED_DATA_DIR VOCAB TEST_SHARD
set -u
kaizen="$1" data="$2" vocab="$3" patcher="$4"
[ -d "$data" ] || { echo "skipped: $data not found"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

ok() { # ok args...: must succeed
  local out
  if ! out=$("$kaizen" "$@" 2>&1); then fail "kaizen $* -> rc=$?: $out"; fi
}
expect_fail() { # expect_fail OUTDIR "needle" args...: non-zero, message, no OUTDIR
  local outdir="$1" needle="$2"; shift 2
  local out rc
  out=$("$kaizen" "$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] || ! grep -qF -- "$needle" <<<"$out"; then
    fail "kaizen $* -> rc=$rc, wanted an error containing '$needle', got: $out"
  fi
  if [ -n "$outdir" ] && [ -e "$outdir" ] && [ -n "$(ls -A "$outdir")" ]; then
    fail "kaizen $* left output behind: $(ls -A "$outdir")"
  fi
}

# ---- the import commands of docs/DATA.md ------------------------------------------
ok data import --kind tabular --input "$data/diamonds.csv" --out "$tmp/diamonds" --label price
ok data import --kind tabular --input "$data/letter.csv" --out "$tmp/letter" --label lettr
ok data import --kind tabular --input "$data/pima2.csv" --out "$tmp/pima2" --label diabetes --valid-fraction 0.2 --seed 1
ok data import --kind tabular --input "$data/breast_cancer.csv" --out "$tmp/breast_cancer" --label target --label-type categorical
ok data import --kind timeseries --input "$data/taylor.csv" --out "$tmp/taylor" --time t --label demand
ok data import --kind timeseries --input "$data/txhousing.csv" --out "$tmp/txhousing" --series-id city --time date --label sales --known year,month --valid-fraction 0.1
ok data import --kind text --input "$data/austen.csv" --out "$tmp/austen" --text-column text --label book --vocab "$vocab" --cased --max-len 64 --shard-rows 20000 --compress
for d in diamonds letter pima2 breast_cancer taylor txhousing austen; do
  [ -f "$tmp/$d/manifest.json" ] || fail "$d: no manifest.json"
  ls "$tmp/$d" | grep -q '\.tmp$' && fail "$d: a .tmp file was left"
done
out=$("$kaizen" data inspect "$tmp/pima2" --verify 2>&1) || fail "inspect pima2: $out"
grep -q "insulin .*missing 48.70%" <<<"$out" || fail "inspect pima2: missing share of insulin not shown: $out"
grep -q "neg  *500" <<<"$out" || fail "inspect pima2: label distribution not shown: $out"
out=$("$kaizen" data inspect "$tmp/austen/train-00001.h5" 2>&1) || fail "inspect one shard: $out"
grep -q "rows: 20000 in 1 shard" <<<"$out" || fail "inspect one shard: $out"
# the classification set of docs/DATA.md: lines of at least 40 characters (code points;
# Python's len() over the CSV gives 56,640 of 73,422 rows)
out=$("$kaizen" data import --kind text --input "$data/austen.csv" --out "$tmp/austen40" --text-column text --label book --vocab "$vocab" --cased --max-len 64 --min-chars 40 --valid-fraction 0.2 --seed 1 2>&1) || fail "import --min-chars: $out"
grep -q "train 45405, valid 11235, 11143 blank texts skipped, 5639 texts shorter than 40 characters skipped" <<<"$out" || fail "import --min-chars counts: $out"
grep -q '"min_chars": 40' "$tmp/austen40/manifest.json" || grep -rq 'min_chars' "$tmp/austen40" || fail "min_chars not recorded in the meta"
expect_fail "$tmp/o0" "--min-chars filters plain text rows" \
  data import --kind tabular --input "$data/pima2.csv" --out "$tmp/o0" --label diabetes --min-chars 3
expect_fail "$tmp/o0" "--min-chars needs an integer" \
  data import --kind text --input "$data/austen.csv" --out "$tmp/o0" --text-column text --vocab "$vocab" --min-chars -1
"$kaizen" data import --help | grep -q -- "--valid-fraction" || fail "import --help"
"$kaizen" data inspect --help | grep -q -- "--verify" || fail "inspect --help"
"$kaizen" data --help | grep -q "vocab" || fail "data --help"

# ---- bad input -----------------------------------------------------------------------
printf 'a,b,c\n1,2,3\n4,5\n' > "$tmp/ragged.csv"
expect_fail "$tmp/o1" "ragged.csv:3: 2 fields, but the header has 3" \
  data import --kind tabular --input "$tmp/ragged.csv" --out "$tmp/o1" --shard-rows 1
printf 'a,y\n1,2\n3,abc\n' > "$tmp/nonnum.csv"
expect_fail "$tmp/o2" "nonnum.csv:3: column 'y': 'abc' is not a number" \
  data import --kind tabular --input "$tmp/nonnum.csv" --out "$tmp/o2" --label y --label-type numeric
expect_fail "$tmp/o2" "nonnum.csv:3: column 'y': 'abc' is not a number" \
  data import --kind tabular --input "$tmp/nonnum.csv" --out "$tmp/o2" --numeric y
printf 'a,b,a\n1,2,3\n' > "$tmp/twice.csv"
expect_fail "$tmp/o3" "twice.csv:1: column 'a' named twice" \
  data import --kind tabular --input "$tmp/twice.csv" --out "$tmp/o3"
expect_fail "$tmp/o4" "--label names column 'nosuch', which $data/pima2.csv does not have" \
  data import --kind tabular --input "$data/pima2.csv" --out "$tmp/o4" --label nosuch
expect_fail "" "unknown option '--frob'" data import --frob
expect_fail "" "--kind is required" data import --input x --out y

# a truncated shard
cp -r "$tmp/pima2" "$tmp/trunc"
head -c 3000 "$tmp/pima2/train-00000.h5" > "$tmp/trunc/train-00000.h5"
expect_fail "" "trunc/train-00000.h5" data inspect "$tmp/trunc"
# a shard of another format version (the attribute is rewritten in place)
cp -r "$tmp/pima2" "$tmp/v2"
"$patcher" set-version "$tmp/v2/train-00000.h5" 2 || fail "could not patch the version"
expect_fail "" "v2/train-00000.h5: attribute 'kaizen_format_version' is 2" data inspect "$tmp/v2"
# a manifest whose checksum does not match
cp -r "$tmp/pima2" "$tmp/badsum"
sed -i 's/"kz64:\(.\)/"kz64:X\1/; s/"kz64:X0/"kz64:1/; s/"kz64:X\(.\)/"kz64:0/' "$tmp/badsum/manifest.json"
expect_fail "" "does not match the manifest" data inspect "$tmp/badsum" --verify
# the existing data set is not silently replaced
expect_fail "" "already exists" data import --kind tabular --input "$data/pima2.csv" --out "$tmp/pima2"

# ---- schema overrides ----------------------------------------------------------------
ok data import --kind tabular --input "$data/pima2.csv" --out "$tmp/pcat" --label diabetes --categorical pregnant
out=$("$kaizen" data inspect "$tmp/pcat" 2>&1) || fail "inspect pcat: $out"
grep -q "pregnant  *categorical  *17 categories" <<<"$out" || fail "--categorical pregnant not applied: $out"
printf 'sid,t,region,y\na,1,north,1.5\na,2,north,2\nb,1,south,3\nb,2,south,NA\n' > "$tmp/static.csv"
ok data import --kind timeseries --input "$tmp/static.csv" --out "$tmp/static" --series-id sid --time t --static region --label y
out=$("$kaizen" data inspect "$tmp/static" 2>&1) || fail "inspect static: $out"
grep -q "field 'static_cat'" <<<"$out" || fail "--static region not stored as a static field: $out"
# a static column must hold one value per series: found in the first pass, nothing written
printf 'sid,t,region,y\na,1,north,1.5\na,2,north,2\nb,1,south,3\nb,2,east,4\n' > "$tmp/static2.csv"
expect_fail "$tmp/static2" "static2.csv:5: --static column 'region' is 'east' in series 'b', but 'south' at line 4" \
  data import --kind timeseries --input "$tmp/static2.csv" --out "$tmp/static2" --series-id sid --time t --static region --label y
printf 't,kind,y\n1,x,1\n2,,2\n' > "$tmp/static3.csv"
expect_fail "$tmp/static3" "static3.csv:3: --static column 'kind' is missing in series 'all', but 'x' at line 2" \
  data import --kind timeseries --input "$tmp/static3.csv" --out "$tmp/static3" --time t --static kind --label y
# one number spelled two ways is one value in a numeric column, two categories in a categorical one
printf 'sid,t,size,y\na,1,1,1.5\na,2,1.0,2\nb,1,2,3\nb,2,2,4\n' > "$tmp/static4.csv"
ok data import --kind timeseries --input "$tmp/static4.csv" --out "$tmp/static4" --series-id sid --time t --static size --label y
expect_fail "$tmp/static5" "static4.csv:3: --static column 'size' is categorical, and series 'a' spells its value differently here than at line 2 ('1')" \
  data import --kind timeseries --input "$tmp/static4.csv" --out "$tmp/static5" --series-id sid --time t --static size --categorical size --label y

# ---- replacing a data set ------------------------------------------------------------
# Bad input found before any shard is written leaves the old data set whole.
cp -r "$tmp/pima2" "$tmp/keep"
printf 'a,b\n1,2\n3\n' > "$tmp/early.csv"
expect_fail "" "early.csv:3" data import --kind tabular --input "$tmp/early.csv" --out "$tmp/keep" --overwrite
out=$("$kaizen" data inspect "$tmp/keep" --verify 2>&1) || fail "an early failure damaged the old data set: $out"
# (A failure after the first new shard is committed is covered by test_shard:
# the importer finds bad input in its first pass, before writing anything.)
cp -r "$tmp/pima2" "$tmp/repl"
ok data import --kind tabular --input "$data/pima2.csv" --out "$tmp/repl" --label diabetes --overwrite
out=$("$kaizen" data inspect "$tmp/repl" --verify 2>&1) || fail "re-import over an existing data set: $out"

exit $((fails > 0))
