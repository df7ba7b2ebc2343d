#!/bin/sh
# Passes when the static library carries real machine code (an ELF cubin)
# for the given architecture, so a GPU of that generation runs our kernels
# without JIT-compiling PTX at start-up.
# usage: cuda_elf_check.sh CUOBJDUMP LIBRARY ARCH   (ARCH like sm_90)
# Fails when cuobjdump is missing: tools/install-deps.sh --with-test provides it.
tool=$1
lib=$2
arch=$3
if [ ! -x "$tool" ]; then
  echo "cuobjdump not found: run tools/install-deps.sh --with-test"
  exit 1
fi
if ! out=$("$tool" --list-elf "$lib" 2>&1); then
  echo "cuobjdump --list-elf $lib failed:"
  printf '%s\n' "$out"
  exit 1
fi
# The digit guard keeps sm_9 from matching sm_90 and sm_90 from matching sm_900.
if printf '%s\n' "$out" | grep -Eq "${arch}([^0-9]|\$)"; then
  echo "ok: $lib holds $arch machine code"
  exit 0
fi
echo "no $arch ELF in $lib; cuobjdump lists:"
printf '%s\n' "$out"
exit 1
