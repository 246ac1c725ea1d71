#!/usr/bin/env bash
# llama.cpp's prebuilt shared libraries (npm node-llama-cpp's linux-x64 package), called from Java through FFM
# as the reference implementation and the benchmark peer. No install scripts run: we only need the .so files.
set -euo pipefail
source "$(dirname "$0")/../env.sh"
dir="$GEMMA_CACHE/npm"
if [ ! -d "$LLAMA_CPP_LIB_DIR" ]; then
  mkdir -p "$dir"
  (cd "$dir" && [ -f package.json ] || echo '{"name":"gemma-serving-refs","private":true}' > "$dir/package.json")
  (cd "$dir" && npm install --silent --ignore-scripts --no-audit --no-fund @node-llama-cpp/linux-x64@3.22.1)
fi
ls "$LLAMA_CPP_LIB_DIR" | head -20
