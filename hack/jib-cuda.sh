#!/usr/bin/env bash
# Builds the CUDA variant of the runtime image as a tarball (no Docker needed): the server's jar on the
# nvidia/cuda runtime base (which carries libnvrtc and libcublas; libcuda.so.1 is mounted by the NVIDIA container
# toolkit at run time), with a jlink'd Java 25 runtime added under /opt/java because the CUDA base has no Java.
# Untested here: Jib must pull the base image from a registry, which these machines cannot reach.
# Keep the NVRTC of the base image at or below the nodes' driver version (a newer NVRTC emits PTX the driver
# rejects with CUDA_ERROR_UNSUPPORTED_PTX_VERSION).
# Usage: hack/jib-cuda.sh [image-name]   -> runtime-image/server/target/jib-cuda-image.tar
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/env.sh"
cd "$here/.."
image="${1:-gemma-serving/runtime:cuda}"
base="${GEMMA_CUDA_BASE:-nvidia/cuda:12.8.1-runtime-ubuntu24.04}"
extra="runtime-image/server/target/jib-cuda/extra"
rm -rf "$extra" && mkdir -p "$extra/opt"
"$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.net.http,java.sql,jdk.unsupported,jdk.incubator.vector,jdk.crypto.ec \
  --strip-debug --no-man-pages --no-header-files --output "$extra/opt/java"
./mvnw -B -ntp -pl runtime-image/server -am package -DskipTests
./mvnw -B -ntp -pl runtime-image/server com.google.cloud.tools:jib-maven-plugin:buildTar \
  -Djib.from.image="$base" -Djib.to.image="$image" \
  -Djib.outputPaths.tar=target/jib-cuda-image.tar \
  -Djib.extraDirectories.paths="$PWD/$extra" \
  -Djib.extraDirectories.permissions=/opt/java/bin/java=755 \
  -Djib.container.environment=JAVA_HOME=/opt/java,PATH=/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin,NVIDIA_VISIBLE_DEVICES=all,NVIDIA_DRIVER_CAPABILITIES=compute,utility \
  -Djib.container.jvmFlags="--add-modules=jdk.incubator.vector,--enable-native-access=ALL-UNNAMED,--add-opens=java.base/java.lang=ALL-UNNAMED" \
  -Djib.container.user=1001
