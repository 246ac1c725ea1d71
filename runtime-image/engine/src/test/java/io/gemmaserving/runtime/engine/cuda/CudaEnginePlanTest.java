package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.KvCacheType;

import io.gemmaserving.runtime.engine.model.GemmaConfig;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The memory plan the CUDA engine checks before it uploads anything, for the gemma-2-9b shape. */
@Tag("unit")
class CudaEnginePlanTest {

    static GemmaConfig nineB() {
        return io.gemmaserving.runtime.engine.cuda.check.GpuCheckAccess.gemma2_9b();
    }

    @Test
    void theNineBFitsAnH100AloneAndNotA16GbCardAndSplitsTwoWays() {
        GemmaConfig c = nineB();
        List<DeviceMemoryPlan.TensorSpec> specs = CudaEngine.tensorSpecs(c, null);
        DeviceMemoryPlan.Limits limits = new DeviceMemoryPlan.Limits(8192, 1, 512, 512);
        DeviceMemoryPlan one = DeviceMemoryPlan.of(CudaEngine.dims(c), ShardingPlan.of(CudaEngine.dims(c), 1), specs, limits, KvCacheType.F16, 0);
        // weights: the bf16 bytes plus the norms (4 x hidden f32 per layer)
        assertEquals(CudaEngine.bf16Bytes(c) + 42L * 4 * 3584 * 4, one.weightBytes(), 42 * 256.0 * 9);
        assertTrue(one.fits(80L << 30, 0.9), one.describe());
        assertFalse(one.fits(16L << 30, 0.9), one.describe());
        DeviceMemoryPlan half = DeviceMemoryPlan.of(CudaEngine.dims(c), ShardingPlan.of(CudaEngine.dims(c), 2), specs, limits, KvCacheType.F16, 1);
        long embedding = 2L * 256000 * 3584;
        assertEquals((one.weightBytes() - embedding - 42L * 4 * 3584 * 4) / 2.0,
                half.weightBytes() - embedding - 42L * 4 * 3584 * 4, 42 * 256.0 * 9);
        // the sliding-window layers (even ones) keep a ring of 4096 + 511 + 32 slots, the others 8192
        assertEquals(4096 + 511 + DeviceMemoryPlan.SPARE_SLOTS, one.kvCapacity(0));
        assertEquals(8192, one.kvCapacity(1));
    }
}
