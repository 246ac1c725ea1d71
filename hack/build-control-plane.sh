#!/usr/bin/env bash
# Builds a real Kubernetes control plane from the Go module proxy, without Docker:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes $K8S_VERSION),
#   etcd (go.etcd.io/etcd/server/v3), kwok + kwokctl (sigs.k8s.io/kwok), operator-sdk (bundle validation).
# Idempotent: a binary that is already there with the right version is not rebuilt. Everything (sources, Go module
# cache, Go build cache, binaries) lives under $GEMMA_CACHE, never in the repository.
#
# Output:
#   $KUBE_API_TEST_DIR/k8s/$K8S_VERSION-linux-amd64/{etcd,kube-apiserver,kubectl}   (io.fabric8:kube-api-test layout)
#   $GEMMA_BIN/{kube-controller-manager,kube-scheduler,kwok,kwokctl,operator-sdk} and links to the three above
#
# Usage: hack/build-control-plane.sh [all|k8s|etcd|kwok|operator-sdk]...   (default: all)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"

K8S_VERSION="${K8S_VERSION:-1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-0.7.0}"
OPERATOR_SDK_VERSION="${OPERATOR_SDK_VERSION:-1.33.0}"

export GOMODCACHE="$GEMMA_CACHE/go/mod" GOCACHE="$GEMMA_CACHE/go/build"
export CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
# Two cores are shared with other builds: at most two compile jobs.
export GOMAXPROCS="${GOMAXPROCS:-2}"
jobs="-p ${GO_BUILD_JOBS:-2}"

src="$GEMMA_CACHE/controlplane/src"
k8s_dir="$KUBE_API_TEST_DIR/k8s/$K8S_VERSION-linux-amd64"
mkdir -p "$src" "$k8s_dir" "$GEMMA_BIN"

log() { echo "    [control-plane] $*"; }
timed() { local t=$(date +%s); "$@"; log "$1 ${2:-} took $(( $(date +%s) - t ))s"; }

# True when $1 exists and its `$2` output mentions $3.
has_version() { [ -x "$1" ] && "$1" $2 2>/dev/null | grep -q -- "$3"; }

# The module that builds k8s.io/kubernetes/cmd/...: `go install` refuses k8s.io/kubernetes because its go.mod replaces
# every staging module (k8s.io/api, k8s.io/client-go, ...) with ./staging/src/...; we require it and replace each staging
# module with its published v0.<minor>.<patch>, the list read from the downloaded go.mod.
build_k8s() {
  local want="v$K8S_VERSION" b
  local all_there=1
  for b in "$k8s_dir/kube-apiserver" "$GEMMA_BIN/kube-controller-manager" "$GEMMA_BIN/kube-scheduler"; do
    has_version "$b" --version "$want" || all_there=0
  done
  has_version "$k8s_dir/kubectl" "version --client" "$want" || all_there=0
  if [ $all_there = 1 ]; then log "kubernetes $want already built"; return; fi

  local mod="$src/kubernetes-$K8S_VERSION" staging="0.${K8S_VERSION#1.}"
  mkdir -p "$mod"
  if [ ! -f "$mod/go.sum" ]; then
    log "generating the build module for k8s.io/kubernetes $want"
    local gomod
    gomod="$(go mod download -json "k8s.io/kubernetes@$want" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')"
    {
      echo "module gemmaserving.io/controlplane/kubernetes"
      echo
      echo "go $(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")"
      echo
      echo "require k8s.io/kubernetes $want"
      echo
      # Lines like "	k8s.io/api => ./staging/src/k8s.io/api" become "replace k8s.io/api => k8s.io/api v0.34.4".
      sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#replace \1 => \1 v'"$staging"'#p' "$gomod"
    } > "$mod/go.mod"
    log "$(grep -c '^replace' "$mod/go.mod") staging modules replaced"
    cat > "$mod/tools.go" <<'GO'
//go:build tools

