package io.gemmaserving.runtime.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.gemmaserving.runtime.engine.backend.GgmlRoundingBackend;
import io.gemmaserving.runtime.engine.backend.ScalarBackend;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** llama.cpp's activation rounding, checked on hand-worked blocks and, through a Q8_0 product, against integer dots. */
@Tag("unit")
class GgmlActivationsTest {

    @Test
    void vecDotTypesAreGgmls() {
        // ggml-cpu's type_traits_cpu[...].vec_dot_type for the weight types we read.
        assertEquals(TensorType.Q8_0, GgmlActivations.vecDotType(TensorType.Q4_0));
        assertEquals(TensorType.Q8_0, GgmlActivations.vecDotType(TensorType.Q5_0));
        assertEquals(TensorType.Q8_0, GgmlActivations.vecDotType(TensorType.Q8_0));
        assertEquals(TensorType.Q8_0, GgmlActivations.vecDotType(TensorType.IQ4_NL));
        assertEquals(TensorType.Q8_1, GgmlActivations.vecDotType(TensorType.Q4_1));
        assertEquals(TensorType.Q8_1, GgmlActivations.vecDotType(TensorType.Q5_1));
        for (TensorType k : new TensorType[] {TensorType.Q2_K, TensorType.Q3_K, TensorType.Q4_K, TensorType.Q5_K,
                TensorType.Q6_K, TensorType.IQ3_S}) {
            assertEquals(TensorType.Q8_K, GgmlActivations.vecDotType(k), k.name());
        }
        assertEquals(TensorType.F16, GgmlActivations.vecDotType(TensorType.F16));
        assertEquals(TensorType.BF16, GgmlActivations.vecDotType(TensorType.BF16));
        assertEquals(TensorType.F32, GgmlActivations.vecDotType(TensorType.F32));
    }

    @Test
    void q8_0RoundsHalfToEvenOnScaleAmaxOver127() {
        float[] x = new float[32];
        x[0] = 127f; // amax 127: d = 1 (exact in fp16), id = 1
        x[1] = 2.5f;
        x[2] = 3.5f;
        x[3] = -2.5f;
        x[4] = 0.49f;
        float[] out = new float[32];
        GgmlActivations.round(TensorType.Q5_0, x, 0, out, 0, 32);
        assertArrayEquals(new float[] {127f, 2f, 4f, -2f, 0f}, java.util.Arrays.copyOf(out, 5));

        // amax 1: d = 1/127 stored as fp16, values round(x * 127) scaled by that fp16 d.
        float[] y = new float[32];
        y[5] = -1f;
        y[6] = 0.5f;
        GgmlActivations.round(TensorType.Q8_0, y, 0, out, 0, 32);
        float d = Float.float16ToFloat(Float.floatToFloat16(1f / 127f));
        assertEquals(-127 * d, out[5]);
        assertEquals(64 * d, out[6]); // 63.5 -> 64 (even)
        assertEquals(0f, out[0]);
    }

    @Test
    void q8_KScalesBySignedMaximumAndKeepsScaleInFloat() {
        float[] x = new float[256];
        x[10] = -127f; // the largest magnitude is negative: iscale = -127 / -127 = 1, d = 1
        x[11] = 2.5f;
        x[12] = 100.4f;
        float[] out = new float[256];
        GgmlActivations.round(TensorType.Q4_K, x, 0, out, 0, 256);
        assertEquals(-127f, out[10]);
        assertEquals(2f, out[11]);
        assertEquals(100f, out[12]);

        x[10] = 127f; // positive maximum: iscale = -1, d = -1; -2.5 rounds to -2 and back to 2
        GgmlActivations.round(TensorType.Q6_K, x, 0, out, 0, 256);
        assertEquals(127f, out[10]);
        assertEquals(2f, out[11]);

        float[] zeros = new float[512];
        java.util.Arrays.fill(out, 1f);
        float[] out2 = new float[512];
        GgmlActivations.round(TensorType.Q4_K, zeros, 0, out2, 0, 512);
        assertArrayEquals(new float[512], out2);
    }

    @Test
    void halfAndBrainFloatAreRoundedToNearestEven() {
        float[] x = {1f + 0x1p-11f, 1f + 0x1p-8f + 0x1p-9f, Float.NaN, -3.14159f};
        float[] out = new float[4];
        GgmlActivations.round(TensorType.F16, x, 0, out, 0, 4);
        assertEquals(1f, out[0]); // halfway to the next fp16: to even
        GgmlActivations.round(TensorType.BF16, x, 0, out, 0, 4);
        assertEquals(1f + 0x1p-7f, out[1]); // 1 + 0.75 ulp of bf16 -> 1 + 1 ulp
        assertEquals(Float.NaN, out[2]);
        assertEquals(-3.140625f, out[3]);
    }

    /**
     * A Q8_0 weight matrix through {@link GgmlRoundingBackend}: each output equals ggml's {@code vec_dot_q8_0_q8_0},
     * re-stated here in integers: per block {@code d_w * d_x * sum(q_w * q_x)}, with {@code q_x, d_x} from ggml's
     * quantization of x, summed over blocks.
     */
    @Test
    void q8_0ProductEqualsIntegerDotOfQuantizedActivations() {
        Random rnd = new Random(7);
        int rows = 9, cols = 32 * 5;
        byte[] bytes = TestData.randomBytes(TensorType.Q8_0, rows, cols, rnd);
        MemorySegment seg = TestData.segment(bytes);
        WeightTensor w = Tensors.of("w", TensorType.Q8_0, rows, cols, seg);
        float[] x = TestData.randomVector(cols, rnd);
        float[] out = new float[rows];
        try (GgmlRoundingBackend b = new GgmlRoundingBackend(new ScalarBackend())) {
            b.matmul(w, x, out, 1);
        }
        for (int r = 0; r < rows; r++) {
            double want = 0;
            for (int blk = 0; blk < cols / 32; blk++) {
                float amax = 0;
                for (int i = 0; i < 32; i++) {
                    amax = Math.max(amax, Math.abs(x[blk * 32 + i]));
                }
                float dx = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
                long bo = (long) (r * (cols / 32) + blk) * 34;
                float dw = Float.float16ToFloat(seg.get(ValueLayout.JAVA_SHORT_UNALIGNED, bo));
                int sum = 0;
                for (int i = 0; i < 32; i++) {
                    int qx = (int) Math.rint(x[blk * 32 + i] * (127f / amax));
                    sum += seg.get(ValueLayout.JAVA_BYTE, bo + 2 + i) * qx;
                }
                want += (double) dw * dx * sum;
            }
            assertEquals(want, out[r], 1e-5 * Math.max(1, Math.abs(want)), "row " + r);
        }
    }
}
