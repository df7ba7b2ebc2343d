#!/usr/bin/env bash
# TFT training speed on the CPU, kaizen beside PyTorch in one run (issue 17's
# config: hidden 64, 4 heads, k=168, tau=24, batch 64, 2 threads): the same
# network (tools/make_tft_fixture.py) on random windows, forward + quantile
# loss + backward + AdamW. Prints both and the ratio last.
# usage: bench/tft_speed.sh BUILD_DIR [STEPS]
set -eu
build="$1" steps="${2:-10}"
py=${PYTHON:-/work/venv/bin/python}
here=$(cd "$(dirname "$0")/.." && pwd)
cfg="64 64 4 168 24 $steps 2"
k=$("$build/tests/test_tft" bench $cfg)
p=$("$py" "$here/tools/torch_tft_bench.py" $cfg)
echo "$k"
echo "$p"
kw=$(echo "$k" | sed -n 's/.*: \([0-9.]*\) windows\/s.*/\1/p')
pw=$(echo "$p" | sed -n 's/.*: \([0-9.]*\) windows\/s.*/\1/p')
awk -v a="$kw" -v b="$pw" 'BEGIN { printf "kaizen / pytorch training windows/s: %.2fx\n", a / b }'
