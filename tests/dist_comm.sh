#!/usr/bin/env bash
# The communicators across real processes (tests/test_comm.c):
#   (a) alone: a world of one;
#   (b) under mpirun -np 2 and -np 3: every collective on MPI;
#   (c) file and TCP rendezvous of 3 ranks started by hand (KZ_RANK,
#       KZ_WORLD_SIZE; the NCCL id's path without MPI), and a rendezvous that
#       times out names what it waited for.
# usage: dist_comm.sh TEST_COMM
set -u
bin="$1"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/dist_mpirun.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

"$bin" >"$tmp/one.out" 2>&1 || fail "world of one: $(cat "$tmp/one.out")"
grep -q "rank 0 of 1 (self): collectives ok" "$tmp/one.out" || fail "world of one: $(cat "$tmp/one.out")"

if have_mpi; then
  for n in 2 3; do
    OMP_NUM_THREADS=1 mpirun_np $n "$bin" >"$tmp/mpi$n.out" 2>&1 || fail "mpirun -np $n: $(cat "$tmp/mpi$n.out")"
    got=$(grep -c "of $n (mpi): collectives ok" "$tmp/mpi$n.out")
    [ "$got" = "$n" ] || fail "mpirun -np $n: $got ranks ok: $(cat "$tmp/mpi$n.out")"
  done
else
  echo "note: no mpirun; MPI cases skipped"
fi

# rendezvous: SPEC -> every rank prints rank 0's blob
rdv() {
  local spec="$1" tag="$2"
  local pids=()
  for r in 2 1 0; do # rank 0 last: the others wait for it
    KZ_RANK=$r KZ_WORLD_SIZE=3 "$bin" rendezvous "$spec" >"$tmp/$tag.$r" 2>&1 &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "rendezvous $tag: a rank failed: $(cat "$tmp/$tag".*)"; done
  for r in 0 1 2; do
    grep -q "rank $r got id-from-rank-0:3" "$tmp/$tag.$r" || fail "rendezvous $tag rank $r: $(cat "$tmp/$tag.$r")"
  done
}
mkdir -p "$tmp/shared"
rdv "file://$tmp/shared" file
port=$((20000 + RANDOM % 20000))
rdv "tcp://127.0.0.1:$port" tcp
port=$((20000 + RANDOM % 20000))
KZ_MASTER_ADDR=127.0.0.1 KZ_MASTER_PORT=$port rdv env env

# a rank alone waits, then gives up naming the file
mkdir -p "$tmp/empty"
if KZ_RANK=1 KZ_WORLD_SIZE=2 timeout 120 "$bin" rendezvous "file://$tmp/empty" 2 >"$tmp/late" 2>&1; then
  fail "a rendezvous without rank 0 succeeded"
fi
grep -q "kaizen-rendezvous did not appear" "$tmp/late" || fail "timeout message: $(cat "$tmp/late")"

[ $fails -eq 0 ] && echo "dist_comm: all ok"
exit $((fails > 0))
