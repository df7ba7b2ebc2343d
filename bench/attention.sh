#!/usr/bin/env bash
# Fused attention on the CPU against the unfused sequence of existing ops
# (permute, batched matmul, softmax, matmul; the backward's matmuls and
# softmax_bwd), at BERT-ish sizes: batch 16, 4 heads of 64, T 128..1024.
#
#   bench/attention.sh [BUILD_DIR] > bench/results/$(date +%F)-attention-cpu.txt
#
# Three tables: wall-clock medians with the default threads (interleaved
# fused/unfused samples, so a loaded machine slows both alike); CPU-time
# medians of one thread (what the work costs, whatever else runs); and the
# peak resident memory of one training step (forward + backward) per T, each
# in its own process. GFLOP/s count model FLOPs: forward 4 B H T^2 D,
# backward 8 B H T^2 D, for both paths.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
exe="$build/tests/bench_attention"
if [ ! -x "$exe" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build "$build" -j"$(nproc)" --target bench_attention >&2
fi
B=16 H=4 D=64 REPEAT="${REPEAT:-5}"
Ts="${TS:-128 256 512 1024}"

echo "# fused attention vs unfused ops, CPU, $(date -u +%FT%TZ), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(uname -n)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared)"
echo "# tiles: attention.block_q / block_k defaults (kernels/config/knobs.c)"
echo
echo "## wall clock, $(nproc) threads: $exe time $B $H T $D $REPEAT"
"$exe" peak 1024 "$REPEAT"
for T in $Ts; do "$exe" time "$B" "$H" "$T" "$D" "$REPEAT"; done
echo
echo "## CPU time, 1 thread: OMP_NUM_THREADS=1 BENCH_CLOCK=cpu $exe time $B $H T $D $REPEAT"
OMP_NUM_THREADS=1 BENCH_CLOCK=cpu "$exe" peak 1024 "$REPEAT"
for T in $Ts; do OMP_NUM_THREADS=1 BENCH_CLOCK=cpu "$exe" time "$B" "$H" "$T" "$D" "$REPEAT"; done
echo
echo "## peak memory of one step (forward + backward), one process each: $exe mem fused|unfused $B $H T $D"
echo "## (working memory = peak RSS minus RSS before the step, inputs/outputs/gradients already resident)"
for T in $Ts; do
  "$exe" mem fused "$B" "$H" "$T" "$D"
  "$exe" mem unfused "$B" "$H" "$T" "$D"
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
