#!/usr/bin/env bash
# bench/gpu_first_run.sh must work the first time a GPU session runs it, so it
# is checked here on every machine: bash -n, shellcheck when installed, its
# option errors (exit 2 before touching anything), and, where there is no
# nvidia-smi, its "no GPU" stop: exit 2, a message saying so, nothing written
# under bench/results/. On a machine with a GPU that last part is left to the
# real run.
# usage: gpu_first_run_check.sh SCRIPT
set -u
script="$1"
results="$(cd "$(dirname "$script")" && pwd)/results"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

bash -n "$script" || fail "bash -n"
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck "$script" || fail "shellcheck"
else
  echo "shellcheck not installed: bash -n only"
fi
"$script" --help | grep -q 'gpu_first_run.sh \[--build DIR\]' || fail "--help"
for bad in "--only nonsense" "--timeout soon" "--frobnicate"; do
  # shellcheck disable=SC2086 # the options are meant to split
  out=$("$script" $bad 2>&1)
  [ $? -eq 2 ] || fail "$bad: exit status not 2"
  grep -q 'gpu_first_run: ' <<<"$out" || fail "$bad: no message ($out)"
done
if ! command -v nvidia-smi >/dev/null 2>&1; then
  before=$(find "$results" -mindepth 1 -maxdepth 1 | wc -l)
  out=$("$script" 2>&1)
  [ $? -eq 2 ] || fail "no GPU: exit status not 2"
  grep -q 'no GPU here' <<<"$out" || fail "no GPU: message ($out)"
  [ "$(find "$results" -mindepth 1 -maxdepth 1 | wc -l)" -eq "$before" ] || fail "no GPU: wrote under $results"
fi
[ "$fails" -eq 0 ] && echo "gpu_first_run.sh: ok"
exit $((fails > 0))
