#!/usr/bin/env bash
# NVRTC (NVIDIA's runtime CUDA C++ compiler) from the PyPI wheel nvidia-cuda-nvrtc (~58 MB download, ~150 MB
# unpacked), so the tests can compile every CUDA kernel to PTX on a machine without a GPU: NVRTC needs no driver.
# Installed with --target into its own cached folder (no venv of its own, nothing in the repository); hack/env.sh
# points GEMMA_CUDA_LIB_PATH at its lib/ folder. cuBLAS is not installed: it is ~600 MB and useless without a GPU.
set -euo pipefail
source "$(dirname "$0")/../env.sh"
want="nvidia-cuda-nvrtc==13.5.37"
dir="$GEMMA_CACHE/cuda-nvrtc"
stamp="$dir/.installed"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  pip=("$GEMMA_VENV/bin/pip")
  [ -x "${pip[0]}" ] || pip=(python3 -m pip)
  "${pip[@]}" install -q --disable-pip-version-check --no-deps --target "$dir" "$want"
  echo "$want" > "$stamp"
fi
ls "$dir"/nvidia/cu*/lib/libnvrtc.so.* >/dev/null
echo "    NVRTC: $(ls "$dir"/nvidia/cu*/lib/libnvrtc.so.* | head -1)"
