#!/usr/bin/env bash
# A real Kubernetes control plane for the apiserver and cluster tests: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok/kwokctl and operator-sdk, built from their Go modules (no Docker, no downloads of
# prebuilt binaries). Cached under $GEMMA_CACHE: the first run takes a while on 2 cores, later runs only check versions.
# A failed build does not fail setup: the tests that need these binaries skip with a stated reason.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/env.sh"
# Go may be installed outside the PATH of a non-login shell (CI).
export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
  echo "    no Go toolchain: control-plane binaries not built (apiserver and cluster tests will skip)"
  exit 0
fi
"$here/build-control-plane.sh" all || echo "    WARNING: control-plane build failed (apiserver and cluster tests will skip)"
