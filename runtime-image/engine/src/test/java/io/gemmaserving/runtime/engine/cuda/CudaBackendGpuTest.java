package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.tensor.Tensors;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * On a real GPU: the CUDA matmul agrees with the scalar reference ({@link WeightTensor#dotScalar}), and TP=2 agrees
 * with TP=1. Skips with the availability reason where there is no GPU (never run on GPU hardware so far).
 */
class CudaBackendGpuTest {

    @BeforeEach
    void needsGpu() {
        Cuda.Availability a = Cuda.availability();
        assumeTrue(a.available(), "no GPU: " + a.message());
    }

    private static WeightTensor q8Weights(Arena arena, String name, int rows, int cols, long seed) {
        // Q8_0 blocks: f16 scale 0.01 (0x211F) then 32 int8 quants.
        Random rnd = new Random(seed);
        int blocks = rows * cols / 32;
        MemorySegment data = arena.allocate((long) blocks * 34);
        for (int b = 0; b < blocks; b++) {
            data.set(ValueLayout.JAVA_SHORT_UNALIGNED, b * 34L, (short) 0x211F);
            for (int j = 0; j < 32; j++) {
                data.set(ValueLayout.JAVA_BYTE, b * 34L + 2 + j, (byte) (rnd.nextInt(255) - 127));
            }
        }
        return Tensors.of(name, TensorType.Q8_0, rows, cols, data);
    }

    @Test
    void matmulMatchesTheScalarReferenceAndTp2MatchesTp1() {
        int rows = 512, cols = 1024, batch = 11;
        try (Arena arena = Arena.ofConfined()) {
            WeightTensor w = q8Weights(arena, "blk.0.ffn_down.weight", rows, cols, 3);
            float[] x = new float[batch * cols];
            Random rnd = new Random(4);
            for (int i = 0; i < x.length; i++) x[i] = rnd.nextFloat() - 0.5f;
            float[] ref = new float[batch * rows];
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rows; r++) ref[b * rows + r] = w.dotScalar(r, x, b * cols);
            }
            float[] one = new float[batch * rows];
            try (CudaBackend cuda = CudaBackend.open(1)) {
                cuda.matmul(w, x, one, batch);
            }
            for (int i = 0; i < ref.length; i++) assertEquals(ref[i], one[i], 1e-3f + 1e-4f * Math.abs(ref[i]), "at " + i);
            assumeTrue(Cuda.availability().deviceCount() >= 2, "TP=2 needs 2 GPUs");
            float[] two = new float[batch * rows];
            try (CudaBackend cuda = CudaBackend.open(2)) {
                cuda.matmul(w, x, two, batch);
            }
            for (int i = 0; i < ref.length; i++) assertEquals(one[i], two[i], 1e-3f, "TP=2 at " + i);
        }
    }
}
