#!/usr/bin/env bash
# The first run of kaizen's CUDA code on a real GPU: everything the machines
# without one could not check, in one go, with every log kept.
#
#   bench/gpu_first_run.sh [--build DIR] [--only STAGES] [--timeout SECONDS] [--quick]
#
#   --build DIR      build directory (default build/); configured with
#                    -DKZ_CUDA=ON and built first when it has no kaizen binary
#   --only STAGES    comma-separated subset of the stages below (default: all)
#   --timeout S      limit per step (default 1800); a step past it is TIMEOUT
#   --quick          for a short lease (minutes, not hours): the sanitizers over
#                    the GBDT kernel test and the softmax NaN check only, GBDT
#                    on 50,000 rows for 30 rounds, 3 benchmark samples, steps
#                    limited to 300 s (unless --timeout says otherwise)
#
# Stages, in order:
#   ctest     the CUDA ctests (label cuda, and every op/cuda/*, cuda/*, mlp/cuda*
#             test); a CUDA test that skips on a GPU machine counts as a failure
#   sanitize  compute-sanitizer memcheck, racecheck and synccheck over the CUDA
#             test drivers (test_gbdt_cuda, test_gbdt_gpu gpu, test_ops on cuda,
#             the softmax NaN check) and `kaizen kernels test --device cuda`
#   knobs     the op harness (`kaizen kernels test --device cuda`) under two
#             unusual kernel configs: every block 96, vector width 1, tiled
#             matmul with 16-wide tiles; every block 992, vector width 2, tiles
#             of 32; both with gbdt_hist features_per_group 13, rows_per_block 32
#   gbdt      GBDT on the GPU through `kaizen train`: a binary job with missing
#             values and a 3-class job, each trained twice on cuda:0 (the two
#             model.json files must be identical byte for byte: integer
#             histograms make the booster deterministic), once more under each
#             unusual config (also identical: launch shapes must not change the
#             sums), and once on the CPU for the record (metrics side by side)
#   bench     the kernel benchmarks (bench/kernels.sh --device cuda), then
#             transformer MLM training steps in fp32 and train.precision bf16
#             (bench_transformer on cuda:0, two model sizes): tokens/s and
#             activation arena, one INFO line each in the summary
#
# Everything goes to bench/results/<date>-<gpu>-first-run/ (the GPU named as
# nvidia-smi names it, e.g. 2026-12-07-h100-80gb-hbm3-first-run/): one log
# per step, the kernel configs used, the device and build description, and
# summary.txt with one PASS / FAIL / TIMEOUT / SKIP line per step. The exit
# status is 0 only when every step passed. Without a GPU it says so and exits
# 2 before writing anything.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build"
only="ctest,sanitize,knobs,gbdt,bench"
limit=""
quick=0

usage() {
  sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit "${1:-2}"
}
while [ $# -gt 0 ]; do
  case "$1" in
  --build) [ $# -ge 2 ] || usage; build="$(cd "$2" 2>/dev/null && pwd || echo "$2")"; shift 2 ;;
  --only) [ $# -ge 2 ] || usage; only="$2"; shift 2 ;;
  --timeout) [ $# -ge 2 ] || usage; limit="$2"; shift 2 ;;
  --quick) quick=1; shift ;;
  -h | --help) usage 0 ;;
  *) echo "gpu_first_run: unknown option '$1'" >&2; usage ;;
  esac
done
[ -n "$limit" ] || { [ "$quick" -eq 1 ] && limit=300 || limit=1800; }
case "$limit" in '' | *[!0-9]*) echo "gpu_first_run: --timeout needs seconds, got '$limit'" >&2; exit 2 ;; esac
for s in ${only//,/ }; do
  case "$s" in ctest | sanitize | knobs | gbdt | bench) ;; *)
    echo "gpu_first_run: unknown stage '$s' (ctest, sanitize, knobs, gbdt, bench)" >&2; exit 2 ;;
  esac
