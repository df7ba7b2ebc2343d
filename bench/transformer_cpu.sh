#!/usr/bin/env bash
# Masked-LM training of the transformer encoder on the CPU, kaizen against
# PyTorch (bench/torch_bert_mlm.py: Hugging Face BertForMaskedLM) in one run
# on the same machine: 4 layers, hidden 256, 4 heads, ffn 1024, vocab 30522,
# batch 16, AdamW, fp32, 2 threads, seq 128 and 512; then the peak memory of
# one kaizen training step at seq 128..1024.
#
#   bench/transformer_cpu.sh [BUILD_DIR] > bench/results/$(date +%F)-transformer-cpu.txt
#
# Both sides take a step the same way: forward, loss on the ~15% masked
# positions, backward, AdamW over every parameter (kaizen also zeroes its
# gradients; PyTorch sets them to None). Rates are medians of STEPS steps
# after 2 warm-up steps. kaizen computes the vocabulary decoder on the
# masked rows only, PyTorch on every position: tokens/s compares the work
# as each library does it; the GFLOP/s count kaizen's own FLOPs
# (bench/bench_transformer.c). Then kaizen's train.precision bf16 at
# BF16_TS (default seq 128): step time and activation arena beside fp32's
# (the CPU GEMM widens bf16 operands to f32, so bf16 is slower here; the
# GPU's numbers come from bench/gpu_first_run.sh). The ratio
# kaizen/PyTorch is printed last.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-cpu}"
py="${PYTHON:-/work/venv/bin/python}"
exe="$build/tests/bench_transformer"
if [ ! -x "$exe" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKZ_CUDA=OFF >&2
  cmake --build "$build" -j2 --target bench_transformer >&2
fi
# passive: on a shared machine a spinning OpenMP worker burns the core another
# thread waits for (both libraries get the same setting)
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 OMP_WAIT_POLICY=passive
L=4 H=256 NH=4 F=1024 B=16 V=30522 STEPS="${STEPS:-5}" WARMUP="${WARMUP:-2}"
Ts="${TS:-128 512}"
MEM_TS="${MEM_TS:-128 256 512 1024}"
BF16_TS="${BF16_TS:-128}"

echo "# transformer MLM training, CPU, $(date -u +%FT%TZ), git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "# host: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(uname -n)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared with other"
echo "# work: absolute rates are low and noisy; kaizen and PyTorch run back to back in this one run)"
echo "# command: $0 $*  (STEPS=$STEPS WARMUP=$WARMUP (PyTorch; kaizen: 2) TS='$Ts' MEM_TS='$MEM_TS',"
echo "#   OMP/OpenBLAS threads 2, OMP_WAIT_POLICY=passive)"
echo "# wall clock and process CPU time (all threads) are both given: on a loaded machine the"
echo "# CPU-time rates are the steadier ones (they leave out the time spent waiting for a core)"
echo
echo "## sgemm peak: $exe peak 5"
pk=$("$exe" peak 5)
echo "$pk"
peak=$(echo "$pk" | sed -n 's/^sgemm peak GFLOP\/s //p')
cpeak=$(echo "$pk" | sed -n 's/^sgemm peak GFLOP per CPU-s //p')
summary=()
for T in $Ts; do
  echo
  echo "## seq $T: $exe time $L $H $NH $F $T $B $V $STEPS"
  k=$("$exe" time $L $H $NH $F "$T" $B $V "$STEPS")
  echo "$k"
  echo "## seq $T: $py bench/torch_bert_mlm.py --layers $L --hidden $H --heads $NH --ffn $F --seq $T --batch $B --vocab $V --threads 2 --steps $STEPS --warmup $WARMUP"
  p=$("$py" "$root/bench/torch_bert_mlm.py" --layers $L --hidden $H --heads $NH --ffn $F --seq "$T" \
    --batch $B --vocab $V --threads 2 --steps "$STEPS" --warmup "$WARMUP")
  echo "$p"
  kt=$(echo "$k" | sed -n 's/.* tokens\/s \([0-9.]*\),.*/\1/p')
  kg=$(echo "$k" | sed -n 's/.*model GFLOP\/s \([0-9.]*\);.*/\1/p')
  kc=$(echo "$k" | sed -n 's/.*cpu_tokens\/s \([0-9.]*\),.*/\1/p')
  kcg=$(echo "$k" | sed -n 's/.*model GFLOP per CPU-s \([0-9.]*\) .*/\1/p')
  pt=$(echo "$p" | sed -n 's/.* tokens\/s \([0-9.]*\) .*/\1/p')
  pc=$(echo "$p" | sed -n 's/.*cpu_tokens\/s \([0-9.]*\) .*/\1/p')
  pct() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", 100*a/b}'; }
  rat() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
  summary+=("seq $T wall clock: kaizen tokens/s $kt, PyTorch tokens/s $pt; kaizen model GFLOP/s $kg = $(pct "$kg" "$peak")% of the sgemm peak $peak; ratio kaizen/PyTorch $(rat "$kt" "$pt")x")
  summary+=("seq $T CPU time:   kaizen tokens/s $kc, PyTorch tokens/s $pc; kaizen model GFLOP per CPU-s $kcg = $(pct "$kcg" "$cpeak")% of the sgemm peak $cpeak; ratio kaizen/PyTorch $(rat "$kc" "$pc")x")
done
echo
echo "## peak memory of one kaizen training step (max_len = seq), one process each: $exe mem $L $H $NH $F T $B $V"
echo "## (step working memory = peak RSS minus RSS before the step: parameters, gradients and AdamW state"
echo "##  already resident; the attention part is B*heads*T floats of log-sum-exp per layer, linear in T)"
for T in $MEM_TS; do "$exe" mem $L $H $NH $F "$T" $B $V; done
bf16_summary=()
for T in $BF16_TS; do
  echo
  echo "## seq $T, train.precision bf16: $exe time $L $H $NH $F $T $B $V $STEPS cpu bf16 (and mem, fp32 and bf16)"
  k16=$("$exe" time $L $H $NH $F "$T" $B $V "$STEPS" cpu bf16)
  echo "$k16"
  "$exe" mem $L $H $NH $F "$T" $B $V cpu fp32
  "$exe" mem $L $H $NH $F "$T" $B $V cpu bf16
  bf16_summary+=("seq $T bf16 (CPU): kaizen tokens/s $(echo "$k16" | sed -n 's/.* tokens\/s \([0-9.]*\),.*/\1/p'), cpu_tokens/s $(echo "$k16" | sed -n 's/.*cpu_tokens\/s \([0-9.]*\),.*/\1/p') (fp32 above)")
done
echo
echo "## summary (one run, same machine)"
for s in "${bf16_summary[@]}"; do echo "$s"; done
for s in "${summary[@]}"; do echo "$s"; done
