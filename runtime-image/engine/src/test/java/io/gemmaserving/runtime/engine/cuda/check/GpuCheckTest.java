package io.gemmaserving.runtime.engine.cuda.check;

import io.gemmaserving.runtime.engine.cuda.CudaEngine;
import io.gemmaserving.runtime.engine.model.GemmaConfig;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The figures the GPU check prints, computed without a GPU. */
@Tag("unit")
class GpuCheckTest {

    @Test
    void theNineBShapeReadsAbout18point5GbPerToken() {
        GemmaConfig c = GpuCheck.gemma2_9b();
        // embedding 256000 x 3584 + 42 x 3584 x (2 x 4096 + 2 x 2048 + 3 x 14336), 2 bytes each
        long want = 2L * (256000L * 3584 + 42L * 3584 * (2 * 4096 + 2 * 2048 + 3 * 14336));
        assertEquals(want, CudaEngine.bf16Bytes(c));
        assertTrue(Math.abs(want / 1e9 - 18.5) < 0.1, want / 1e9 + " GB");
        assertTrue(c.isLocal(0) && !c.isLocal(1), "even layers slide");
    }

    @Test
    void peakBandwidthIsTwoTransfersPerClockOverTheBus() {
        // H100 SXM: 2619 MHz memory clock, 5120-bit bus -> 3.35 TB/s
        assertEquals(3.352e12, Bandwidth.peak(2_619_000, 5120), 1e9);
    }
}
