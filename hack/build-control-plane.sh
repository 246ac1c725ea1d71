#!/usr/bin/env bash
# Builds a real Kubernetes control plane from the Go module proxy, without Docker:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes),
#   etcd (go.etcd.io/etcd/server/v3), kwok + kwokctl (sigs.k8s.io/kwok), operator-sdk (bundle validation),
#   and for a real node (hack/node.sh): kubelet and kube-proxy (k8s.io/kubernetes), and the pod sandbox ("pause")
#   image made from the same module's build/pause/linux/pause.c (gcc -static) as an OCI image-layout tar.
# The versions are pinned by the modules in hack/controlplane/<name>/ (go.mod + go.sum, committed); sources, the Go
# module cache, the Go build cache and the binaries live under $GEMMA_CACHE, never in the repository.
# Idempotent: a binary that is already there with the right version is not rebuilt.
#
# Output:
#   $KUBE_API_TEST_DIR/k8s/<k8s version>-linux-amd64/{etcd,kube-apiserver,kubectl}   (io.fabric8:kube-api-test layout)
#   $GEMMA_BIN/{kube-controller-manager,kube-scheduler,kwok,kwokctl,operator-sdk} and links to the three above
#   $GEMMA_BIN/{kubelet,kube-proxy}, $GEMMA_CACHE/node/pause-<tag>.oci.tar (image $PAUSE_IMAGE of hack/env.sh)
#
# Usage: hack/build-control-plane.sh [all|k8s|etcd|kwok|operator-sdk|node]...   (default: all)
#        K8S_VERSION=1.35.4 hack/build-control-plane.sh --regenerate k8s      (rewrite hack/controlplane/kubernetes)
#
# Cold build on 2 cores (measured): etcd ~1 min, Kubernetes ~7 min, kwok ~1.5 min, operator-sdk ~3.5 min,
# kubelet + kube-proxy ~4 min after Kubernetes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
# Go may be installed outside the PATH of a non-login shell (CI).
export PATH="$PATH:/usr/local/go/bin"
modules="$here/controlplane"

export GOMODCACHE="$GEMMA_CACHE/go/mod" GOCACHE="$GEMMA_CACHE/go/build"
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" GOTOOLCHAIN=local
# Two cores are shared with other builds: at most two compile jobs.
export GOMAXPROCS="${GOMAXPROCS:-2}"
jobs="-p ${GO_BUILD_JOBS:-2}"
KWOK_VERSION="${KWOK_VERSION:-0.7.0}"

regenerate=0
if [ "${1:-}" = "--regenerate" ]; then regenerate=1; shift; fi

log() { echo "    [control-plane] $*"; }
timed() { local t=$(date +%s); "$@"; log "$1 ${2:-} took $(( $(date +%s) - t ))s"; }
# The version a module dir requires of $2, without the leading v.
required() { sed -n "s#^require $2 v\(.*\)\$#\1#p" "$modules/$1/go.mod"; }
# True when $1 exists and its `$2` output mentions $3.
# (Output captured first: with pipefail, `grep -q` closing the pipe early would fail the binary with SIGPIPE.)
has_version() { local out; [ -x "$1" ] && out="$("$1" $2 2>/dev/null)" && grep -q -- "$3" <<<"$out"; }
# The go.mod of a module version, from the module cache.
gomod_of() { go mod download -json "$1" | sed -n 's/^\s*"GoMod": "\(.*\)",\?$/\1/p'; }

K8S_VERSION="${K8S_VERSION:-$(required kubernetes k8s.io/kubernetes)}"
ETCD_VERSION="${ETCD_VERSION:-$(required etcd go.etcd.io/etcd/server/v3)}"
OPERATOR_SDK_VERSION="${OPERATOR_SDK_VERSION:-$(required operator-sdk github.com/operator-framework/operator-sdk)}"
k8s_dir="$KUBE_API_TEST_DIR/k8s/$K8S_VERSION-linux-amd64"
mkdir -p "$k8s_dir" "$GEMMA_BIN"

