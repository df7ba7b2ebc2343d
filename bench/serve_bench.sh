#!/usr/bin/env bash
# Inference server benchmark (docs/SERVING.md, "Performance"): requests of one
# row to `kaizen serve` on loopback from bench/serve_load.c (keep-alive
# connections, one request in flight each), with and without dynamic
# batching, against a diamonds GBDT and a pima2 MLP; the same GBDT request
# through kz_server_infer in-process (the HTTP overhead ratio); the server's
# resident memory at 10 s and at 60 s of the long run.
# usage: bench/serve_bench.sh [BUILD_DIR] [SECONDS] [LONG_SECONDS]   (default build, 15, 60)
# Save: bench/serve_bench.sh build | tee bench/results/$(date +%F)-$(hostname)-serve.txt
set -euo pipefail
build="${1:-build}" secs="${2:-15}" long_secs="${3:-60}"
kaizen="$build/kaizen" load="$build/tests/serve_load"
data="$(cd "$(dirname "$0")/../.." && pwd)/shared/data"
[ -x "$kaizen" ] && [ -x "$load" ] || { echo "build first: cmake --build $build" >&2; exit 1; }
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT

"$kaizen" data import --kind tabular --input "$data/diamonds.csv" --out "$tmp/diamonds" \
  --label price >/dev/null
"$kaizen" data import --kind tabular --input "$data/pima2.csv" --out "$tmp/pima" \
  --label diabetes --label-type categorical >/dev/null
printf 'model: {type: gbdt, num_round: 100, max_depth: 6}\ndata: {train: %s/diamonds}\ntrain: {seed: 1}\noutput: {runs_dir: %s/runs, experiment: b, run_id: gbdt}\n' \
  "$tmp" "$tmp" >"$tmp/gbdt.yaml"
printf 'model: {type: mlp, hidden: [64, 32]}\ndata: {train: %s/pima}\ntrain: {seed: 1, epochs: 5}\noutput: {runs_dir: %s/runs, experiment: b, run_id: mlp}\n' \
  "$tmp" "$tmp" >"$tmp/mlp.yaml"
"$kaizen" train "$tmp/gbdt.yaml" --quiet >/dev/null
"$kaizen" train "$tmp/mlp.yaml" --quiet >/dev/null
cat >"$tmp/diamonds.json" <<'EOF'
{"columns": {"carat": [0.23], "cut": ["Ideal"], "color": ["E"], "clarity": ["SI2"], "depth": [61.5], "table": [55], "x": [3.95], "y": [3.98], "z": [2.43]}}
EOF
cat >"$tmp/pima.json" <<'EOF'
{"columns": {"pregnant": [6], "glucose": [148], "pressure": [72], "triceps": [35], "insulin": [null], "mass": [33.6], "pedigree": [0.627], "age": [50]}}
EOF

serve_env=(KZ_BENCH=1) # environment of the server: OMP_WAIT_POLICY below
serve() { # extra kaizen serve flags
  rm -f "$tmp/port"
  env "${serve_env[@]}" "$kaizen" serve --model "diamonds=$tmp/runs/b/gbdt/model.json" \
    --model "pima=$tmp/runs/b/mlp/model.kzm" --port 0 --port-file "$tmp/port" --device cpu \
    --max-connections 256 "$@" 2>"$tmp/serve.err" &
  pid=$!
  for _ in $(seq 100); do [ -s "$tmp/port" ] && return; sleep 0.1; done
  cat "$tmp/serve.err" >&2
  exit 1
}
stop() { kill -TERM "$pid"; wait "$pid"; pid=""; }
row() { # label, then serve_load output
  printf '%-44s %s\n' "$1" "$2"
}

echo "host $(hostname), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); kaizen $("$kaizen" --version)"
echo "requests of 1 row; serve_load: keep-alive connections, one request in flight each"
echo
for mode in dynamic off; do
  flags=(--max-queue-delay-us 0)
  [ "$mode" = off ] && flags=(--no-dynamic-batching)
  serve "${flags[@]}"
  port=$(cat "$tmp/port")
  for c in 1 16; do
    row "gbdt http, batching $mode, $c conn" "$("$load" http "$port" diamonds "$tmp/diamonds.json" "$c" "$secs")"
  done
  row "mlp  http, batching $mode, 16 conn" "$("$load" http "$port" pima "$tmp/pima.json" 16 "$secs")"
  stop
done
for mode in 1 0; do
  row "mlp  in-process, dynamic=$mode, 1 thread" \
    "$("$load" inproc "$tmp/runs/b/mlp/model.kzm" pima "$tmp/pima.json" 1 "$secs" "$mode")"
  row "gbdt in-process, dynamic=$mode, 1 thread" \
    "$("$load" inproc "$tmp/runs/b/gbdt/model.json" diamonds "$tmp/diamonds.json" 1 "$secs" "$mode")"
done
# OpenMP threads that spin while they wait steal the CPU from each other on a
# busy host: the MLP's 4096-row blocks are where that shows
serve_env=(OMP_WAIT_POLICY=passive)
serve --max-queue-delay-us 0
row "mlp  http, batching dynamic, 16 conn, passive" "$("$load" http "$(cat "$tmp/port")" pima "$tmp/pima.json" 16 "$secs")"
stop
serve --no-dynamic-batching
row "mlp  http, batching off, 16 conn, passive" "$("$load" http "$(cat "$tmp/port")" pima "$tmp/pima.json" 16 "$secs")"
stop
row "mlp  in-process, dynamic=1, 1 thread, passive" \
  "$(OMP_WAIT_POLICY=passive "$load" inproc "$tmp/runs/b/mlp/model.kzm" pima "$tmp/pima.json" 1 "$secs" 1)"
serve_env=(KZ_BENCH=1)
echo
echo "$long_secs s at 16 connections, dynamic batching (memory: rss10_kb vs rss_end_kb)"
serve --max-queue-delay-us 0
long=$("$load" http "$(cat "$tmp/port")" diamonds "$tmp/diamonds.json" 16 "$long_secs" "$pid")
stop
row "gbdt http $long_secs s, 16 conn" "$long"
awk -v l="$long" 'BEGIN {
  n = split(l, f, " "); for (i = 1; i < n; i += 2) v[f[i]] = f[i + 1]
  printf "memory growth 10 s -> end: %+.1f%%; errors %d\n", 100 * (v["rss_end_kb"] - v["rss10_kb"]) / v["rss10_kb"], v["errors"] }'
