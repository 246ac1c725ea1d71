package io.gemmaserving.runtime.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every format: the vector dot agrees with the scalar reference, and the scalar reference agrees with
 * dequantizeRow followed by a double-precision dot. Tolerance: 2e-5 of sum |w_i x_i| (float accumulation in a
 * different order over up to 768 terms).
 */
@Tag("unit")
class KernelTest {

    static final double REL_TOL = 2e-5;

    static java.util.List<TensorType> types() {
        return TestData.SUPPORTED;
    }

    @ParameterizedTest
    @MethodSource("types")
    void vectorDotMatchesScalar(TensorType type) {
        Random rnd = new Random(42 + type.ordinal());
        int cols = TestData.cols(type);
        int rows = 9;
        WeightTensor w = TestData.randomTensor(type, rows, cols, rnd);
        float[] x = TestData.randomVector(cols + 5, rnd);
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int xOff : new int[] {0, 5}) {
                double scale = TestData.absDot(w, r, x, xOff);
                assertTrue(scale > 0 && Double.isFinite(scale), "row " + r + " is all zeros or not finite");
                float s = w.dotScalar(r, x, xOff);
                float v = w.dotVector(r, x, xOff);
                assertEquals(s, v, REL_TOL * scale, type + " row " + r + " xOff " + xOff);
                w.dequantizeRow(r, row, 0);
                double exact = 0;
                for (int i = 0; i < cols; i++) {
                    exact += (double) row[i] * x[xOff + i];
                }
                assertEquals(exact, s, REL_TOL * scale, type + " scalar vs dequantizeRow, row " + r);
            }
        }
    }

    @Test
    void rejectsBadShapes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tensors.of("w", TensorType.Q4_K, 2, 100, TestData.segment(new byte[1000])));
        assertEquals("tensor w: shape 2 x 100 is not a positive whole number of Q4_K blocks of 256", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Tensors.of("w", TensorType.Q8_0, 2, 64, TestData.segment(new byte[100])));
        assertEquals("tensor w: 2 x 64 Q8_0 needs 136 bytes, segment has 100", e.getMessage());
        UnsupportedOperationException u = assertThrows(UnsupportedOperationException.class,
                () -> Tensors.of("w", TensorType.Q8_1, 1, 32, TestData.segment(new byte[36])));
        assertEquals("tensor w has type Q8_1, which this engine cannot compute with", u.getMessage());
    }
}
