#!/usr/bin/env bash
# `kaizen weights inspect` end to end: usage errors exit 2 saying what is
# wrong; a real file (the MiniLM embedding fixture) lists and checks clean.
# usage: weights_cli.sh KAIZEN FIXTURE.safetensors
set -u
kaizen="$1"
fixture="$2"
fails=0
expect() { # expect RC "needle" args...
  local rc_want="$1" needle="$2"
  shift 2
  local out rc
  out=$("$kaizen" "$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$rc_want" ] || ! grep -qF -- "$needle" <<<"$(tr -s ' ' <<<"$out")"; then
    echo "FAIL: kaizen $* -> rc=$rc (wanted $rc_want), wanted '$needle' in: $out"
    fails=$((fails + 1))
  fi
}
expect 2 "usage: kaizen weights inspect PATH" weights
expect 0 "--check" weights --help
expect 2 "unknown subcommand 'frob'" weights frob
expect 2 "inspect needs a PATH" weights inspect
expect 2 "unknown option '--frob'" weights inspect --frob "$fixture"
expect 2 "one PATH only" weights inspect "$fixture" "$fixture"
expect 1 "missing.safetensors: cannot open safetensors file" weights inspect missing.safetensors
expect 0 "1 tensors, 153600 bytes of data" weights inspect "$fixture"
expect 0 " embeddings F32 [100, 384]" weights inspect "$fixture"
expect 0 "metadata normalized: l2" weights inspect "$fixture"
expect 0 "every float tensor read back, all values finite" weights inspect "$fixture" --check
exit $((fails > 0))
