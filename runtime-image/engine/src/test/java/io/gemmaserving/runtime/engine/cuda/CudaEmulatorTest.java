package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Args;
import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Dim;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.floats;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.ints;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.nans;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.toFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The CUDA emulation the kernel tests run on (cuda_emu.h) does what CUDA does where the kernels depend on it
 * (shuffles, barriers, shared memory per block, atomics, the built-in indices), and refuses what CUDA leaves
 * undefined, so that a kernel test cannot pass because the emulation is lenient.
 */
@Tag("unit")
class CudaEmulatorTest {

    private CudaEmulator emu;

    @BeforeEach
    void emulator() {
        emu = CudaEmulator.get();
        assumeTrue(emu != null, "CUDA emulation unavailable: " + CudaEmulator.unavailable());
    }

    @Test
    void shufflesReadTheLaneCudaDefines() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = ints(a, new int[64 * 5]);
            emu.launch("shuffles", Dim.of(1), Dim.of(64), new Args().ptr(out));
            int[] got = out.toArray(ValueLayout.JAVA_INT);
            for (int t = 0; t < 64; t++) {
                int lane = t & 31, base = t - lane;
                int[] want = {base + (lane ^ 1), base + (lane ^ 16), base + (lane + 3 < 32 ? lane + 3 : lane),
                    base + (lane >= 5 ? lane - 5 : lane), base + 7};
                for (int k = 0; k < 5; k++) {
                    assertEquals(want[k], got[t * 5 + k], "thread " + t + " shuffle " + k);
                }
            }
        }
    }

    @Test
    void blocksReduceThroughSharedMemoryAndAtomicsCountEveryThread() {
        int blocks = 3;
        float[] x = new float[blocks * 256];
        for (int i = 0; i < x.length; i++) {
            x[i] = i % 7 - 3; // small integers: every partial sum is exact, so the tree order does not matter
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = nans(a, blocks);
            MemorySegment count = ints(a, 0);
            emu.launch("block_sum", Dim.of(blocks), Dim.of(256), new Args().ptr(floats(a, x)).ptr(out).ptr(count));
            float[] want = new float[blocks];
            for (int i = 0; i < x.length; i++) {
                want[i / 256] += x[i];
            }
            assertArrayEquals(want, toFloats(out, blocks));
            assertEquals(blocks * 256, count.get(ValueLayout.JAVA_INT, 0));
        }
    }

    @Test
    void aBarrierAfterSomeThreadsReturnedIsAnError() {
        try (Arena a = Arena.ofConfined()) {
            String e = emu.tryLaunch("sync_after_return", Dim.of(1), Dim.of(32), new Args().ptr(nans(a, 32)));
            assertTrue(e.contains("__syncthreads reached while other threads of the block have returned"), e);
        }
    }

    @Test
    void threadsThatMeetAtDifferentOperationsAreAnError() {
        try (Arena a = Arena.ofConfined()) {
            String e = emu.tryLaunch("diverged_barrier", Dim.of(1), Dim.of(32), new Args().ptr(nans(a, 32)));
            assertTrue(e.startsWith("block (0,0,0): threads stuck"), e);
            assertTrue(e.endsWith(" t0-15=__syncthreads t16-31=__shfl_xor_sync"), e);
        }
    }

    @Test
    void sharedMemoryStartsPoisonedInEveryBlock() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = nans(a, 128);
            emu.launch("read_shared_unwritten", Dim.of(2), Dim.of(64), new Args().ptr(out));
            float[] got = toFloats(out, 128);
            for (int t = 0; t < 64; t++) {
                assertEquals(t, got[t], "block 0 wrote every slot");
                if (t < 32) {
                    assertEquals(t, got[64 + t], "block 1 wrote slot " + t);
                } else {
                    assertTrue(Float.isNaN(got[64 + t]), "block 1 slot " + t + " must not hold block 0's value");
                }
            }
        }
    }

    @Test
    void aMissingBarrierShowsAsUnwrittenValues() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = nans(a, 64);
            emu.launch("missing_barrier", Dim.of(1), Dim.of(64), new Args().ptr(out));
            int poisoned = 0;
            for (float v : toFloats(out, 64)) {
                poisoned += Float.isNaN(v) ? 1 : 0;
            }
            // threads t and 63 - t read each other's slot: whichever of the two runs first sees it unwritten
            assertEquals(32, poisoned, "reads that saw an unwritten slot");
        }
    }

    @Test
    void argumentsMustMatchTheKernelsParameters() {
        assertEquals("ppp", emu.signature("block_sum"));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = nans(a, 3);
            AssertionError e = assertThrows(AssertionError.class,
                    () -> emu.launch("block_sum", Dim.of(1), Dim.of(256), new Args().ptr(out).ptr(out).i32(0)));
            assertTrue(e.getMessage().contains("arguments do not match"), e.getMessage());
        }
    }
}