// Package tools only pins the commands this module builds, so that `go mod tidy` keeps their dependencies.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
    (cd "$mod" && timed go mod tidy)
  fi
  local ld="-s -w" pkg
  local major="${K8S_VERSION%%.*}" minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=$want -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  cd "$mod"
  for b in kube-apiserver kubectl; do
    timed go build $jobs -trimpath -ldflags "$ld" -o "$k8s_dir/$b" "k8s.io/kubernetes/cmd/$b"
  done
  for b in kube-controller-manager kube-scheduler; do
    timed go build $jobs -trimpath -ldflags "$ld" -o "$GEMMA_BIN/$b" "k8s.io/kubernetes/cmd/$b"
  done
  cd - >/dev/null
}

# etcd: its server module is a main package; a tiny module requiring it builds it with the versions etcd pins.
build_etcd() {
  if has_version "$k8s_dir/etcd" --version "etcd Version: $ETCD_VERSION"; then log "etcd $ETCD_VERSION already built"; return; fi
  local mod="$src/etcd-$ETCD_VERSION"
  mkdir -p "$mod"
  if [ ! -f "$mod/go.sum" ]; then
    printf 'module gemmaserving.io/controlplane/etcd\n\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 v%s\n' "$ETCD_VERSION" > "$mod/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' > "$mod/tools.go"
    (cd "$mod" && timed go mod tidy)
  fi
  (cd "$mod" && timed go build $jobs -trimpath -ldflags "-s -w" -o "$k8s_dir/etcd" go.etcd.io/etcd/server/v3)
}

# kwok and operator-sdk install cleanly with `go install module/cmd@version`.
build_kwok() {
  if has_version "$GEMMA_BIN/kwokctl" --version "$KWOK_VERSION" && [ -x "$GEMMA_BIN/kwok" ]; then
    log "kwok $KWOK_VERSION already built"; return
  fi
  local ld="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$K8S_VERSION"
  GOBIN="$GEMMA_BIN" timed go install $jobs -trimpath -ldflags "$ld" \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"
}

# operator-sdk: `go install ...@v1.33.0` fails here (the proxy refuses the module's version list, which `go install`
# reads for deprecations), and its go.mod has replace directives; so, as for Kubernetes, a module that requires it
# and copies its replace block.
build_operator_sdk() {
  if has_version "$GEMMA_BIN/operator-sdk" version "v$OPERATOR_SDK_VERSION"; then
    log "operator-sdk $OPERATOR_SDK_VERSION already built"; return
  fi
  local mod="$src/operator-sdk-$OPERATOR_SDK_VERSION" want="v$OPERATOR_SDK_VERSION"
  mkdir -p "$mod"
  if [ ! -f "$mod/go.sum" ]; then
    local gomod
    gomod="$(go mod download -json "github.com/operator-framework/operator-sdk@$want" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p')"
    {
      printf 'module gemmaserving.io/controlplane/operatorsdk\n\ngo %s\n\nrequire github.com/operator-framework/operator-sdk %s\n\n' \
        "$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")" "$want"
      sed -n '/^replace (/,/^)/p' "$gomod"
    } > "$mod/go.mod"
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/operator-framework/operator-sdk/cmd/operator-sdk"\n' > "$mod/tools.go"
    # Some of its pinned pseudo-versions are unknown to the checksum database: pin them by go.sum instead.
    (cd "$mod" && GOSUMDB=off timed go mod tidy)
  fi
  local ld="-s -w -X github.com/operator-framework/operator-sdk/internal/version.Version=$want"
  (cd "$mod" && timed go build $jobs -trimpath -ldflags "$ld" -o "$GEMMA_BIN/operator-sdk" \
    github.com/operator-framework/operator-sdk/cmd/operator-sdk)
}

link_bins() {
  local b
  for b in etcd kube-apiserver kubectl; do
    [ -x "$k8s_dir/$b" ] && ln -sf "$k8s_dir/$b" "$GEMMA_BIN/$b"
  done
  true
}

targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    all) build_etcd; build_k8s; build_kwok; build_operator_sdk ;;
    k8s) build_k8s ;;
    etcd) build_etcd ;;
    kwok) build_kwok ;;
    operator-sdk) build_operator_sdk ;;
    *) echo "unknown target '$t' (all|k8s|etcd|kwok|operator-sdk)" >&2; exit 2 ;;
  esac
done
link_bins
log "binaries: $k8s_dir and $GEMMA_BIN"