done
wants() { case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# ---- a GPU, or stop here -------------------------------------------------------
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu_first_run: no GPU here (nvidia-smi not found); run this on a machine with an NVIDIA GPU" >&2
  exit 2
fi
gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader -i 0 2>/dev/null | head -n 1)"
if [ -z "$gpu_name" ]; then
  echo "gpu_first_run: no GPU here (nvidia-smi lists none: $(nvidia-smi -L 2>&1 | head -n 1))" >&2
  exit 2
fi
slug="$(printf '%s' "$gpu_name" | tr '[:upper:]' '[:lower:]' | sed 's/^nvidia //; s/[^a-z0-9]\{1,\}/-/g; s/^-//; s/-$//')"
sanitizer="$(command -v compute-sanitizer || true)"
[ -z "$sanitizer" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ] &&
  sanitizer=/usr/local/cuda/bin/compute-sanitizer

# ---- the build -------------------------------------------------------------------
if [ ! -x "$build/kaizen" ]; then
  echo "gpu_first_run: building $build (CUDA on)" >&2
  if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKZ_CUDA=ON >&2 ||
    ! cmake --build "$build" -j"$(nproc)" >&2; then
    echo "gpu_first_run: the build failed" >&2
    exit 1
  fi
fi
kaizen="$build/kaizen"
if ! "$kaizen" info 2>/dev/null | grep -q 'cuda:0'; then
  echo "gpu_first_run: $kaizen sees no CUDA device (built without CUDA, or no driver?):" >&2
  "$kaizen" info >&2
  exit 2
fi

out="$root/bench/results/$(date -u +%F)-$slug-first-run"
mkdir -p "$out" || exit 1
summary="$out/summary.txt"
: >"$summary"
{
  echo "# kaizen first GPU run, $(date -u +%FT%TZ), $(uname -n)"
  echo "# git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (modified)')"
  echo "# build $build"
  nvidia-smi
  "$kaizen" info
  [ -n "$sanitizer" ] && "$sanitizer" --version
} >"$out/device.txt" 2>&1
echo "gpu_first_run: $gpu_name; results in $out" >&2

failed=0
# step NAME CMD...: runs CMD under the time limit into NAME.log, one summary line.
step() {
  local name="$1" t0 rc verdict
  shift
  t0=$(date +%s)
  { echo "\$ $*"; timeout "$limit" "$@"; } >"$out/$name.log" 2>&1
  rc=$?
  case $rc in
  0) verdict=PASS ;;
  124) verdict=TIMEOUT ;;
  *) verdict=FAIL ;;
  esac
  [ "$verdict" = PASS ] || failed=$((failed + 1))
  printf '%-8s %-48s %6ss  (exit %d)\n' "$verdict" "$name" "$(($(date +%s) - t0))" "$rc" |
    tee -a "$summary" >&2
}
skip() { printf '%-8s %-48s  %s\n' SKIP "$1" "$2" | tee -a "$summary" >&2; }

# ---- kernel configs ----------------------------------------------------------------
# knob_config FILE BLOCK VEC TILE: the same values for both CUDA targets, so
# the file applies whichever one this GPU uses.
knob_config() {
  local file="$1" block="$2" vec="$3" tile="$4" t
  for t in sm_80 sm_90; do
    cat <<YAML
$t:
  matmul: {impl: tiled, tile: $tile}
  elementwise: {block: $block, vec: $vec}
  layernorm: {block: $block, bwd_rows: 7}
  softmax: {block: $block}
  cross_entropy: {block: $block}
  embedding: {block: $block}
  bias_add: {bwd_rows: 33}
  adamw: {block: $block}
  gbdt: {block: $block}
  gbdt_hist: {block: $block, rows_per_block: 32, features_per_group: 13}
YAML
  done >"$file"
}
knob_config "$out/knobs-96.yaml" 96 1 16
knob_config "$out/knobs-992.yaml" 992 2 32

