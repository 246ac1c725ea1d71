#!/usr/bin/env bash
# The test command: every tier that this machine can run (unit, apiserver, cluster, model, server).
# Tiers that need something absent (a GPU, a large file) skip with a stated reason.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
cd "$here/.."
exec ./mvnw -B -ntp verify "$@"
