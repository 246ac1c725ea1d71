#!/usr/bin/env bash
# Benchmark (not a test): our server vs llama.cpp's llama-server on the real Gemma 3 270M GGUF, in one run. For each
# level (1, 4 and 16 concurrent streams) each server is started with that many parallel slots (ours:
# --max-concurrent-sequences N, llama-server: -np N), the same context per slot, 2 threads, then sent the same N
# greedy streamed /v1/completions requests; aggregate generation tokens/s and time to first token are printed with
# the ratios ours / llama.cpp. One server runs at a time.
#
# llama-server runs twice per level, with OpenMP's threads spinning while they wait (OMP_WAIT_POLICY=active, ggml's
# default and its best on an idle machine) and sleeping (passive, its best when the cores are shared); the table
# compares against the better of the two.
#
# Usage: hack/bench-server.sh [max_tokens, default 64] [rounds, default 2]
#   llama-server comes from hack/build-llama-server.sh (built once from source into the cache; LLAMA_SERVER=path
#   overrides it, LLAMA_SERVER=none measures ours alone). LLAMA_ARGS: more llama-server options. OMP_POLICIES:
#   the wait policies to run (default "active passive"). Results: runtime-image/server/target/bench-server.jsonl
#   (BENCH_APPEND=1 adds to the last run's); the table keeps each server's best round per level.
#
# MODE=turns: time to first token of the first and the second turn of conversations with a ~1,500-token history
#   (one stream; ours with prefix caching, as by default, and with --no-prefix-caching; llama-server with its prompt
#   cache, cache_prompt). MODE=grounded: decode tokens/s of one stream copying a passage it was given (ours with and
#   without --speculative-ngram 8; llama-server with and without its n-gram lookup, --spec-type ngram-simple).
#   Their lines go to target/bench-server-MODE.jsonl.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
cd "$here/../runtime-image/server"
if [[ ! -f target/quarkus-app/quarkus-run.jar ]]; then # a fresh checkout: build the server first
  (cd ../.. && ./mvnw -B -ntp -q -DskipTests package -pl runtime-image/server -am)
fi
max_tokens="${1:-64}"
rounds="${2:-2}"
mode="${MODE:-throughput}"
levels="${LEVELS:-1 4 16}"
ctx=1024
port=18090
model="$(basename "$GEMMA_270M_GGUF" .gguf)"
if [[ "${LLAMA_SERVER:-}" == none ]]; then
  llama_server=
else
  llama_server="${LLAMA_SERVER:-$("$here/build-llama-server.sh" | tail -1)}"
fi
policies="${OMP_POLICIES:-active passive}"
results=target/bench-server.jsonl
[[ "$mode" == throughput ]] || results="target/bench-server-$mode.jsonl"
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
start_ours() { # streams, options...
  local n="$1"; shift
  java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
    -jar target/quarkus-app/quarkus-run.jar --model "$GEMMA_270M_GGUF" --port $port --host 127.0.0.1 \
    --max-context-length $ctx --max-concurrent-sequences "$n" --threads 2 "$@" > target/bench-server.log 2>&1 &
  pid=$!
  wait_ready "http://127.0.0.1:$port/health/ready"
}
start_llama() { # streams, wait policy, options...
  local n="$1" omp="$2"; shift 2
  # shellcheck disable=SC2086
  OMP_WAIT_POLICY="$omp" "$llama_server" -m "$GEMMA_270M_GGUF" -t 2 -tb 2 -np "$n" -c $((ctx * n)) --host 127.0.0.1 \
    --port $port "$@" ${LLAMA_ARGS:-} > target/bench-llama-server.log 2>&1 &
  pid=$!
  wait_ready "http://127.0.0.1:$port/health"
}
record() { # name, options, JSON line from bench-server.py
  echo "{\"server\": \"$1\", \"options\": \"$2\", \"load\": \"$(cut -d' ' -f1 /proc/loadavg)\", ${3#\{}" | tee -a "$results"
}
py() { "$GEMMA_VENV/bin/python" "$here/bench-server.py" "$@"; }
url="http://127.0.0.1:$port/v1"
lookup=(--spec-type ngram-simple --spec-ngram-simple-size-n 3 --spec-ngram-simple-size-m 8)
case "$mode" in
  throughput)
    for round in $(seq 1 "$rounds"); do
      for n in $levels; do
        start_ours "$n"
        record ours "" "$(py measure "$url" "$model" "$max_tokens" "$n")"
        stop
        [[ -n "$llama_server" ]] || continue
        for omp in $policies; do
          start_llama "$n" "$omp"
          record llama.cpp "OMP_WAIT_POLICY=$omp ${LLAMA_ARGS:-}" "$(py measure "$url" "$model" "$max_tokens" "$n")"
          stop
        done
      done
    done
    py table "$results"
    ;;
  turns)
    ctx=2048
    for round in $(seq 1 "$rounds"); do
      for opts in "" "--no-prefix-caching"; do
        # shellcheck disable=SC2086
        start_ours 1 $opts
        record ours "$opts" "$(py turns "$url" "$model" 3)"
        stop
      done
      [[ -n "$llama_server" ]] || continue
      for omp in $policies; do
        start_llama 1 "$omp"
        record llama.cpp "OMP_WAIT_POLICY=$omp cache_prompt" "$(py turns "$url" "$model" 3)"
        stop
      done
    done
    ;;
  grounded)
    for round in $(seq 1 "$rounds"); do
      for opts in "" "--speculative-ngram 8"; do
        # shellcheck disable=SC2086
        start_ours 1 $opts
        record ours "$opts" "$(py grounded "$url" "$model" "$max_tokens" 2)"
        stop
      done
      [[ -n "$llama_server" ]] || continue
      for omp in $policies; do
        for spec in 0 1; do
          if [[ $spec == 1 ]]; then start_llama 1 "$omp" "${lookup[@]}"; else start_llama 1 "$omp"; fi
          record llama.cpp "OMP_WAIT_POLICY=$omp$([[ $spec == 1 ]] && echo " ${lookup[*]}")" \
            "$(py grounded "$url" "$model" "$max_tokens" 2)"
          stop
        done
      done
    done
    ;;
  *) echo "MODE must be throughput, turns or grounded" >&2; exit 2 ;;
esac
