#!/usr/bin/env bash
# The CUDA engine on a real GPU, in one run of under 8 minutes on one H100/H200, no network, one summary:
#   - logits of the CUDA engine against the CPU engine on the tiny fixtures (and on the Gemma 3 270M when its file
#     is there: GEMMA_270M_GGUF or --model-270m FILE), both with f32 KV caches, and on two fixtures with the default
#     f16 KV cache on both;
#   - decode tokens/s of a gemma-2-9b-shaped BF16 model with random weights made on the device, against the HBM
#     ceiling (bytes per token / bandwidth);
#   - TP=2 against TP=1 logits (two ranks on two streams when there is one GPU).
#
#   hack/gpu-check.sh --prepare   on a machine with the JDK and NVRTC (hack/setup.sh): builds the engine jar, a
#                                 jlink'd Java runtime and the kernels' PTX into target/gpu-check/ (about 45 MB),
#                                 what a GPU machine with only the NVIDIA driver needs
#   hack/gpu-check.sh             on the GPU machine, from the repository root with target/gpu-check/ beside it
#
# Exit status: 0 all comparisons pass, 1 one fails, 2 no usable GPU ("no GPU: ...") or nothing prepared,
# 124 the 8-minute limit was hit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kit="${GPU_CHECK_KIT:-$root/target/gpu-check}"
fixtures="$root/runtime-image/engine/src/test/resources/fixtures"
main=io.gemmaserving.runtime.engine.cuda.check.GpuCheck
jvm_flags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx16g)

if [ "${1:-}" = "--prepare" ]; then
  source "$root/hack/env.sh"
  cd "$root"
  ./mvnw -B -ntp -o -q -pl runtime-image/engine -am package -DskipTests \
    || ./mvnw -B -ntp -q -pl runtime-image/engine -am package -DskipTests
  rm -rf "$kit"
  mkdir -p "$kit"
  # java.base + what the engine uses: logging, the Vector API, sun.misc for the mapped files' helpers
  jlink --add-modules java.base,java.logging,jdk.incubator.vector,jdk.unsupported --strip-debug --no-man-pages \
    --no-header-files --compress=zip-9 --output "$kit/java" 2>&1 | grep -v 'incubator modules' || true
  strip --strip-unneeded "$kit/java/lib/server/libjvm.so"
  cp runtime-image/engine/target/gemma-engine-*-cli.jar "$kit/gemma-engine-cli.jar"
  "$kit/java/bin/java" "${jvm_flags[@]}" -cp "$kit/gemma-engine-cli.jar" "$main" --write-ptx "$kit/ptx" 2>&1 \
    | grep -v 'incubator modules'
  echo "gpu-check: prepared $kit ($(du -sh "$kit" | cut -f1)); on the GPU machine carry target/gpu-check and run hack/gpu-check.sh"
  exit 0
fi

if [ ! -x "$kit/java/bin/java" ] || [ ! -f "$kit/gemma-engine-cli.jar" ] || [ ! -d "$kit/ptx" ]; then
  echo "gpu-check: $kit is not prepared (run hack/gpu-check.sh --prepare on a machine with the JDK and NVRTC)"
  exit 2
fi
model="${GEMMA_270M_GGUF:-${XDG_CACHE_HOME:-$HOME/.cache}/gemma-serving/models/gemma-3-270m-q4_k_m.gguf}"
args=(--fixtures "$fixtures" --ptx "$kit/ptx" --model-270m "$model")
if [ "${1:-}" = "--model-270m" ] && [ -n "${2:-}" ]; then
  args=(--fixtures "$fixtures" --ptx "$kit/ptx" --model-270m "$2")
fi
set +e
timeout --kill-after=10 470 "$kit/java/bin/java" "${jvm_flags[@]}" -cp "$kit/gemma-engine-cli.jar" "$main" "${args[@]}"
rc=$?
set -e
if [ "$rc" = 124 ]; then
  echo "gpu-check: stopped after 470 s (the check must finish within 8 minutes)"
fi
exit "$rc"
