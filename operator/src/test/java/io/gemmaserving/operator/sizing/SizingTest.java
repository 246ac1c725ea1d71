package io.gemmaserving.operator.sizing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gemmaserving.operator.api.Quantization;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The memory arithmetic, each expectation worked out by hand from the config.json numbers in the comments. */
@Tag("unit")
class SizingTest {

    static final long GIB = 1L << 30;
    static final long OVERHEAD = 1536L << 20;

    ModelShape shape(String variant) {
        return GemmaCatalog.lookup(variant).orElseThrow();
    }

    @Test
    void gemma2_9b_bf16_8k_context_fits_one_80GB_gpu() {
        ModelShape s = shape("gemma-2-9b-it");
        long weights = 9_241_705_984L * 2;
        // 42 layers, alternating: 21 global keep 8192 tokens, 21 local keep their 4096 window; 8 KV heads x 256 x K,V
        // x 2 B (f16 K and V)
        long kvPerSequence = (21L * 8192 + 21L * 4096) * 8 * 256 * 2 * 2;
        var model = new Sizing.Model(s, weights, 8192, 8);
        var plan = Sizing.gpu(model, GpuProducts.memoryBytes("NVIDIA-H100-80GB-HBM3").orElseThrow(), 0.9, null);
        assertTrue(plan.fits(), plan.message());
        assertEquals(1, plan.tensorParallelSize());
        assertEquals(weights + 8 * kvPerSequence + OVERHEAD, plan.bytesPerDevice()); // ~34.5 GiB of ~71.7 usable
    }

    @Test
    void gemma2_27b_bf16_on_40GB_gpus_needs_tp2() {
        ModelShape s = shape("gemma-2-27b");
        long weights = 27_227_128_320L * 2;
        long kv = 4 * (23L * 8192 + 23L * 4096) * 16 * 128 * 2 * 2;
        long usable = (long) (40L * GIB * 0.9);
        assertTrue(weights + kv + OVERHEAD > usable);             // 60.8 GiB > 36 GiB at TP=1
        assertTrue((weights + kv) / 2 + OVERHEAD <= usable);      // 31.2 GiB at TP=2
        var plan = Sizing.gpu(new Sizing.Model(s, weights, 8192, 4),
                GpuProducts.memoryBytes("NVIDIA-A100-SXM4-40GB").orElseThrow(), 0.9, null);
        assertTrue(plan.fits(), plan.message());
        assertEquals(2, plan.tensorParallelSize());
    }

    @Test
    void gemma3_27b_with_128k_context_on_t4_fits_nowhere_and_says_what_would() {
        ModelShape s = shape("gemma-3-27b");
        var model = new Sizing.Model(s, (long) (s.parameters() * Quantization.bf16.bytesPerParameter()), 131072, 8);
        long t4 = GpuProducts.memoryBytes("Tesla-T4").orElseThrow();
        var plan = Sizing.gpu(model, t4, 0.9, null);
        assertFalse(plan.fits());
        assertTrue(plan.message().startsWith("needs "), plan.message());
        assertTrue(plan.message().contains("at TP=8 (the largest the heads allow)"), plan.message());
        // the context it suggests fits at TP=8, 128 more tokens do not
        int suggested = Sizing.largestFittingContext(model, 8, (long) (t4 * 0.9));
        assertTrue(plan.message().contains("serving.maxContextLength <= " + suggested), plan.message());
        assertTrue(suggested >= 128 && suggested < 131072);
        assertTrue(Sizing.bytesPerDevice(new Sizing.Model(s, model.weightBytes(), suggested, 8), 8) <= (long) (t4 * 0.9));
        assertTrue(Sizing.bytesPerDevice(new Sizing.Model(s, model.weightBytes(), suggested + 128, 8), 8) > (long) (t4 * 0.9));
    }

    @Test
    void tensor_parallel_size_must_divide_the_kv_heads() {
        var oneKvHead = new Sizing.Model(shape("gemma-3-1b"), 2_000_000_000L, 4096, 1);
        assertEquals(List.of(1), Sizing.allowedTensorParallelSizes(oneKvHead));
        assertEquals(List.of(1, 2, 4, 8), Sizing.allowedTensorParallelSizes(new Sizing.Model(shape("gemma-2-9b"), 1, 4096, 1)));
        var fixed = Sizing.gpu(oneKvHead, 24 * GIB, 0.9, 2);
        assertFalse(fixed.fits());
        assertTrue(fixed.message().contains("does not divide"), fixed.message());
    }

    @Test
    void sliding_window_layers_keep_only_their_window() {
        ModelShape g3 = shape("gemma-3-1b"); // 26 layers: 5 local then 1 global -> globals are layers 5, 11, 17, 23
        assertEquals(4, g3.globalLayers());
        assertEquals(22, g3.localLayers());
        assertEquals((4L * 32768 + 22L * 512) * 1 * 256 * 2 * 2, g3.kvBytesPerSequence(32768, 2.0));
        ModelShape g2 = shape("gemma-2-9b"); // context inside the window: every layer keeps all of it
        assertEquals(42L * 2048 * 8 * 256 * 2 * 2, g2.kvBytesPerSequence(2048, 2.0));
        ModelShape g1 = shape("gemma-7b");   // no sliding window
        assertEquals(28, g1.globalLayers());
    }

    @Test
    void cpu_pods_get_the_whole_model_kv_and_jvm() {
        ModelShape s = shape("gemma-3-270m-it");
        long weights = (long) Math.ceil(s.parameters() * 4.89 / 8);
        var model = new Sizing.Model(s, weights, 4096, 4);
        long kv = 4 * (3L * 4096 + 15L * 512) * 1 * 256 * 2 * 2; // 18 layers: 3 global, 15 local; f16 K and V
        assertEquals(weights + kv + (1024L << 20), Sizing.cpuBytes(model));
    }

    @Test
    void gpu_products_by_their_feature_discovery_label() {
        assertEquals(46_068L << 20, GpuProducts.memoryBytes("NVIDIA-L40S").orElseThrow());
        assertEquals(23_034L << 20, GpuProducts.memoryBytes("NVIDIA-L4").orElseThrow());
        assertEquals(81_920L << 20, GpuProducts.memoryBytes("NVIDIA-A100-SXM4-80GB").orElseThrow());
        assertEquals(143_771L << 20, GpuProducts.memoryBytes("NVIDIA-H200").orElseThrow());
        assertTrue(GpuProducts.memoryBytes("AMD-MI300X").isEmpty());
        assertTrue(GemmaCatalog.lookup("google/gemma-2-2b-it").isPresent());
        assertTrue(GemmaCatalog.lookup("llama-3-8b").isEmpty());
    }
}
