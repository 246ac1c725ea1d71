#!/usr/bin/env bash
# The local OCI registry and crane, built from their Go modules (hack/build-image-tools.sh), cached under $GEMMA_BIN.
# A failed build does not fail setup: what needs the registry (hack/images.sh, the node tests) says what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/env.sh"
export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
  echo "    no Go toolchain: registry and crane not built (images and node tests will skip)"
  exit 0
fi
"$here/build-image-tools.sh" all || echo "    WARNING: image tools build failed (images and node tests will skip)"
