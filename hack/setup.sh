#!/usr/bin/env bash
# Installs every tool and package the build, the tests and the demo need, cached under $GEMMA_CACHE
# (outside the repository), so a second run is fast. Each step is a script in hack/setup.d/, run in order;
# `hack/setup.sh python` runs only the steps whose name contains "python".
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
mkdir -p "$GEMMA_CACHE" "$GEMMA_BIN"
for step in "$here"/setup.d/*.sh; do
  name="$(basename "$step" .sh)"
  if [ $# -gt 0 ] && [[ "$name" != *"$1"* ]]; then continue; fi
  echo "==> setup: $name"
  start=$(date +%s)
  bash "$step"
  echo "    $name done in $(( $(date +%s) - start ))s"
done
