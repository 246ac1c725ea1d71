#!/usr/bin/env bash
# g++ (Debian's) for the CUDA kernel tests that compile the kernel sources for the host with a CUDA-emulation
# header (engine src/test/resources/cuda-emu). Without root or apt those tests skip with a stated reason.
set -euo pipefail
if command -v g++ >/dev/null; then g++ --version | head -1; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends g++ libc6-dev >/dev/null; } \
    || echo "    WARNING: apt-get could not install g++ (the emulated CUDA kernel tests will skip)"
else
  echo "    not root or no apt-get: g++ not installed (the emulated CUDA kernel tests will skip)"
fi
command -v g++ >/dev/null && g++ --version | head -1 || true
