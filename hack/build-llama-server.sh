#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` (the benchmark peer of hack/bench-server.sh; a benchmark tool, not part of CI or
# hack/setup.sh) from the llama.cpp source that the PyPI sdist of llama-cpp-python vendors (vendor/llama.cpp, with
# tools/server). Everything lives in ~/.cache/gemma-serving/llama-server, never in the repository; a second run finds
# the binary and returns at once. Prints the binary's path on its last line.
#
# Nothing is downloaded at build time: the embedded web UI (fetched from a hub by default) and OpenSSL/BoringSSL are
# switched off, the server then answers the API without its web page. LLAMA_CURL is not passed: this llama.cpp
# ignores it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
cache="$GEMMA_CACHE/llama-server"
src="$cache/llama_cpp_python-$version/vendor/llama.cpp"
build="$cache/build-$version"
bin="$build/bin/llama-server"
if [[ -x "$bin" && -f "$build/.gemma-no-amx" ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache/sdist"
sdist="$cache/sdist/llama_cpp_python-$version.tar.gz"
if [[ ! -f "$sdist" ]]; then
  "$GEMMA_VENV/bin/pip" download --no-binary :all: --no-deps "llama-cpp-python==$version" -d "$cache/sdist" >&2
fi
if [[ ! -f "$src/tools/server/server.cpp" ]]; then
  tar -xzf "$sdist" -C "$cache"
fi
[[ -f "$src/tools/server/server.cpp" ]] || { echo "no tools/server in $src" >&2; exit 1; }
jobs="${JOBS:-2}"
# The CPU's own instruction set, but no AMX: with -march=native (GGML_NATIVE=ON) ggml compiles its AMX kernels, and
# on these VMs (amx_* in /proc/cpuinfo) their first tilezero dies with SIGILL. So GGML_NATIVE=OFF and each x86
# extension this CPU lists switched on by name.
has() { grep -qw "$1" /proc/cpuinfo; }
isa=()
for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx_vnni:AVX_VNNI avx512f:AVX512 avx512vbmi:AVX512_VBMI \
            avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16; do
  if has "${pair%%:*}"; then isa+=("-DGGML_${pair#*:}=ON"); else isa+=("-DGGML_${pair#*:}=OFF"); fi
done
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF "${isa[@]}" -DGGML_AMX_TILE=OFF \
  -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_APP=OFF >&2
cmake --build "$build" --target llama-server -j "$jobs" >&2
"$bin" --version >&2
touch "$build/.gemma-no-amx"
echo "$bin"
