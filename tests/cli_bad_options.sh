#!/usr/bin/env bash
# Each bad invocation must exit non-zero and say what was wrong.
set -u
kaizen="$1"
fails=0
expect_fail() { # expect_fail "needle" args...
  local needle="$1"; shift
  local out
  out=$("$kaizen" "$@" 2>&1)
  local rc=$?
  if [ $rc -eq 0 ] || ! grep -qF -- "$needle" <<<"$out"; then
    echo "FAIL: kaizen $* -> rc=$rc, wanted an error containing '$needle', got: $out"
    fails=$((fails + 1))
  fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
expect_fail "unknown option '--frob'" info --frob
expect_fail "--device needs a value" info --device
expect_fail "device 'tpu'" info --device tpu
expect_fail "cuda:7" info --device cuda:7
expect_fail "$tmp/missing.yaml" info --kernel-config "$tmp/missing.yaml"
printf 'cpu:\n  matmul:\n    impl: fortran\n' > "$tmp/bad.yaml"
expect_fail "bad.yaml:3" info --kernel-config "$tmp/bad.yaml"
KZ_KERNEL_CONFIG="$tmp/bad.yaml" expect_fail "bad.yaml:3" info
expect_fail "no model: give --model NAME=PATH" serve
expect_fail "--port: 'abc' is not a non-negative integer" serve --port abc --model m=x.json
expect_fail "--model 'nomodel': expected NAME=PATH[:VERSION]" serve --model nomodel
expect_fail "unknown option '--frob'" serve --frob
expect_fail "$tmp/missing.json" serve --model "m=$tmp/missing.json"
expect_fail "--token-file $tmp/no-token" serve --model "m=$tmp/missing.json" --token-file "$tmp/no-token" --port-file "$tmp/p"
exit $((fails > 0))
