#!/usr/bin/env bash
# Builds every image and pushes it to the local registry (hack/registry.sh, started if needed):
#   $repo/gemma-runtime:0.1.0              the runtime server (CPU), Jib, from runtime-image/server -Pimage
#   $repo/gemma-operator:0.1.0             the operator, Jib, from operator -Pimage
#   $repo/modelcar-gemma-3-270m:q4_k_m     KServe modelcar: the 270M GGUF ($GEMMA_270M_GGUF) under /models, and sh
# with repo=localhost:5000/gemma-serving. No public base image can be pulled here, so the Java images are built on
#   $repo/java-base:25-<hash>              Debian's libc6 and libgcc-s1, busybox (sh), a jlink'd Java 25 under /opt/java
# made from the local Temurin 25 and Debian's packages (the release base is the Maven property image.base).
# Everything is cached: the base is rebuilt only when its inputs change (the .debs, the JDK, the module list, this
# recipe: they name its tag), the modelcar only when the GGUF or its recipe changes (a label records them), the Java
# images only when a file of the Maven build or the base changes (then Jib pushes only the changed layers). Images run as any UID in group 0 on a read-only root (hack/check-images.sh runs them).
# Usage: hack/images.sh [all|base|java|modelcar|sizes]...   (default: all, then the sizes)
# Env: GEMMA_REGISTRY_ADDR (default localhost:5000).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
root="$(cd "$here/.." && pwd)"
reg="${GEMMA_REGISTRY_ADDR:-localhost:5000}"
repo="$reg/gemma-serving"
work="$GEMMA_CACHE/images"
tag="$(sed -n 's:.*<image.tag>\(.*\)</image.tag>.*:\1:p' "$root/pom.xml")"
modules="$(sed -n 's:.*<image.java.modules>\(.*\)</image.java.modules>.*:\1:p' "$root/pom.xml")"
mkdir -p "$work"

log() { echo "==> images: $*"; }
crane() { "$GEMMA_BIN/crane" --insecure "$@"; }
# Runs "$@" with its output kept aside, shown only if it fails (crane logs every blob).
quiet() { "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; return 1; }; }
have() { crane digest "$1" >/dev/null 2>&1; }
# True when image $1 is in the registry with label io.gemmaserving.inputs=$2 (set last, so a half-built one has none).
built_from() { have "$1" && crane config "$1" | grep -q "\"io.gemmaserving.inputs\":\"$2\""; }

# The .debs of $@ in $work/debs (downloaded once; apt's lists refreshed only if a download fails).
debs() {
  local d="$work/debs" p
  mkdir -p "$d"
  for p in "$@"; do
    if ! compgen -G "$d/${p}_*.deb" >/dev/null; then
      (cd "$d" && { apt-get -qq -o APT::Sandbox::User=root download "$p" 2>/dev/null \
        || { apt-get -qq update && apt-get -qq -o APT::Sandbox::User=root download "$p"; }; })
    fi
    ls "$d/${p}"_*.deb
  done
}

# busybox with a link per applet in <root>/bin (sh for kubectl exec and the modelcar's commands).
busybox_into() {
  local dest="$1" x="$work/busybox-x" a
  rm -rf "$x" && dpkg-deb -x "$(debs busybox-static)" "$x"
  mkdir -p "$dest/bin" && cp "$x/bin/busybox" "$dest/bin/busybox"
  for a in $("$dest/bin/busybox" --list); do [ -e "$dest/bin/$a" ] || ln -s busybox "$dest/bin/$a"; done
  rm -rf "$x"
}

# A layer tar of folder $1 in $2: root-owned, group 0, fixed mtimes and order (same inputs, same digest).
layer() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf "$2" .; }

# /etc files for a system without a package manager: root, the images' default user 185 (group 0, as OpenShift
# assigns) and nobody; OpenShift's arbitrary UIDs need no entry.
etc_into() {
  mkdir -p "$1/etc" "$1/tmp" && chmod 1777 "$1/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\ndefault:x:185:0:default:/deployments:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$1/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$1/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$1/etc/nsswitch.conf"
}

build_base() {
  local r="$work/base-rootfs" deb
  rm -rf "$r" && mkdir -p "$r"
  for deb in $(debs libc6 libgcc-s1); do dpkg-deb -x "$deb" "$r"; done
  # documentation and iconv modules: nothing in the JVM reads them
  rm -rf "$r"/usr/share/doc "$r"/usr/share/lintian "$r"/usr/share/locale "$r"/usr/lib/x86_64-linux-gnu/gconv
  busybox_into "$r"
  etc_into "$r"
  mkdir -p "$r/opt" "$r/deployments"
  "$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
    --generate-cds-archive --output "$r/opt/java" 2>&1 | grep -v 'incubator modules' || true
  layer "$r" "$work/base.tar"
  quiet crane append --oci-empty-base -f "$work/base.tar" -t "$1"
  quiet crane mutate "$1" -l "io.gemmaserving.inputs=$2" --set-platform linux/amd64 -u 185:0 -w /deployments \
    -e JAVA_HOME=/opt/java -e PATH=/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    -e LANG=C.UTF-8 -l org.opencontainers.image.description="libc6, libgcc-s1 and busybox from Debian, Java 25 (jlink: $modules)" \
    -t "$1"
  rm -rf "$r" "$work/base.tar"
}

