#!/usr/bin/env bash
# `kaizen runs list/compare/plot` on runs fabricated through the C API
# (test_runs fabricate): the expected values must appear, the SVG must parse
# and hold one polyline per run, and bad input must fail naming the file.
set -u
kaizen="$1"
test_runs="$2"
tmp="$3"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
expect_out() { # expect_out "needle" "output"
  grep -qF -- "$1" <<<"$2" || fail "output lacks '$1':"$'\n'"$2"
}
expect_fail() { # expect_fail "needle" args...
  local needle="$1"; shift
  local out rc
  out=$("$kaizen" "$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] || ! grep -qF -- "$needle" <<<"$out"; then
    fail "kaizen $* -> rc=$rc, wanted an error containing '$needle', got: $out"
  fi
}
"$test_runs" fabricate "$tmp" || { echo "FAIL: fabricate"; exit 1; }
runs="$tmp/runs"

out=$("$kaizen" runs list --runs-dir "$runs") || fail "runs list exited $?"
expect_out "experiment" "$out"
line=$(grep -E '^letter +alpha ' <<<"$out")
for v in mlp finished 100 2.5 valid/accuracy=0.75 valid/accuracy=0.7; do expect_out "$v" "$line"; done
line=$(grep -E '^letter +beta ' <<<"$out")
for v in mlp stopped_early 3.5 valid/accuracy=0.85 valid/accuracy=0.8; do expect_out "$v" "$line"; done
line=$(grep -E '^letter +gamma ' <<<"$out")
# gamma has no summary, and the fabricating process recorded in its run.pid is gone
for v in linear crashed; do expect_out "$v" "$line"; done
grep -qE '^letter +gamma +linear +crashed ' <<<"$out" || fail "gamma is not 'crashed': $line"
# run.pid naming a live process (a sleep, with its /proc start time): running;
# no run.pid (a run written before it existed): running/crashed
mkdir -p "$tmp/owners/letter"
cp -r "$runs/letter/gamma" "$tmp/owners/letter/live"
cp -r "$runs/letter/gamma" "$tmp/owners/letter/old"
rm -f "$tmp/owners/letter/old/run.pid"
sleep 60 &
sleeper=$!
echo "$sleeper $(sed 's/.*) //' "/proc/$sleeper/stat" | cut -d' ' -f20) \
$(cat /proc/sys/kernel/random/boot_id) $(cat /proc/sys/kernel/hostname)" >"$tmp/owners/letter/live/run.pid"
out=$("$kaizen" runs list --runs-dir "$tmp/owners") || fail "runs list (owners) exited $?"
kill $sleeper 2>/dev/null
grep -qE '^letter +live +linear +running ' <<<"$out" || fail "a live run.pid is not 'running': $out"
grep -qE '^letter +old +linear +running/crashed ' <<<"$out" ||
  fail "a run without run.pid is not 'running/crashed': $out"
out=$("$kaizen" runs list --runs-dir "$runs" --experiment letter) || fail "runs list --experiment"
expect_out "alpha" "$out"
expect_fail "no experiment 'nope'" runs list --runs-dir "$runs" --experiment nope
expect_fail "$tmp/missing: no such runs directory" runs list --runs-dir "$tmp/missing"

out=$("$kaizen" runs compare letter/alpha "$runs/letter/beta" --runs-dir "$runs") ||
  fail "runs compare exited $?"
expect_out "letter/alpha" "$out"
expect_out "letter/beta" "$out"
grep -qE '^status +finished +stopped_early$' <<<"$out" || fail "compare status row: $out"
grep -qE '^final valid/loss +0.5 +0.25$' <<<"$out" || fail "compare final row: $out"
grep -qE '^config train.lr +0.01 +0.003$' <<<"$out" || fail "compare lr row: $out"
grep -qE '^config model.hidden +\[64, 32\] +\[128\]$' <<<"$out" || fail "compare hidden row: $out"
grep -q '^config model.type' <<<"$out" && fail "compare shows a key that does not differ: $out"
expect_fail "run 'letter/nope' not found" runs compare letter/nope --runs-dir "$runs"

svg="$tmp/acc.svg"
out=$("$kaizen" runs plot letter/alpha letter/beta --runs-dir "$runs" --metric valid/accuracy \
  --out "$svg") || fail "runs plot exited $?: $out"
[ -f "$svg" ] || fail "no $svg"
[ -e "$svg.tmp" ] && fail "$svg.tmp left behind"
/usr/bin/python3 - "$svg" <<'PY' || fail "SVG check"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
lines = root.findall(ns + "polyline")
assert len(lines) == 2, f"{len(lines)} polylines"
for pl in lines:
    pts = pl.get("points").split()
    assert len(pts) == 2, pts  # valid/accuracy is logged at steps 50 and 100 only
texts = " ".join(t.text or "" for t in root.iter(ns + "text"))
for want in ("letter/alpha", "letter/beta", "valid/accuracy", "step"):
    assert want in texts, want
PY
expect_fail "no run has the metric 'nope'" runs plot letter/alpha --runs-dir "$runs" \
  --metric nope --out "$tmp/x.svg"
[ -e "$tmp/x.svg" ] && fail "an SVG was written for a missing metric"
expect_fail "--metric NAME and --out" runs plot letter/alpha --runs-dir "$runs"

# malformed files name the file
echo "step,wall_s,a" > "$runs/letter/gamma/metrics.csv"
echo "1,2,oops" >> "$runs/letter/gamma/metrics.csv"
expect_fail "gamma/metrics.csv:2: column 'a'" runs plot letter/gamma --runs-dir "$runs" \
  --metric a --out "$tmp/y.svg"
echo "{not json" > "$runs/letter/gamma/summary.json"
# one malformed summary.json does not hide the other runs: skipped with a warning naming it
out=$("$kaizen" runs list --runs-dir "$runs" 2>&1) || fail "runs list with a bad summary exited $?"
expect_out "gamma/summary.json:1: invalid JSON" "$out"
expect_out "(run skipped)" "$out"
grep -qE '^letter +alpha ' <<<"$out" || fail "alpha not listed beside a bad summary: $out"
grep -qE '^letter +gamma ' <<<"$out" && fail "gamma listed despite its bad summary: $out"
# an existing SVG is kept without --overwrite, replaced with it; a run's files never
expect_fail "exists; pass --overwrite" runs plot letter/alpha --runs-dir "$runs" \
  --metric valid/accuracy --out "$svg"
"$kaizen" runs plot letter/alpha --runs-dir "$runs" --metric valid/accuracy --out "$svg" \
  --overwrite >/dev/null || fail "runs plot --overwrite exited $?"
expect_fail "is an input of this command" runs plot letter/alpha --runs-dir "$runs" \
  --metric valid/accuracy --out "$runs/letter/alpha/summary.json" --overwrite
expect_fail "unknown subcommand 'frob'" runs frob
exit $((fails > 0))
