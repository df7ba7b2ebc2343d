#!/usr/bin/env bash
# The main job, on the CPU: show the build and devices, then check and time
# every kernel. Later milestones add training runs on the bundled data here.
set -euo pipefail
build="${1:-build}"
kaizen="$build/kaizen"
echo "== kaizen info"
"$kaizen" info --device cpu
echo
echo "== op parity on the CPU (every op against the double-precision reference)"
"$kaizen" kernels test --device cpu
echo
echo "== op benchmark on the CPU"
"$kaizen" kernels bench --device cpu
