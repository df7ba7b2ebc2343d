#!/usr/bin/env bash
# Timeseries with ISO 8601 times end to end: an hourly series of datetimes
# (space and T separators, Z and offsets) and a daily series of dates, each
# with a gap, import; inspect reports the step and the gaps; the stored times
# are the instants written (h5dump); unparsable, mixed, duplicate and unsorted
# times exit 1 naming file, line and value, and leave no output behind.
# usage: timestamps_cli.sh KAIZEN
set -u
kaizen="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { local out; out=$("$kaizen" "$@" 2>&1) || fail "kaizen $* -> rc=$?: $out"; }
expect_fail() { # expect_fail OUTDIR "needle" args...: exit 1, message, no OUTDIR
  local outdir="$1" needle="$2"; shift 2
  local out rc
  out=$("$kaizen" "$@" 2>&1); rc=$?
  if [ $rc -ne 1 ] || ! grep -qF -- "$needle" <<<"$out"; then
    fail "kaizen $* -> rc=$rc, wanted exit 1 and an error containing '$needle', got: $out"
  fi
  [ -e "$outdir" ] && fail "kaizen $* left $outdir behind: $(ls -A "$outdir")"
}
has() { grep -qF -- "$2" <<<"$1" || fail "$3: no '$2' in: $1"; }

# ---- hourly datetimes, two series, a gap of 3 hours (2 missing) in 'a' --------------
{
  echo "station,time,load"
  echo "a,2010-01-01 00:00:00,1"
  echo "b,2010-01-01T00:00:00Z,10"
  echo "a,2010-01-01 01:00:00,2"
  echo "b,2010-01-01T02:00:00+01:00,11"   # 01:00Z
  echo "a,2010-01-01T04:00:00.000Z,3"     # gap: 02:00 and 03:00 missing
  echo "b,2010-01-01 01:30-00:30,12"      # 02:00Z
  echo "a,2010-01-01T05:00,4"
  echo "b,2010-01-01T03:00:00Z,13"
} > "$tmp/hourly.csv"
ok data import --kind timeseries --input "$tmp/hourly.csv" --out "$tmp/hourly" --series-id station --time time --label load
out=$("$kaizen" data inspect "$tmp/hourly" 2>&1) || fail "inspect hourly: $out"
has "$out" '"time_format":"datetime"' "hourly meta"
has "$out" '"time_unit":"s"' "hourly meta"
has "$out" '"time_step":3600' "hourly meta"
has "$out" "range: 2010-01-01T00:00:00Z .. 2010-01-01T05:00:00Z" "hourly range"
has "$out" "step: 1 hour" "hourly step"
has "$out" "gaps: 1 of 2 series have gaps; 1 gaps, 2 missing steps in all" "hourly gaps"
grep -q "^    a  *1 gap, 2 missing steps; largest 2010-01-01T01:00:00Z .. 2010-01-01T04:00:00Z (3 hours)" <<<"$out" ||
  fail "hourly: series a's gap not listed: $out"
# round trip: the stored seconds are the instants written, in file order
times=$(h5dump -m %.17g -d /time -y -w 0 "$tmp/hourly/train-00000.h5" 2>/dev/null | tr -d ' \n' | sed 's/.*DATA{//; s/}.*//')
want="1262304000,1262304000,1262307600,1262307600,1262318400,1262311200,1262322000,1262314800"
[ "$(awk -F, '{for(i=1;i<=NF;i++) printf "%s%.0f", (i>1?",":""), $i}' <<<"$times")" = "$want" ] ||
  fail "hourly: stored times $times, wanted $want"

