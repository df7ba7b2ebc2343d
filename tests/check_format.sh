#!/usr/bin/env bash
# Fails listing every C/CUDA source that clang-format would change.
set -u
cf="${CLANG_FORMAT:-clang-format}"
bad=0
while IFS= read -r f; do
  if ! "$cf" --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not formatted: $f (run: make format)"
    bad=1
  fi
done < <(find include kernels common tools tests bench engine models data -type f \
           \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) 2>/dev/null | sort)
exit $bad
