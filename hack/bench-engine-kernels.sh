#!/usr/bin/env bash
# Benchmarks of the engine's storage/kernel layer (not tests): VectorBackend matmul on the real Gemma 3 270M
# weights (per tensor, batch 1 and 128, plus a decode sweep and a prefill sweep), and every format's vector vs
# scalar dot on random data. Usage: hack/bench-engine-kernels.sh [threads=2]
# Numbers are only meaningful on an otherwise idle machine (see the load average printed first).
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/env.sh
threads="${1:-2}"
./mvnw -B -ntp -q -o -pl runtime-image/bench -am test-compile
cp=runtime-image/bench/target/test-classes:runtime-image/engine/target/classes:runtime-image/engine/target/test-classes
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
java --add-modules jdk.incubator.vector -cp "$cp" io.gemmaserving.runtime.engine.backend.MatmulBench "$GEMMA_270M_GGUF" "$threads" 1,128
java --add-modules jdk.incubator.vector -cp "$cp" io.gemmaserving.runtime.engine.backend.DotBench synthetic
