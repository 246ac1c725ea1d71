#!/usr/bin/env bash
# Benchmark (not a test): our server vs llama.cpp's llama-server on the real Gemma 3 270M GGUF, in one run. For each
# level (1, 4 and 16 concurrent streams) each server is started with that many parallel slots (ours:
# --max-concurrent-sequences N, llama-server: -np N), the same context per slot, 2 threads, then sent the same N
# greedy streamed /v1/completions requests; aggregate generation tokens/s and time to first token are printed with
# the ratios ours / llama.cpp. One server runs at a time.
#
# Usage: hack/bench-server.sh [max_tokens, default 64] [rounds, default 2]
#   llama-server comes from hack/build-llama-server.sh (built once from source into the cache; LLAMA_SERVER=path
#   overrides it). LLAMA_ARGS: more llama-server options (e.g. "--poll 0": its threads sleep instead of spinning,
#   which it needs when the cores are shared). Results: runtime-image/server/target/bench-server.jsonl (BENCH_APPEND=1
#   adds to the last run's); the table keeps each server's best round per level.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
cd "$here/../runtime-image/server"
max_tokens="${1:-64}"
rounds="${2:-2}"
levels="${LEVELS:-1 4 16}"
ctx=1024
port=18090
model="$(basename "$GEMMA_270M_GGUF" .gguf)"
llama_server="${LLAMA_SERVER:-$("$here/build-llama-server.sh" | tail -1)}"
# ggml is built with OpenMP, whose threads spin while they wait: on shared cores (other builds running) that made
# llama-server decode at ~1 tok/s instead of ~20; passive waiting is its best setting there. OMP_WAIT_POLICY=active
# restores the default (best on an idle machine).
omp="${OMP_WAIT_POLICY:-passive}"
results=target/bench-server.jsonl
[[ "${BENCH_APPEND:-0}" == 1 ]] || : > "$results"
pid=
stop() { if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
trap stop EXIT
wait_ready() { # url
  for _ in $(seq 1 240); do
    curl -sf "$1" > /dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { echo "server exited; see its log" >&2; return 1; }
    sleep 0.5
  done
  echo "server not ready" >&2; return 1
}
measure() { # name, streams, options
  local line
  line="$("$GEMMA_VENV/bin/python" "$here/bench-server.py" measure "http://127.0.0.1:$port/v1" "$model" "$max_tokens" "$2")"
  echo "{\"server\": \"$1\", \"options\": \"$3\", \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", ${line#\{}" | tee -a "$results"
}
for round in $(seq 1 "$rounds"); do
  for n in $levels; do
    java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
      -jar target/quarkus-app/quarkus-run.jar --model "$GEMMA_270M_GGUF" --port $port --host 127.0.0.1 \
      --max-context-length $ctx --max-concurrent-sequences "$n" --threads 2 > target/bench-server.log 2>&1 &
    pid=$!
    wait_ready "http://127.0.0.1:$port/health/ready"
    measure ours "$n" ""
    stop
    # shellcheck disable=SC2086
    OMP_WAIT_POLICY="$omp" "$llama_server" -m "$GEMMA_270M_GGUF" -t 2 -tb 2 -np "$n" -c $((ctx * n)) --host 127.0.0.1 \
      --port $port ${LLAMA_ARGS:-} > target/bench-llama-server.log 2>&1 &
    pid=$!
    wait_ready "http://127.0.0.1:$port/health"
    measure llama.cpp "$n" "OMP_WAIT_POLICY=$omp ${LLAMA_ARGS:-}"
    stop
  done
done
"$GEMMA_VENV/bin/python" "$here/bench-server.py" table "$results"
