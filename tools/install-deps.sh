#!/usr/bin/env bash
# Installs the Debian packages kaizen builds and tests against. Idempotent: packages
# already present are skipped, so a second run costs a dpkg query and nothing else.
set -euo pipefail

# The engine's build and runtime dependencies (see docs/BUILD.md).
engine_pkgs=(build-essential cmake pkg-config git
  libopenblas-dev libhdf5-dev hdf5-tools libopenmpi-dev openmpi-bin
  libmicrohttpd-dev libjansson-dev libyaml-dev)
# Only tests and reference scripts use these; the engine never needs Python.
test_pkgs=(python3 python3-numpy)

want=("${engine_pkgs[@]}")
if [ "${1:-}" = "--with-test" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
