package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.Engine;
import io.gemmaserving.runtime.engine.EngineOptions;
import io.gemmaserving.runtime.engine.KvCacheType;
import io.gemmaserving.runtime.engine.cuda.bindings.CudaException;
import io.gemmaserving.runtime.engine.cuda.check.LogitComparison;
import io.gemmaserving.runtime.engine.model.Architecture;
import io.gemmaserving.runtime.engine.model.GemmaConfig;
import io.gemmaserving.runtime.engine.model.ModelLoader;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole CUDA engine on the host emulation of the driver, cuBLAS and graphs ({@link HostCuda}): its logits
 * against the CPU engine's through the GPU check's scenario (80-token prompts cut into 24- and 8-token passes so
 * that both the cuBLAS and the matvec paths run and the sliding-window rings wrap; mixed batched steps; rewind;
 * copy), at TP=1 with decode graphs captured and replayed, and at TP=2 (two ranks, peer-copy all-reduce). This
 * checks the engine's host side: planning, layouts, KV tables, shards, all-reduce, graph replay and every launch's
 * arguments, not the CUDA kernels (the emulation re-implements them, f16 caches included). Both sides keep f32 KV
 * caches unless a test says otherwise. Tolerances: 1e-4 of the largest logit for f32
 * weights (double sums here, float on the CPU); 3e-2 where the cuBLAS path rounds activations to 16 bits (f16 and
 * q8_0 weights), as in hack/gpu-check.sh.
 */
@Tag("unit")
class CudaEngineHostTest {

    static final CudaEngine.Settings SMALL = new CudaEngine.Settings(32, 8, 24, 32, true, null, true);

    static CudaApis host(HostCuda d) {
        PtxSource none = new PtxSource() {
            public String ptx(String file, int cc) { return "// host emulation of " + file; }
            public String describe() { return "host-emulated kernels"; }
        };
        return new CudaApis(d, d, d, none, () -> { throw new CudaException("no NCCL in the host emulation"); });
    }

