#!/usr/bin/env bash
# Benchmark (not a test): starts the packaged server on the real Gemma 3 270M and measures aggregate generation
# tokens/s and time to first token at 1, 4 and 16 concurrent streams. Usage: hack/bench-server.sh [max_tokens]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
cd "$here/../runtime-image/server"
port=18090
java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED --add-opens java.base/java.lang=ALL-UNNAMED \
  -jar target/quarkus-app/quarkus-run.jar --model "$GEMMA_270M_GGUF" --port $port --host 127.0.0.1 \
  --max-context-length 1024 --max-concurrent-sequences 16 --threads 2 > target/bench-server.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do curl -sf "http://127.0.0.1:$port/health/ready" > /dev/null && break; sleep 1; done
"$GEMMA_VENV/bin/python" "$here/bench-server.py" "http://127.0.0.1:$port/v1" "$(basename "$GEMMA_270M_GGUF" .gguf)" "${1:-64}" 1 4 16
