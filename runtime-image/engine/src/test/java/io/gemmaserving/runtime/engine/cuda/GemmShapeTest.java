package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.cuda.bindings.Cublas;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

@Tag("unit")
class GemmShapeTest {

    /** A column-major reference GEMM with cuBLAS's exact argument semantics, in plain Java. */
    static void gemmColumnMajor(GemmShape s, float[] a, float[] b, float[] c) {
        for (int j = 0; j < s.n(); j++) {
            for (int i = 0; i < s.m(); i++) {
                float acc = 0;
                for (int p = 0; p < s.k(); p++) {
                    float av = s.transA() == Cublas.OP_N ? a[i + p * s.lda()] : a[p + i * s.lda()];
                    float bv = s.transB() == Cublas.OP_N ? b[p + j * s.ldb()] : b[j + p * s.ldb()];
                    acc += av * bv;
                }
                c[i + j * s.ldc()] = acc;
            }
        }
    }

    @Test
    void theColumnMajorCallComputesOurRowMajorMatmul() {
        int rows = 5, cols = 7, batch = 3;
        Random rnd = new Random(1);
        float[] w = new float[rows * cols];
        float[] x = new float[batch * cols];
        for (int i = 0; i < w.length; i++) w[i] = rnd.nextFloat();
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextFloat();
        float[] expected = new float[batch * rows];
        for (int b = 0; b < batch; b++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    expected[b * rows + r] += w[r * cols + c] * x[b * cols + c];
                }
            }
        }
        GemmShape s = GemmShape.forMatmul(rows, cols, batch);
        assertEquals(new GemmShape(Cublas.OP_T, Cublas.OP_N, 5, 3, 7, 7, 7, 5), s);
        float[] out = new float[batch * rows];
        gemmColumnMajor(s, w, x, out);
        assertArrayEquals(expected, out, 1e-5f);
    }
}