# ---- ctest -----------------------------------------------------------------------------
# no_skips NAME: on a GPU machine a CUDA test that skips did not run: a failure.
no_skips() {
  if grep -q '\*\*\*Skipped' "$out/$1.log"; then
    printf '%-8s %-48s  %s\n' FAIL "$1-no-skips" "$(grep -c '\*\*\*Skipped' "$out/$1.log") test(s) skipped" |
      tee -a "$summary" >&2
    failed=$((failed + 1))
  fi
}
if wants ctest; then
  step ctest-label-cuda ctest --test-dir "$build" --output-on-failure -L cuda
  no_skips ctest-label-cuda
  step ctest-cuda-named ctest --test-dir "$build" --output-on-failure -R '^op/cuda/|^cuda/|^mlp/cuda'
  no_skips ctest-cuda-named
fi

# ---- compute-sanitizer -----------------------------------------------------------------
if wants sanitize; then
  if [ -z "$sanitizer" ]; then
    skip sanitize "compute-sanitizer not found (PATH, /usr/local/cuda/bin)"
  else
    for tool in memcheck racecheck synccheck; do
      san=("$sanitizer" --tool "$tool" --error-exitcode 99)
      step "sanitize-$tool-gbdt-kernels" "${san[@]}" "$build/tests/test_gbdt_cuda"
      step "sanitize-$tool-softmax-nan" "${san[@]}" "$build/tests/test_ops" --check-nan --device cuda
      [ "$quick" -eq 1 ] && continue
      step "sanitize-$tool-gbdt-booster" "${san[@]}" "$build/tests/test_gbdt_gpu" gpu
      step "sanitize-$tool-ops" "${san[@]}" "$build/tests/test_ops" --device cuda
      step "sanitize-$tool-kernels-test" "${san[@]}" "$kaizen" kernels test --device cuda
    done
  fi
fi

# ---- unusual knobs -----------------------------------------------------------------------
if wants knobs; then
  step knobs-default-kernels-test "$kaizen" kernels test --device cuda
  for k in 96 992; do
    step "knobs-$k-kernels-test" "$kaizen" kernels test --device cuda --kernel-config "$out/knobs-$k.yaml"
  done
fi

# ---- GBDT on the GPU: deterministic, whatever the launch shapes ----------------------------
model() { echo "$work/runs/first-run/$1/model.json"; }
if wants gbdt; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  # 200,000 rows (KZ_FIRST_RUN_ROWS): 10 numeric features (5% missing in the
  # first two), a noisy binary label and a 3-class one.
  rows=200000 rounds=100
  [ "$quick" -eq 1 ] && rows=50000 rounds=30
  awk -v rows="${KZ_FIRST_RUN_ROWS:-$rows}" 'BEGIN { srand(11); print "a,b,c,d,e,f,g,h,i,j,y,z";
    for (r = 0; r < rows; r++) {
      for (k = 0; k < 10; k++) x[k] = rand();
      s = 3 * x[0] + x[1] * x[1] - x[2] + 0.5 * x[3] * x[4] + 0.3 * rand();
      y = (s > 1.5) ? "yes" : "no";
      z = s > 2.0 ? "hi" : (s > 1.0 ? "mid" : "lo");
      if (rand() < 0.05) x[0] = "";
      if (rand() < 0.05) x[1] = "";
      printf "%s,%s", x[0], x[1];
      for (k = 2; k < 10; k++) printf ",%.5f", x[k];
      printf ",%s,%s\n", y, z } }' >"$work/synth.csv"
  step gbdt-import-binary "$kaizen" data import --kind tabular --input "$work/synth.csv" \
    --out "$work/binary" --label y --ignore z --valid-fraction 0.2 --seed 1
  step gbdt-import-multi "$kaizen" data import --kind tabular --input "$work/synth.csv" \
    --out "$work/multi" --label z --ignore y --valid-fraction 0.2 --seed 1
  for job in binary multi; do
    cat >"$work/$job.yaml" <<YAML
