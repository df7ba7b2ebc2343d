#!/usr/bin/env bash
# Kernel benchmarks: builds kaizen if needed, then runs `kaizen kernels bench`
# over every op and once more over matmul alone (the OpenBLAS comparison).
# The table goes to stdout; the last line is the headline ratio.
#
#   bench/kernels.sh [BUILD_DIR] [extra bench options...]
#   e.g. bench/kernels.sh build --device cuda --kernel-config mine.yaml
#
# To record a result (docs/TESTING.md):
#   bench/kernels.sh build | tee bench/results/$(date +%F)-$(hostname -s)-cpu.txt
# naming the file <date>-<device>.txt (cpu, or the GPU model, e.g. h100).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
[ $# -gt 0 ] && shift
if [ ! -x "$build/kaizen" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build "$build" -j"$(nproc)" --target kaizen >&2
fi

echo "# kaizen kernels bench, $(date -u +%FT%TZ), $(uname -n), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# all ops"
"$build/kaizen" kernels bench "$@"
echo
echo "# matmul only (kaizen vs OpenBLAS on the same shapes, interleaved)"
"$build/kaizen" kernels bench --op matmul "$@"
