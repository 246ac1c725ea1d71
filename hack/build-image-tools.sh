#!/usr/bin/env bash
# Builds the image tools from their Go modules (no Docker, no prebuilt downloads):
#   registry  the OCI registry of github.com/distribution/distribution/v3 (hack/registry.sh runs it on localhost:5000)
#   crane     github.com/google/go-containerregistry's CLI: hack/images.sh makes the Java base image and the modelcar
#             with it (append tar layers, set the config, push) and reads image sizes back
# Versions are pinned by hack/imagetools/<name>/go.mod + go.sum (committed); the module cache, the build cache and the
# binaries live under $GEMMA_CACHE ($GEMMA_BIN), never in the repository. Idempotent: a binary already built at the
# pinned version is not rebuilt.
# Usage: hack/build-image-tools.sh [all|registry|crane]...   (default: all)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
export PATH="$PATH:/usr/local/go/bin"
modules="$here/imagetools"
export GOMODCACHE="$GEMMA_CACHE/go/mod" GOCACHE="$GEMMA_CACHE/go/build"
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local
export GOMAXPROCS="${GOMAXPROCS:-2}"
jobs="-p ${GO_BUILD_JOBS:-2}"
mkdir -p "$GEMMA_BIN"

log() { echo "    [image-tools] $*"; }
required() { sed -n "s#^require $2 v\(.*\)\$#\1#p" "$modules/$1/go.mod"; }
# True when $1 exists and its `$2` output mentions $3 (output captured first: grep -q closing a pipe early would
# kill the binary with SIGPIPE under pipefail).
has_version() { local out; [ -x "$1" ] && out="$("$1" $2 2>/dev/null)" && grep -q -- "$3" <<<"$out"; }

build() { # name, module, main package, version flag, ldflags variable
  local name="$1" module="$2" pkg="$3" flag="$4" var="$5" version t
  version="$(required "$name" "$module")"
  if has_version "$GEMMA_BIN/$name" "$flag" "$version"; then log "$name v$version already built"; return; fi
  t=$(date +%s)
  (cd "$modules/$name" && go build $jobs -trimpath -ldflags "-s -w -X $var=v$version" -o "$GEMMA_BIN/$name" "$pkg")
  log "$name v$version built in $(( $(date +%s) - t ))s"
}

build_registry() {
  build registry github.com/distribution/distribution/v3 github.com/distribution/distribution/v3/cmd/registry \
    --version github.com/distribution/distribution/v3/version.version
}
build_crane() {
  build crane github.com/google/go-containerregistry github.com/google/go-containerregistry/cmd/crane \
    version github.com/google/go-containerregistry/cmd/crane/cmd.Version
}

targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    all) build_registry; build_crane ;;
    registry) build_registry ;;
    crane) build_crane ;;
    *) echo "unknown target '$t' (all|registry|crane)" >&2; exit 2 ;;
  esac
done