# ---- daily dates, one series, a gap of 4 days (3 missing), before 1970 ------------------
printf 'day,sales\n1969-12-29,5\n1969-12-30,6\n1969-12-31,7\n1970-01-04,8\n1970-01-05,9\n' > "$tmp/daily.csv"
ok data import --kind timeseries --input "$tmp/daily.csv" --out "$tmp/daily" --time day --label sales --valid-fraction 0.2
out=$("$kaizen" data inspect "$tmp/daily" 2>&1) || fail "inspect daily: $out"
has "$out" '"time_format":"date"' "daily meta"
has "$out" '"time_step":86400' "daily meta"
has "$out" "range: 1969-12-29 .. 1970-01-05" "daily range"
has "$out" "step: 1 day" "daily step"
has "$out" "gaps: 1 of 1 series have gaps; 1 gaps, 3 missing steps in all" "daily gaps (across the split)"
has "$out" "largest 1969-12-31 .. 1970-01-04 (4 days)" "daily largest gap"
times=$(h5dump -m %.17g -d /time -y -w 0 "$tmp/daily/train-00000.h5" 2>/dev/null | tr -d ' \n' | sed 's/.*DATA{//; s/}.*//')
[ "$(awk -F, '{for(i=1;i<=NF;i++) printf "%s%.0f", (i>1?",":""), $i}' <<<"$times")" = "-259200,-172800,-86400" ] ||
  fail "daily: stored train times $times"
times=$(h5dump -m %.17g -d /time -y -w 0 "$tmp/daily/valid-00000.h5" 2>/dev/null | tr -d ' \n' | sed 's/.*DATA{//; s/}.*//')
[ "$(awk -F, '{for(i=1;i<=NF;i++) printf "%s%.0f", (i>1?",":""), $i}' <<<"$times")" = "259200,345600" ] ||
  fail "daily: stored valid times $times (the last 20% of the span)"

# ---- bad times ---------------------------------------------------------------------------
printf 'time,y\n2010-01-01,1\n2010-02-30,2\n' > "$tmp/baddate.csv"
expect_fail "$tmp/o1" "baddate.csv:3: column 'time': '2010-02-30' is not a valid date or datetime: the day is not in the month" \
  data import --kind timeseries --input "$tmp/baddate.csv" --out "$tmp/o1" --time time --label y
printf 'time,y\n2010-01-01,1\nyesterday,2\n' > "$tmp/garbage.csv"
expect_fail "$tmp/o2" "garbage.csv:3: column 'time': 'yesterday' is not a time" \
  data import --kind timeseries --input "$tmp/garbage.csv" --out "$tmp/o2" --time time --label y
printf 'time,y\n2010-01-01,1\n2010-01-02 00:00,2\n' > "$tmp/mixed.csv"
expect_fail "$tmp/o3" "mixed.csv:3: column 'time': '2010-01-02 00:00' is a datetime, but line 2 ('2010-01-01') is a date" \
  data import --kind timeseries --input "$tmp/mixed.csv" --out "$tmp/o3" --time time --label y
printf 'time,y\n5,1\n2010-01-02,2\n' > "$tmp/mixed2.csv"
expect_fail "$tmp/o4" "mixed2.csv:3: column 'time': '2010-01-02' is a date, but line 2 ('5') is a number" \
  data import --kind timeseries --input "$tmp/mixed2.csv" --out "$tmp/o4" --time time --label y
printf 's,time,y\na,2010-01-01T00:00Z,1\nb,2010-01-01T00:00Z,1\na,2010-01-01T01:00+01:00,2\n' > "$tmp/dup.csv"
expect_fail "$tmp/o5" "dup.csv:4: column 'time': duplicate time '2010-01-01T01:00+01:00' in series 'a' (also at line 2)" \
  data import --kind timeseries --input "$tmp/dup.csv" --out "$tmp/o5" --series-id s --time time --label y
printf 't,y\n1,1\n5,2\n3,3\n' > "$tmp/unsorted.csv"
expect_fail "$tmp/o6" "unsorted.csv:4: column 't': time '3' in series 'all' is before line 3's (5)" \
  data import --kind timeseries --input "$tmp/unsorted.csv" --out "$tmp/o6" --time t --label y
# the late error (after pass 1's first rows) in a big file still leaves nothing behind
{ echo "time,y"; for i in $(seq 0 2999); do printf '2010-01-01T00:00:%02dZ,%d\n' $((i % 60)) "$i"; done; } > "$tmp/late.csv"
expect_fail "$tmp/o7" "late.csv:62: column 'time': time '2010-01-01T00:00:00Z' in series 'all' is before line 61's" \
  data import --kind timeseries --input "$tmp/late.csv" --out "$tmp/o7" --time time --label y --shard-rows 10

[ $fails -eq 0 ] && echo "all timestamp CLI checks passed"
exit $((fails > 0))
