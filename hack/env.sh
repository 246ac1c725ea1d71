# Sourced by every hack/ script and by .ci/run: where the JDK and the caches live.
# Everything downloaded or built lives under $GEMMA_CACHE, outside the repository.
export GEMMA_CACHE="${GEMMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gemma-serving}"
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -qE 'version "2[5-9]'; then
  for j in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-2[5-9]* /usr/lib/jvm/*-2[5-9]*; do
    if [ -x "$j/bin/java" ]; then export JAVA_HOME="$j"; break; fi
  done
fi
export PATH="$JAVA_HOME/bin:$PATH"
export GEMMA_VENV="$GEMMA_CACHE/venv"
# The real Gemma 3 270M (GGUF Q4_K_M), assembled from the PyPI package by setup. It is the pretrained base model
# (general.name "Gemma 3 270m", base_model google/gemma-3-270m, no chat template), not the instruction-tuned one.
export GEMMA_270M_GGUF="${GEMMA_270M_GGUF:-$GEMMA_CACHE/models/gemma-3-270m-q4_k_m.gguf}"
# llama.cpp's shared libraries from the npm package node-llama-cpp (reference implementation and benchmark peer).
export LLAMA_CPP_LIB_DIR="${LLAMA_CPP_LIB_DIR:-$GEMMA_CACHE/npm/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64}"
# Kubernetes control-plane binaries built from the Go modules (kube-api-test layout: <dir>/k8s/<version>-linux-amd64/).
export KUBE_API_TEST_DIR="${KUBE_API_TEST_DIR:-$GEMMA_CACHE/kubeapitest}"
export GEMMA_BIN="$GEMMA_CACHE/bin"
export PATH="$GEMMA_BIN:$PATH"
# CUDA libraries outside the system paths (colon-separated folders searched for libnvrtc.so.*, libcublas.so.*):
# by default NVRTC from the PyPI wheel that hack/setup.d/40-cuda-nvrtc.sh installs, so kernels compile without a GPU.
export GEMMA_CUDA_LIB_PATH="${GEMMA_CUDA_LIB_PATH:-$GEMMA_CACHE/cuda-nvrtc/nvidia/cu13/lib}"
# A real node (hack/node.sh): the pod sandbox image hack/build-control-plane.sh makes and the node imports (never
# pulled), and the node's state (removed on down).
export PAUSE_IMAGE="${PAUSE_IMAGE:-localhost/gemma-serving/pause:3.10.1}"
export GEMMA_NODE_STATE="${GEMMA_NODE_STATE:-/var/lib/gemma-node}"
