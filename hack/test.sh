#!/usr/bin/env bash
# The test command: installs what the tests need (hack/setup.sh: cached, fast when warm), then runs every tier this
# machine can run (unit, apiserver, cluster, node, model, server). For the node tier, as root, it first starts the
# local registry (hack/registry.sh) and builds and pushes the images from this checkout (hack/images.sh: Jib pushes
# only changed layers); the tier itself starts and stops its control plane and real node. Tiers that need something
# absent (a GPU, root, a binary that failed to build) skip with a stated reason. Extra arguments go to Maven, e.g.
# `hack/test.sh -pl operator`; GEMMA_NODE_TIER=0 leaves the images and the registry alone (the node tier then skips).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/setup.sh"
source "$here/env.sh"
cd "$here/.."

registry_started=0
stop_registry() { [ $registry_started = 1 ] && "$here/registry.sh" stop >/dev/null 2>&1 || true; }
trap stop_registry EXIT
if [ "${GEMMA_NODE_TIER:-1}" != 0 ] && [ "$(id -u)" = 0 ]; then
  echo "==> node tier: the local registry and the images from this checkout"
  "$here/registry.sh" status >/dev/null 2>&1 || registry_started=1
  start=$(date +%s)
  "$here/images.sh"
  echo "    images done in $(( $(date +%s) - start ))s"
else
  echo "==> node tier: skipped (needs root and GEMMA_NODE_TIER unset or 1)"
fi
./mvnw -B -ntp verify "$@"
