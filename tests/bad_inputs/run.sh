#!/usr/bin/env bash
# The bad-input regression suite (issue 14): every malformed input once found
# to crash kaizen, corrupt data or mislead, kept so it never comes back.
#
# One directory per case, grouped by area: tests/bad_inputs/<area>/<case>/
#   setup    optional bash script that writes large or binary inputs (run
#            first, in the case's scratch copy; what it writes is input)
#   cmd      bash script: the kaizen command(s) that must fail ($KAIZEN is
#            the binary; the working directory is a scratch copy of the case)
#   expect   lines that must each appear in the output (fixed strings), e.g.
#            the file and line the message must name
#   rc       optional: the exit status wanted (default 1)
#   max_mb   optional: peak resident memory allowed, MB (default 300 beyond
#            the binary's own; ASan builds get 4x)
#   seconds  optional: time limit (default 10)
# setup may use the helpers beside this script through $BAD_INPUTS (e.g.
# kzfile.py, which edits .kzm / .kzc files and recomputes their checksum).
# A case passes when cmd exits with rc, prints every expect line, finishes in
# time and within memory, does not crash (no signal, no sanitizer report) and
# leaves no file or directory behind that was not there after setup.
# usage: run.sh KAIZEN AREA_DIR [ASAN:0|1]
set -u
kaizen="$1"
area="$2"
asan="${3:-0}"
export KAIZEN="$kaizen"
BAD_INPUTS=$(cd "$(dirname "$0")" && pwd)
export BAD_INPUTS
fails=0 n=0
# the binary's own footprint (a CUDA build maps its libraries: ~230 MB) is
# not the input's doing: limits are counted beyond it
base_kb=$(/usr/bin/time -f '%M' "$kaizen" --help 2>&1 >/dev/null | tail -n 1 | tr -dc 0-9)
base_kb=${base_kb:-0}
for case in "$area"/*/; do
  case=${case%/}
  name=$(basename "$case")
  [ -f "$case/cmd" ] || continue
  n=$((n + 1))
  tmp=$(mktemp -d)
  cp -r "$case/." "$tmp/"
  (cd "$tmp" && [ ! -f setup ] || bash ./setup >/dev/null 2>&1) || {
    echo "FAIL $name: setup failed"
    fails=$((fails + 1))
    rm -rf "$tmp"
    continue
  }
  (cd "$tmp" && find . | sort) >"$tmp.before"
  want_rc=$(cat "$case/rc" 2>/dev/null || echo 1)
  limit=$(cat "$case/seconds" 2>/dev/null || echo 10)
  max_mb=$(cat "$case/max_mb" 2>/dev/null || echo 300)
  [ "$asan" = 1 ] && max_mb=$((max_mb * 4)) && limit=$((limit * 4))
  (cd "$tmp" && /usr/bin/time -f '%M' -o "$tmp.rss" timeout "$limit" bash ./cmd >"$tmp.out" 2>&1)
  rc=$?
  rss_kb=$(tail -n 1 "$tmp.rss" 2>/dev/null | tr -dc 0-9)
  (cd "$tmp" && find . | sort) >"$tmp.after"
  why=""
  [ "$rc" -eq 124 ] && why="timed out after ${limit}s"
  [ -z "$why" ] && [ "$rc" -gt 128 ] && why="killed by signal $((rc - 128))"
  [ -z "$why" ] && grep -q 'ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer' "$tmp.out" &&
    why="sanitizer report"
  [ -z "$why" ] && [ "$rc" -ne "$want_rc" ] && why="exit $rc, wanted $want_rc"
  if [ -z "$why" ] && [ -f "$case/expect" ]; then
    while IFS= read -r line; do
      [ -n "$line" ] || continue
      grep -qF -- "$line" "$tmp.out" || { why="output lacks: $line"; break; }
    done <"$case/expect"
  fi
  [ -z "$why" ] && [ -n "$rss_kb" ] && [ "$rss_kb" -gt $((base_kb + max_mb * 1024)) ] &&
    why="peak memory $((rss_kb / 1024)) MB > $max_mb MB beyond the binary's $((base_kb / 1024)) MB"
  left=$(comm -13 "$tmp.before" "$tmp.after" | grep -v '^\./cmd\.' | head -n 5)
  [ -z "$why" ] && [ -n "$left" ] && why="left behind: $(echo $left)"
  if [ -n "$why" ]; then
    echo "FAIL $name: $why"
    sed 's/^/    /' "$tmp.out" | head -n 20
    fails=$((fails + 1))
  else
    echo "ok   $name: $(grep -m1 -i 'kaizen' "$tmp.out" | cut -c1-150)"
  fi
  rm -rf "$tmp" "$tmp.before" "$tmp.after" "$tmp.out" "$tmp.rss"
done
echo "$n case(s), $fails failure(s) in $area"
[ "$n" -gt 0 ] && [ "$fails" -eq 0 ]