model:
  type: gbdt
  num_round: $rounds
  eta: 0.3
  max_depth: 8
  max_bin: 255
data:
  train: $work/$job
train:
  seed: 3
output:
  runs_dir: $work/runs
  experiment: first-run
YAML
    for run in gpu-a gpu-b; do
      step "gbdt-$job-$run" "$kaizen" train "$work/$job.yaml" --device cuda --set output.run_id="$job-$run"
    done
    for k in 96 992; do
      step "gbdt-$job-gpu-knobs-$k" "$kaizen" train "$work/$job.yaml" --device cuda \
        --kernel-config "$out/knobs-$k.yaml" --set output.run_id="$job-gpu-knobs-$k"
    done
    step "gbdt-$job-cpu" "$kaizen" train "$work/$job.yaml" --device cpu --set output.run_id="$job-cpu"
    for other in gpu-b gpu-knobs-96 gpu-knobs-992; do
      step "gbdt-$job-same-bits-gpu-a-vs-$other" cmp "$(model "$job-gpu-a")" "$(model "$job-$other")"
    done
    for run in gpu-a cpu; do
      [ -f "$work/runs/first-run/$job-$run/summary.json" ] &&
        cp "$work/runs/first-run/$job-$run/summary.json" "$out/gbdt-$job-$run.summary.json"
    done
  done
fi

# ---- kernel benchmarks ----------------------------------------------------------------------
if wants bench; then
  repeat=10
  [ "$quick" -eq 1 ] && repeat=3
  step bench-kernels "$root/bench/kernels.sh" "$build" --device cuda --repeat "$repeat"
  cp "$out/bench-kernels.log" "$root/bench/results/$(date -u +%F)-$slug.txt"
  # transformer MLM training steps on cuda:0, fp32 and train.precision bf16
  # (bench/bench_transformer.c): bench/transformer_cpu.sh's model (4 layers,
  # hidden 256, seq 128, batch 16) and a BERT-base-sized one (12 layers,
  # hidden 768, 12 heads, ffn 3072, seq 128, batch 32), then one line each
  # of training tokens/s and the bf16/fp32 ratio in the summary
  bt="$build/tests/bench_transformer"
  tsteps=10
  [ "$quick" -eq 1 ] && tsteps=3
  for shape in "small 4 256 4 1024 128 16" "base 12 768 12 3072 128 32"; do
    # shellcheck disable=SC2086 # the shape's numbers are meant to split
    set -- $shape
    name="$1"
    shift
    for p in fp32 bf16; do
      step "bench-transformer-$name-$p" "$bt" time "$@" 30522 "$tsteps" cuda "$p"
      step "bench-transformer-mem-$name-$p" "$bt" mem "$@" 30522 cuda "$p"
    done
    tok() { sed -n 's/.* tokens\/s \([0-9.]*\),.*/\1/p' "$out/bench-transformer-$name-$1.log" | tail -n 1; }
    arena() { sed -n 's/.*activation arena *\([0-9.]*\) MiB.*/\1/p' "$out/bench-transformer-mem-$name-$1.log" | tail -n 1; }
    t32=$(tok fp32) t16=$(tok bf16)
    printf '%-8s %-48s  fp32 %s, bf16 %s tokens/s (bf16/fp32 %s); arena fp32 %s, bf16 %s MiB\n' INFO \
      "transformer-$name-tokens-per-s" "${t32:-?}" "${t16:-?}" \
      "$(awk -v a="${t16:-0}" -v b="${t32:-0}" 'BEGIN{if (b > 0) printf "%.2fx", a/b; else print "?"}')" \
      "$(arena fp32)" "$(arena bf16)" | tee -a "$summary" >&2
  done
fi

echo "gpu_first_run: $failed step(s) not passed; summary: $summary" >&2
[ "$failed" -eq 0 ]
