#!/usr/bin/env bash
# Import onto a full disk (issue 14): a 1 MiB tmpfs. Every import that does
# not fit must exit 1 with a message naming the file and the reason, leave
# nothing behind and not crash (libhdf5 1.10 used to crash at exit after a
# failed close). Needs root for mount; skips (77) where mounting fails.
# usage: import_disk_full.sh KAIZEN
set -u
kaizen="$1"
work=$(mktemp -d)
mnt="$work/mnt"
mkdir "$mnt"
cleanup() {
  umount "$mnt" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
if ! mount -t tmpfs -o size=1m tmpfs "$mnt" 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs here (not root, or no mount permission)"
  exit 77
fi
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
# 60,000 rows, about 1.1 MB of CSV and more as shards: larger than the disk
awk 'BEGIN { print "a,b,c,y"; for (i = 0; i < 60000; i++) printf "%d,%.6f,%d,%d\n", i, i / 7.0, i % 7, i % 3 }' >"$work/big.csv"
head -n 3001 "$work/big.csv" >"$work/small.csv"

# one import, larger than the disk
"$kaizen" data import --kind tabular --input "$work/big.csv" --out "$mnt/o" --label y >"$work/out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "big import: exit $rc, wanted 1"
grep -q "mnt/o/train-00000.h5.tmp: .*No space left on device" "$work/out" || fail "big import: message: $(cat "$work/out")"
[ -z "$(ls -A "$mnt")" ] || fail "big import left: $(ls -A "$mnt")"

# small imports of several shards with the disk filled to different levels,
# so that the space runs out at different points: creating a shard, writing
# rows, flushing a shard's metadata, writing the manifest
ok=0 failed=0
for kb in $(seq 880 4 1020); do
  dd if=/dev/zero of="$mnt/fill" bs=1k count="$kb" 2>/dev/null
  "$kaizen" data import --kind tabular --input "$work/small.csv" --out "$mnt/o" --label y \
    --shard-rows 1000 >"$work/out" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ]; then
    ok=$((ok + 1))
    rm -rf "$mnt/o"
  elif [ "$rc" -eq 1 ]; then
    failed=$((failed + 1))
    grep -q "No space left on device" "$work/out" || fail "fill ${kb}k: message: $(cat "$work/out")"
    grep -q "mnt/o/" "$work/out" || fail "fill ${kb}k: the message names no file: $(cat "$work/out")"
    left=$(ls -A "$mnt" | grep -v '^fill$')
    [ -z "$left" ] || fail "fill ${kb}k left: $left $(ls -A "$mnt/o" 2>/dev/null)"
  else
    fail "fill ${kb}k: exit $rc: $(cat "$work/out")"
  fi
  rm -rf "$mnt/o" "$mnt/fill"
done
echo "filled disk: $ok imports fitted, $failed failed cleanly"
[ "$failed" -gt 0 ] || fail "no import ran out of space; the test no longer tests anything"
echo "$fails failure(s)"
[ "$fails" -eq 0 ]
