package io.gemmaserving.runtime.engine.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The repacked layouts against the scalar reference of the mapped tensor they were made from: single-row dots,
 * {@code dotRows} over ranges that start and end inside a row group, batches of several activation rows, and row
 * counts that are not a whole number of groups (the padding must not leak into the results). Tolerance as
 * {@link KernelTest}: 2e-5 of sum |w_i x_i| (float accumulation in another order).
 */
@Tag("unit")
class RepackTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 4, 9, 14})
    void q8_0x4MatchesScalarReference(int rows) {
        Random rnd = new Random(7 + rows);
        int cols = 96;
        WeightTensor src = TestData.randomTensor(TensorType.Q8_0, rows, cols, rnd);
        WeightTensor packed = Repack.forVector(src);
        if (!Simd.QUANT_OK) {
            assertSame(src, packed, "no repack without a vector species for the quantized kernels");
            return;
        }
        assertInstanceOf(Q8_0x4Tensor.class, packed);
        int batch = 3;
        float[] x = TestData.randomVector(batch * cols, rnd);
        for (int r = 0; r < rows; r++) {
            double scale = TestData.absDot(src, r, x, 0);
            assertEquals(src.dotScalar(r, x, 0), packed.dotVector(r, x, 0), KernelTest.REL_TOL * scale, "row " + r);
            float[] a = new float[cols], b = new float[cols];
            src.dequantizeRow(r, a, 0);
            packed.dequantizeRow(r, b, 0);
            org.junit.jupiter.api.Assertions.assertArrayEquals(a, b, "dequantized row " + r);
        }
        for (int r0 = 0; r0 < rows; r0++) {
            for (int r1 = r0 + 1; r1 <= rows; r1++) {
                float[] out = new float[batch * rows];
                java.util.Arrays.fill(out, Float.NaN);
                ((AbstractTensor) packed).dotRows(x, out, batch, r0, r1);
                for (int b = 0; b < batch; b++) {
                    for (int r = 0; r < rows; r++) {
                        float got = out[b * rows + r];
                        if (r < r0 || r >= r1) {
                            assertEquals(Float.NaN, got, "row " + r + " outside [" + r0 + ", " + r1 + ") written");
                        } else {
                            double scale = TestData.absDot(src, r, x, b * cols);
                            assertEquals(src.dotScalar(r, x, b * cols), got, KernelTest.REL_TOL * scale,
                                    "rows [" + r0 + ", " + r1 + ") batch row " + b + " row " + r);
                        }
                    }
                }
            }
        }
    }
}
