#!/usr/bin/env bash
# argocd-lua-health: samples/argocd/health.lua run in gopher-lua, the Lua interpreter Argo CD embeds, with the object
# decoded as Argo CD decodes it (hack/argocd-lua, a small Go program). Built into $GEMMA_BIN, rebuilt only when its
# sources change. Without Go the gopher-lua half of the health-check test skips with a stated reason.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/env.sh"
export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null; then
  echo "    no Go toolchain: argocd-lua-health not built (the gopher-lua health-check cases will skip)"
  exit 0
fi
export GOMODCACHE="$GEMMA_CACHE/go/mod" GOCACHE="$GEMMA_CACHE/go/build"
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local
bin="$GEMMA_BIN/argocd-lua-health"
stamp="$bin.sources"
sources="$(cd "$here/argocd-lua" && sha256sum main.go go.mod go.sum)"
if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sources" ]; then
  echo "    argocd-lua-health up to date"
  exit 0
fi
mkdir -p "$GEMMA_BIN"
(cd "$here/argocd-lua" && go build -o "$bin" .) \
  && printf '%s' "$sources" > "$stamp" && echo "    built $bin" \
  || echo "    WARNING: argocd-lua-health did not build (the gopher-lua health-check cases will skip)"