# A hash of the base's inputs: the .debs, the JDK's release file, the module list and the recipe above.
base_inputs() {
  { sha256sum $(debs libc6 libgcc-s1 busybox-static) | cut -d' ' -f1; cat "$JAVA_HOME/release"; echo "$modules"
    declare -f build_base busybox_into etc_into layer; } | sha256sum | cut -c1-12
}
# The base's tag names its inputs, so a release of this script never reuses an older base.
base_ref() { echo "$repo/java-base:25-$(base_inputs)"; }

base() {
  local h; h="$(base_inputs)"
  BASE="$repo/java-base:25-$h"
  if built_from "$BASE" "$h"; then log "base $BASE already in the registry"; return; fi
  log "building the Java base $BASE"
  build_base "$BASE" "$h"
}

# A hash of what the Java images are built from: every file of the Maven build outside target/, and the base.
java_inputs() {
  { (cd "$root" && find pom.xml .mvn runtime-image operator -path '*/target' -prune -o -type f -print0 | sort -z \
      | xargs -0 sha256sum); echo "$1 $repo"; } | sha256sum | cut -c1-12
}

# The images' digests after the last build, with its inputs ($work/java.stamp): when both still hold, Maven is not run.
java_digests() { echo "$(crane digest "$repo/gemma-runtime:$tag" 2>/dev/null) $(crane digest "$repo/gemma-operator:$tag" 2>/dev/null)"; }

java_images() {
  local h stamp="$work/java.stamp"
  [ -n "${BASE:-}" ] || BASE="$(base_ref)"
  built_from "$BASE" "$(base_inputs)" || base
  h="$(java_inputs "$BASE")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$h $(java_digests)" ]; then
    log "runtime and operator images already pushed from these sources"; return
  fi
  log "runtime and operator images with Jib on $BASE"
  (cd "$root" && ./mvnw -B -ntp -q -pl runtime-image/server,operator -am -Pimage package -DskipTests \
    -Dimage.registry="$repo" -Dimage.base="$BASE" -Djib.allowInsecureRegistries=true)
  echo "$h $(java_digests)" > "$stamp"
}

build_modelcar() {
  local r="$work/modelcar-rootfs" m="$work/modelcar-models"
  rm -rf "$r" "$m" && mkdir -p "$r/mnt" "$m/models"
  busybox_into "$r"
  etc_into "$r"
  # a hard link, not a copy, when the cache and the model share a file system
  ln "$GEMMA_270M_GGUF" "$m/models/" 2>/dev/null || cp "$GEMMA_270M_GGUF" "$m/models/"
  chmod 0644 "$m/models/"*
  layer "$r" "$work/modelcar-sh.tar"
  layer "$m" "$work/modelcar-models.tar"
  quiet crane append --oci-empty-base -f "$work/modelcar-sh.tar" -f "$work/modelcar-models.tar" -t "$1"
  quiet crane mutate "$1" --set-platform linux/amd64 -u 185:0 -e PATH=/bin -l "io.gemmaserving.inputs=$2" \
    -l org.opencontainers.image.description="KServe modelcar: $(basename "$GEMMA_270M_GGUF") under /models" -t "$1"
  rm -rf "$r" "$m" "$work"/modelcar-*.tar
}

modelcar() {
  local ref="$repo/modelcar-gemma-3-270m:q4_k_m" h
  if [ ! -f "$GEMMA_270M_GGUF" ]; then
    echo "no model at $GEMMA_270M_GGUF (hack/setup.sh python assembles it): modelcar not built" >&2; return 1
  fi
  h="$( { stat -c '%n %s %Y' "$GEMMA_270M_GGUF"; sha256sum $(debs busybox-static) | cut -d' ' -f1
          declare -f build_modelcar busybox_into etc_into layer; } | sha256sum | cut -c1-12)"
  if built_from "$ref" "$h"; then
    log "modelcar $ref already in the registry"; return
  fi
  log "building the modelcar $ref"
  build_modelcar "$ref" "$h"
}

# Compressed: the layers and config as stored in the registry; uncompressed: the flattened file system.
sizes() {
  local name ref comp unc
  printf '%-56s %12s %14s\n' image compressed uncompressed
  for name in "gemma-runtime:$tag" "gemma-operator:$tag" "modelcar-gemma-3-270m:q4_k_m" "$(basename "$(base_ref)")"; do
    ref="$repo/$name"
    if ! have "$ref"; then printf '%-56s %12s\n' "$ref" absent; continue; fi
    comp="$(crane manifest "$ref" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["config"]["size"]+sum(l["size"] for l in m["layers"]))')"
    unc="$(crane export "$ref" - | wc -c)"
    awk -v r="$ref" -v c="$comp" -v u="$unc" 'BEGIN { printf "%-56s %8.1f MiB %10.1f MiB\n", r, c / 1048576, u / 1048576 }'
  done
}

"$here/registry.sh" start >/dev/null
[ -x "$GEMMA_BIN/crane" ] || "$here/build-image-tools.sh" crane
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(all)
for t in "${targets[@]}"; do
  case "$t" in
    all) base; java_images; modelcar; sizes ;;
    base) base ;;
    java) java_images ;;
    modelcar) modelcar ;;
    sizes) sizes ;;
    *) echo "unknown target '$t' (all|base|java|modelcar|sizes)" >&2; exit 2 ;;
  esac
done
