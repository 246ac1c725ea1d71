package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.cuda.check.LogitComparison;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * On a GPU: the CUDA engine's logits against the CPU engine's on the tiny fixtures, through the GPU check's scenario
 * (chunked prompts, ring wrap, mixed batched steps, rewind, copy), at TP=1 and TP=2 (two ranks, on one GPU if need
 * be). Tolerances as in hack/gpu-check.sh: 1e-3 of the largest logit for f32 weights (another summation order),
 * 3e-2 for f16/q8_0 (activations rounded to 16 bits in the cuBLAS products). Skips without a GPU: it has never run.
 */
@Tag("model")
class CudaEngineGpuTest {

    @BeforeEach
    void needsGpu() {
        Cuda.Availability a = Cuda.availability();
        assumeTrue(a.available(), "no GPU: " + a.message());
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma2-f32.gguf", "tiny-gemma3-q8_0.gguf"})
    void matchesTheCpuEngineAtTp1AndTp2(String name) throws Exception {
        Path f = Path.of(CudaEngineGpuTest.class.getResource("/fixtures/" + name).toURI());
        double tol = name.contains("f32") ? 1e-3 : 3e-2;
        CudaEngine.Settings small = new CudaEngine.Settings(32, 8, 24, 32, true, null, true);
        try (Engine cpu = ModelLoader.load(f, new io.gemmaserving.runtime.engine.EngineOptions("vector", 2, 1, null, io.gemmaserving.runtime.engine.KvCacheType.F32))) {
            var want = LogitComparison.scenario(cpu, 80, 1);
            for (int tp : new int[] {1, 2}) {
                try (Engine gpu = CudaEngine.open(f, new EngineOptions("cuda", 0, tp, null), small)) {
                    LogitComparison.Result r = LogitComparison.compare(want, LogitComparison.scenario(gpu, 80, 1));
                    assertTrue(r.relative() <= tol, name + " TP=" + tp + ": " + r.describe());
                }
            }
        }
    }
}
