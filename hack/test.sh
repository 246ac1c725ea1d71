#!/usr/bin/env bash
# The test command: installs what the tests need (hack/setup.sh: cached, fast when warm), then runs every tier this
# machine can run (unit, apiserver, cluster, model, server). Tiers that need something absent (a GPU, a binary that
# failed to build) skip with a stated reason. Extra arguments go to Maven, e.g. `hack/test.sh -pl operator`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/setup.sh"
source "$here/env.sh"
cd "$here/.."
exec ./mvnw -B -ntp verify "$@"