# hack/controlplane/kubernetes: `go install` refuses k8s.io/kubernetes because its go.mod replaces every staging module
# (k8s.io/api, k8s.io/client-go, ...) with ./staging/src/...; this module requires it and replaces each staging module
# with its published v0.<minor>.<patch>, the list read from the downloaded go.mod.
regenerate_k8s() {
  local mod="$modules/kubernetes" gomod staging="0.${K8S_VERSION#1.}"
  gomod="$(gomod_of "k8s.io/kubernetes@v$K8S_VERSION")"
  {
    printf 'module gemmaserving.io/controlplane/kubernetes\n\ngo %s\n\nrequire k8s.io/kubernetes v%s\n\n' \
      "$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod")" "$K8S_VERSION"
    # "	k8s.io/api => ./staging/src/k8s.io/api" becomes "replace k8s.io/api => k8s.io/api v0.34.4".
    sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#replace \1 => \1 v'"$staging"'#p' "$gomod"
  } > "$mod/go.mod"
  log "$(grep -c '^replace' "$mod/go.mod") staging modules replaced"
  (cd "$mod" && GOFLAGS=-mod=mod timed go mod tidy)
}

# Without these the binaries say v0.0.0, and clients and kwokctl take them for ancient servers.
k8s_ldflags() {
  local ld="-s -w" pkg major="${K8S_VERSION%%.*}" minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$ld"
}

build_k8s() {
  local want="v$K8S_VERSION" b all_there=1
  for b in "$k8s_dir/kube-apiserver" "$GEMMA_BIN/kube-controller-manager" "$GEMMA_BIN/kube-scheduler"; do
    has_version "$b" --version "$want" || all_there=0
  done
  has_version "$k8s_dir/kubectl" "version --client" "$want" || all_there=0
  if [ $all_there = 1 ]; then log "kubernetes $want already built"; return; fi
  local ld; ld="$(k8s_ldflags)"
  cd "$modules/kubernetes"
  for b in kube-apiserver kubectl; do
    timed go build $jobs -trimpath -ldflags "$ld" -o "$k8s_dir/$b" "k8s.io/kubernetes/cmd/$b"
  done
  for b in kube-controller-manager kube-scheduler; do
    timed go build $jobs -trimpath -ldflags "$ld" -o "$GEMMA_BIN/$b" "k8s.io/kubernetes/cmd/$b"
  done
  cd - >/dev/null
}

# A real node's binaries: kubelet and kube-proxy from the same module, and the pause image (see make_pause_image).
build_node() {
  local want="v$K8S_VERSION" b ld
  for b in kubelet kube-proxy; do
    if has_version "$GEMMA_BIN/$b" --version "$want"; then log "$b $want already built"; continue; fi
    [ -n "${ld:-}" ] || ld="$(k8s_ldflags)"
    (cd "$modules/kubernetes" && timed go build $jobs -trimpath -ldflags "$ld" -o "$GEMMA_BIN/$b" "k8s.io/kubernetes/cmd/$b")
  done
  make_pause_image
}

# The pod sandbox image, made here as Kubernetes makes registry.k8s.io/pause: build/pause/linux/pause.c of the
# k8s.io/kubernetes module compiled with its Makefile's flags (gcc -Os -static), one layer holding /pause, user
# 65535:65535. Written as an OCI image-layout tar that hack/node.sh imports into containerd under $PAUSE_IMAGE
# (containerd's sandbox_image): the node never pulls it. Same input, same bytes: the tar has fixed owners and times.
make_pause_image() {
  local tag="${PAUSE_IMAGE##*:}" out="$GEMMA_CACHE/node/pause-${PAUSE_IMAGE##*:}.oci.tar" src tmp
  if [ -s "$out" ]; then log "pause image $PAUSE_IMAGE already made ($out)"; return; fi
  command -v gcc >/dev/null || { log "no gcc: the pause image is not made (hack/node.sh needs it)"; return 1; }
  src="$(cd "$modules/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c"
  [ -f "$src" ] || (cd "$modules/kubernetes" && go mod download k8s.io/kubernetes)
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/rootfs" "$tmp/oci/blobs/sha256" "$(dirname "$out")"
  gcc -Os -Wall -Werror -static -DVERSION="v$tag-gemma" -o "$tmp/rootfs/pause" "$src"
  strip "$tmp/rootfs/pause"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$tmp/rootfs" -cf "$tmp/layer.tar" pause
  local layer layer_size config config_size manifest manifest_size
  layer="$(sha256sum "$tmp/layer.tar" | cut -d' ' -f1)"; layer_size=$(stat -c %s "$tmp/layer.tar")
  mv "$tmp/layer.tar" "$tmp/oci/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"User":"65535:65535","Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$layer" > "$tmp/config.json"
  config="$(sha256sum "$tmp/config.json" | cut -d' ' -f1)"; config_size=$(stat -c %s "$tmp/config.json")
  mv "$tmp/config.json" "$tmp/oci/blobs/sha256/$config"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
    "$config" "$config_size" "$layer" "$layer_size" > "$tmp/manifest.json"
  manifest="$(sha256sum "$tmp/manifest.json" | cut -d' ' -f1)"; manifest_size=$(stat -c %s "$tmp/manifest.json")
  mv "$tmp/manifest.json" "$tmp/oci/blobs/sha256/$manifest"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$manifest_size" "$PAUSE_IMAGE" "$tag" > "$tmp/oci/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$tmp/oci/oci-layout"
  tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$tmp/oci" -cf "$out.part" oci-layout index.json blobs
  mv "$out.part" "$out"
  rm -rf "$tmp"
  log "pause image $PAUSE_IMAGE: $out (manifest sha256:$manifest)"
}