    static Path fixture(String name) throws Exception {
        return Path.of(CudaEngineHostTest.class.getResource("/fixtures/" + name).toURI());
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma1-f32.gguf", "tiny-gemma2-f32.gguf", "tiny-gemma3-f16.gguf",
            "tiny-gemma3-q8_0.gguf", "tiny-gemma3"})
    void matchesTheCpuEngineAtTp1AndTp2(String name) throws Exception {
        Path f = fixture(name);
        double tol = name.contains("f32") ? 1e-4 : 3e-2;
        List<float[]> want;
        try (Engine cpu = ModelLoader.load(f, new io.gemmaserving.runtime.engine.EngineOptions("scalar", 1, 1, null, io.gemmaserving.runtime.engine.KvCacheType.F32))) {
            want = LogitComparison.scenario(cpu, 80, 1);
        }
        for (int tp : new int[] {1, 2}) {
            HostCuda d = new HostCuda();
            try (CudaEngine gpu = CudaEngine.open(f, new EngineOptions("cuda", 0, tp, null, KvCacheType.F32), SMALL,
                    host(d))) {
                LogitComparison.Result r = LogitComparison.compare(want, LogitComparison.scenario(gpu, 80, 1));
                assertTrue(r.relative() <= tol, name + " TP=" + tp + ": " + r.describe());
                if (tp == 1) {
                    assertEquals(1, gpu.graphCount(), "the 3-sequence decode shape is captured once");
                    assertTrue(d.graphLaunches >= 4, "and replayed: " + d.graphLaunches);
                } else {
                    assertEquals(0, gpu.graphCount(), "no graphs with tensor parallelism");
                }
            }
        }
    }

    /**
     * The default f16 KV cache on both engines (kv_store_f16 / attention_f16 on the device side). Each engine rounds
     * its own keys and values, so a last-bit difference upstream can put a value on the other side of a half's
     * rounding: tolerance as above plus 5e-3, KvCacheTypeTest's bound on what f16 keys and values move at all.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma2-f32.gguf", "tiny-gemma3-q8_0.gguf"})
    void withF16KeysAndValuesMatchesTheCpuEngineWithThem(String name) throws Exception {
        Path f = fixture(name);
        double tol = (name.contains("f32") ? 1e-4 : 3e-2) + 5e-3;
        List<float[]> want;
        try (Engine cpu = ModelLoader.load(f, new EngineOptions("scalar", 1, 1, null, KvCacheType.F16))) {
            want = LogitComparison.scenario(cpu, 80, 1);
        }
        try (CudaEngine gpu = CudaEngine.open(f, new EngineOptions("cuda", 0, 1, null), SMALL, host(new HostCuda()))) {
            LogitComparison.Result r = LogitComparison.compare(want, LogitComparison.scenario(gpu, 80, 1));
            assertTrue(r.relative() <= tol, name + ": " + r.describe());
        }
    }

    /**
     * The device KV cache stores 2 bytes per key or value by default and reports what it holds. The operator sizes
     * GPU pods with the same number (operator Sizing.GPU_KV_BYTES_PER_VALUE = 2.0): change both together. tiny-gemma1
     * has global layers only, so a cache of n positions holds exactly n times the bytes per token.
     */
    @Test
    void theDefaultDeviceKvCacheHoldsTwoBytesPerValueAsTheOperatorSizesIt() throws Exception {
        GemmaConfig c;
        try (ModelLoader.Bound b = ModelLoader.bind(fixture("tiny-gemma1-f32.gguf"))) {
            c = b.config();
        }
        for (KvCacheType kv : KvCacheType.values()) {
            try (CudaEngine gpu = CudaEngine.open(fixture("tiny-gemma1-f32.gguf"),
                    new EngineOptions("cuda", 0, 1, null, kv == KvCacheType.F16 ? null : kv), SMALL, host(new HostCuda()))) {
                int bytesPerValue = kv == KvCacheType.F16 ? 2 : 4;
                long perToken = 2L * c.layers() * c.kvHeads() * c.headDim() * bytesPerValue;
                assertEquals(perToken, gpu.info().kvBytesPerToken(), kv.toString());
                Engine.KvCache cache = gpu.newKvCache(64);
                gpu.step(List.of(new Engine.Step(cache, new int[] {3, 4, 5}, false)));
                assertEquals(64 * perToken, cache.bytes(), kv.toString());
            }
        }
    }

    @Test
    void droppedKvCachesAreFreedAtALaterCall() throws Exception {
        HostCuda d = new HostCuda();
        try (CudaEngine gpu = CudaEngine.open(fixture("tiny-gemma2-f32.gguf"), new EngineOptions("cuda", 0, 1, null),
                SMALL, host(d))) {
            int base = d.allocations();
            for (int i = 0; i < 50; i++) {
                Engine.KvCache c = gpu.newKvCache(64);
                gpu.step(List.of(new Engine.Step(c, new int[] {1, 2, 3}, true)));
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (d.allocations() > base + 10 && System.nanoTime() < deadline) {
                System.gc();
                Thread.sleep(20);
                gpu.newKvCache(1); // drains the releases the cleaner queued
            }
            assertTrue(d.allocations() <= base + 10, "dropped caches still hold device memory: "
                    + (d.allocations() - base) + " allocations");
        }
    }

    @Test
    void closeFreesWeightsWorkspaceAndLayouts() throws Exception {
        HostCuda d = new HostCuda();
        CudaEngine gpu = CudaEngine.open(fixture("tiny-gemma3-q8_0.gguf"), new EngineOptions("cuda", 0, 2, null), SMALL,
                host(d));
        assertTrue(d.allocations() > 100, "weights uploaded tensor by tensor: " + d.allocations());
        gpu.close();
        assertEquals(0, d.allocations());
    }

    @Test
    void aSyntheticBf16ModelRunsTheBf16KernelsAndDecodesTheSameAtTp1AndTp2OnlyWhereItShould() throws Exception {
        // a small gemma-2 shape: BF16 weights made by the fill kernels, decoded through the seam
        int layers = 2;
        boolean[] local = {true, false};
        GemmaConfig c = new GemmaConfig(Architecture.GEMMA2, 64, layers, 4, 2, 32, 128, 100, 256, 1e-6f, 10000f, 10000f, 1f,
                32f, 50f, 30f, 4, local, true, false, 8f, false);
        List<float[]> first;
        try (CudaEngine e = CudaEngine.synthetic("synthetic", c, 1, SMALL, 9, host(new HostCuda()))) {
            assertTrue(io.gemmaserving.runtime.engine.cuda.check.DecodeBench.tokensPerSecond(e, 3, 20, 2, 3, 1) > 0);
            first = LogitComparison.scenario(e, 40, 3);
            for (float[] row : first) {
                for (float v : row) {
                    assertTrue(Float.isFinite(v) && Math.abs(v) <= 30f, "final soft-cap 30 bounds every logit: " + v);
                }
            }
        }
        try (CudaEngine e = CudaEngine.synthetic("synthetic", c, 1, SMALL, 9, host(new HostCuda()))) {
            assertEquals(0.0, LogitComparison.compare(first, LogitComparison.scenario(e, 40, 3)).maxAbsDiff(),
                    "the same seed makes the same model");
        }
        try (CudaEngine e = CudaEngine.synthetic("synthetic", c, 2, SMALL, 9, host(new HostCuda()))) {
            // each rank fills its own shard from the seed, so TP=2 is another random model: it runs, it differs
            LogitComparison.Result r = LogitComparison.compare(first, LogitComparison.scenario(e, 40, 3));
            assertTrue(r.maxAbsDiff() > 0 && Double.isFinite(r.maxAbsDiff()), r.describe());
        }
    }

    @Test
    void badStepsAreRefusedInOneLine() throws Exception {
        HostCuda d = new HostCuda();
        try (CudaEngine gpu = CudaEngine.open(fixture("tiny-gemma2-f32.gguf"), new EngineOptions("cuda", 0, 1, null),
                SMALL, host(d))) {
            Engine.KvCache c = gpu.newKvCache(8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gpu.step(List.of(new Engine.Step(c, new int[] {100000}, true))));
            assertEquals("step 0: token id 100000 is outside the vocabulary [0, 313)", e.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> gpu.step(List.of(new Engine.Step(c, new int[9], true))), "over capacity");
            assertThrows(IllegalArgumentException.class,
                    () -> gpu.step(List.of(new Engine.Step(c, new int[1], true), new Engine.Step(c, new int[1], true))));
        }
    }
}