# hack/controlplane/etcd: etcd's server module is a main package, built with the versions etcd pins.
build_etcd() {
  if has_version "$k8s_dir/etcd" --version "etcd Version: $ETCD_VERSION"; then log "etcd $ETCD_VERSION already built"; return; fi
  (cd "$modules/etcd" && timed go build $jobs -trimpath -ldflags "-s -w" -o "$k8s_dir/etcd" go.etcd.io/etcd/server/v3)
}

# kwok installs cleanly with `go install module/cmd@version`.
build_kwok() {
  if has_version "$GEMMA_BIN/kwokctl" --version "$KWOK_VERSION" && [ -x "$GEMMA_BIN/kwok" ]; then
    log "kwok $KWOK_VERSION already built"; return
  fi
  local ld="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$K8S_VERSION"
  GOFLAGS=-mod=mod GOBIN="$GEMMA_BIN" timed go install $jobs -trimpath -ldflags "$ld" \
    "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK_VERSION"
}

# hack/controlplane/operator-sdk: `go install ...@v1.33.0` fails here (the proxy refuses the module's version list,
# which `go install` reads for deprecations) and its go.mod has replace directives, so a module requires it and copies
# the replace block. Two changes against its own go.mod: golang.org/x/tools raised to v0.30.0 (v0.13's tokeninternal
# does not compile with Go >= 1.22), and go.sum written with the checksum database off for pseudo-versions it does not
# know (k8s.io/kube-openapi); the committed go.sum pins them since.
build_operator_sdk() {
  if has_version "$GEMMA_BIN/operator-sdk" version "v$OPERATOR_SDK_VERSION"; then
    log "operator-sdk $OPERATOR_SDK_VERSION already built"; return
  fi
  local p=github.com/operator-framework/operator-sdk/internal/version
  local ld="-s -w -X $p.Version=v$OPERATOR_SDK_VERSION -X $p.GitVersion=v$OPERATOR_SDK_VERSION -X $p.KubernetesVersion=v1.27"
  (cd "$modules/operator-sdk" && GONOSUMDB=k8s.io/kube-openapi timed go build $jobs -trimpath -ldflags "$ld" \
    -o "$GEMMA_BIN/operator-sdk" github.com/operator-framework/operator-sdk/cmd/operator-sdk)
}

link_bins() {
  local b
  for b in etcd kube-apiserver kubectl; do
    [ -x "$k8s_dir/$b" ] && ln -sf "$k8s_dir/$b" "$GEMMA_BIN/$b"
  done
  true
}

targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(all)
if [ $regenerate = 1 ]; then
  for t in "${targets[@]}"; do
    case "$t" in
      k8s) regenerate_k8s ;;
      *) echo "--regenerate knows only k8s (edit hack/controlplane/$t/go.mod and run go mod tidy there)" >&2; exit 2 ;;
    esac
  done
fi
status=0
for t in "${targets[@]}"; do
  case "$t" in
    all) build_etcd && build_k8s && build_kwok || status=1; build_node || status=1; build_operator_sdk || status=1 ;;
    k8s) build_k8s || status=1 ;;
    etcd) build_etcd || status=1 ;;
    kwok) build_kwok || status=1 ;;
    operator-sdk) build_operator_sdk || status=1 ;;
    node) build_node || status=1 ;;
    *) echo "unknown target '$t' (all|k8s|etcd|kwok|operator-sdk|node)" >&2; exit 2 ;;
  esac
done
link_bins
log "binaries: $k8s_dir and $GEMMA_BIN"
exit $status
