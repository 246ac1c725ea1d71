package io.gemmaserving.runtime.engine.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.TestData;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ScalarBackend (the reference) against VectorBackend with 2 threads, for every format, batch 1 (fused dots),
 * 2 (fused, several tokens) and 5 (dequantized tiles, 2x4 kernel plus remainders). 301 rows: enough work to run
 * in parallel, and a ragged last tile; the same with {@link io.gemmaserving.runtime.engine.tensor.RowLoops}' shared
 * row loop in place of each format's own. Tolerance: 2e-5 of sum |w_i x_i| for each output. Also attention's dot and
 * axpy.
 */
@Tag("unit")
class BackendTest {

    static final double REL_TOL = 2e-5;
    static ScalarBackend scalar;
    static VectorBackend vector;
    /** The same backend running RowLoops' one loop for every format (what RowLoopBench times against it). */
    static VectorBackend vectorSharedLoop;

    @BeforeAll
    static void start() {
        scalar = new ScalarBackend();
        vector = new VectorBackend(2);
        vectorSharedLoop = new VectorBackend(2, true);
    }

    @AfterAll
    static void stop() {
        vector.close();
        vectorSharedLoop.close();
    }

    static List<TensorType> types() {
        return TestData.SUPPORTED;
    }

    @ParameterizedTest
    @MethodSource("types")
    void vectorMatchesScalar(TensorType type) {
        matchesScalar(vector, type);
    }

    @ParameterizedTest
    @MethodSource("types")
    void sharedRowLoopMatchesScalar(TensorType type) {
        matchesScalar(vectorSharedLoop, type);
    }

    private static void matchesScalar(VectorBackend vector, TensorType type) {
        Random rnd = new Random(1000 + type.ordinal());
        int rows = 301, cols = TestData.cols(type);
        WeightTensor w = TestData.randomTensor(type, rows, cols, rnd);
        for (int batch : new int[] {1, 2, 5, 9}) {
            float[] x = TestData.randomVector(batch * cols, rnd);
            float[] expected = new float[batch * rows];
            float[] actual = new float[batch * rows];
            scalar.matmul(w, x, expected, batch);
            vector.matmul(w, x, actual, batch);
            for (int b = 0; b < batch; b++) {
                for (int r = 0; r < rows; r++) {
                    double tol = REL_TOL * TestData.absDot(w, r, x, b * cols);
                    assertEquals(expected[b * rows + r], actual[b * rows + r], tol,
                            type + " batch " + batch + " b " + b + " row " + r);
                }
            }
        }
    }

    /**
     * Attention's kernels: VectorBackend's dot and axpy against the scalar reference (the Backend defaults), at
     * offsets and at lengths that are and are not whole vectors (256 = Gemma's head_dim). Tolerance: 2e-6 of
     * sum |a_i b_i| for dot (different summation order); for axpy, fma rounds once where the reference rounds twice.
     */
    @Test
    void attentionKernelsMatchScalar() {
        Random rnd = new Random(7);
        for (int n : new int[] {1, 7, 16, 100, 256, 257}) {
            float[] a = TestData.randomVector(n + 5, rnd);
            float[] b = TestData.randomVector(n + 3, rnd);
            double abs = 0;
            for (int i = 0; i < n; i++) {
                abs += Math.abs(a[2 + i] * b[1 + i]);
            }
            assertEquals(scalar.dot(a, 2, b, 1, n), vector.dot(a, 2, b, 1, n), 2e-6 * abs, "dot n=" + n);

            float alpha = rnd.nextFloat() - 0.5f;
            float[] y = TestData.randomVector(n + 6, rnd);
            float[] expected = y.clone();
            float[] actual = y.clone();
            scalar.axpy(alpha, a, 3, expected, 4, n);
            vector.axpy(alpha, a, 3, actual, 4, n);
            for (int i = 0; i < y.length; i++) {
                boolean inside = i >= 4 && i < 4 + n;
                double tol = inside ? 1e-6 * (Math.abs(y[i]) + Math.abs(alpha * a[i - 1])) : 0;
                assertEquals(expected[i], actual[i], tol, "axpy n=" + n + " i=" + i);
                if (!inside) {
                    assertEquals(y[i], actual[i], 0, "axpy wrote outside its range, n=" + n + " i=" + i);
                }
            }
        }
    }

    /**
     * The f16 KV cache's kernels: {@code halves} widens every finite half exactly (all 63488 of them, subnormals and
     * signed zeros included), and the vector dotF16/axpyF16 match the scalar reference at lengths that are and are
     * not whole vectors, at offsets. Tolerances as for dot and axpy above (summation order, fma).
     */
    @Test
    void f16AttentionKernelsMatchScalar() {
        short[] all = new short[1 << 16];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        for (int i = 0; i + io.gemmaserving.runtime.engine.tensor.Simd.L <= all.length;
             i += io.gemmaserving.runtime.engine.tensor.Simd.L) {
            float[] lanes = VectorBackend.halves(all, i).toArray();
            for (int j = 0; j < lanes.length; j++) {
                float exact = Float.float16ToFloat(all[i + j]);
                if (Float.isFinite(exact)) {
                    assertEquals(Float.floatToRawIntBits(exact), Float.floatToRawIntBits(lanes[j]),
                            "half 0x" + Integer.toHexString(i + j));
                }
            }
        }
        Random rnd = new Random(8);
        for (int n : new int[] {1, 7, 16, 100, 256, 257}) {
            float[] a = TestData.randomVector(n + 5, rnd);
            float[] bf = TestData.randomVector(n + 3, rnd);
            short[] b = new short[bf.length];
            for (int i = 0; i < b.length; i++) {
                b[i] = Float.floatToFloat16(bf[i]);
            }
            double abs = 0;
            for (int i = 0; i < n; i++) {
                abs += Math.abs(a[2 + i] * Float.float16ToFloat(b[1 + i]));
            }
            assertEquals(scalar.dotF16(a, 2, b, 1, n), vector.dotF16(a, 2, b, 1, n), 2e-6 * abs, "dotF16 n=" + n);
            float alpha = rnd.nextFloat() - 0.5f;
            float[] y = TestData.randomVector(n + 6, rnd);
            float[] expected = y.clone();
            float[] actual = y.clone();
            scalar.axpyF16(alpha, b, 1, expected, 4, n);
            vector.axpyF16(alpha, b, 1, actual, 4, n);
            for (int i = 0; i < y.length; i++) {
                boolean inside = i >= 4 && i < 4 + n;
                double tol = inside ? 1e-6 * (Math.abs(y[i]) + Math.abs(alpha * Float.float16ToFloat(b[i - 3]))) : 0;
                assertEquals(expected[i], actual[i], tol, "axpyF16 n=" + n + " i=" + i);
            }
        }
    }

    /**
     * Blocked attention's kernels (scores, online softmax, weighted values, fp16 widening) against the scalar
     * reference, at query counts that are whole 4-vector blocks, single vectors and ragged lanes, key counts that are
     * and are not multiples of 4, and head sizes 256 and 7. Tolerances: 2e-6 of the sum of |terms| for the two products
     * (fma rounds once where the reference rounds twice; the order of the sum is the same); 4e-6 relative for the
     * softmax (the Vector API's float EXP against the reference's double exp, a few ulps); masked scores
     * ({@code -Float.MAX_VALUE}) give exactly 0.
     */
    @Test
    void blockedAttentionKernelsMatchScalar() {
        Random rnd = new Random(9);
        int[][] shapes = {{64, 64, 256}, {70, 5, 256}, {16, 1, 256}, {5, 4, 7}, {33, 67, 7}};
        for (int[] shape : shapes) {
            int nq = shape[0], nk = shape[1], n = shape[2];
            String at = " nq=" + nq + " nk=" + nk + " n=" + n;
            float[] qT = TestData.randomVector(n * nq, rnd);
            float[] k = TestData.randomVector(nk * n, rnd);
            float[] expected = new float[nk * nq];
            float[] actual = new float[nk * nq];
            scalar.attentionScores(qT, nq, k, nk, n, expected);
            vector.attentionScores(qT, nq, k, nk, n, actual);
            for (int j = 0; j < nk; j++) {
                for (int i = 0; i < nq; i++) {
                    double abs = 0;
                    for (int d = 0; d < n; d++) {
                        abs += Math.abs(k[j * n + d] * qT[d * nq + i]);
                    }
                    assertEquals(expected[j * nq + i], actual[j * nq + i], 2e-6 * abs, "scores" + at);
                }
            }

            // softmax: previous max -MAX (first tile) for even queries, a finite one for odd; every 7th score masked
            float[] max0 = new float[nq];
            float[] sum0 = new float[nq];
            for (int i = 0; i < nq; i++) {
                max0[i] = i % 2 == 0 ? -Float.MAX_VALUE : (float) rnd.nextGaussian();
                sum0[i] = i % 2 == 0 ? 0f : 1f + rnd.nextFloat();
            }
            for (int x = 0; x < expected.length; x += 7) {
                expected[x] = -Float.MAX_VALUE;
            }
            actual = expected.clone();
            float[] maxE = max0.clone(), maxA = max0.clone(), sumE = sum0.clone(), sumA = sum0.clone();
            float[] scaleE = new float[nq], scaleA = new float[nq];
            scalar.softmaxTile(expected, nq, nk, maxE, sumE, scaleE);
            vector.softmaxTile(actual, nq, nk, maxA, sumA, scaleA);
            for (int x = 0; x < expected.length; x++) {
                assertEquals(expected[x], actual[x], 4e-6 * Math.abs(expected[x]), "softmax p" + at + " at " + x);
                if (x % 7 == 0 && maxE[x % nq] > -Float.MAX_VALUE) {
                    assertEquals(0f, actual[x], "a masked score" + at + " at " + x);
                }
            }
            for (int i = 0; i < nq; i++) {
                assertEquals(maxE[i], maxA[i], 0f, "softmax max" + at);
                assertEquals(sumE[i], sumA[i], 4e-6 * sumE[i], "softmax sum" + at);
                assertEquals(scaleE[i], scaleA[i], 4e-6 * scaleE[i], "softmax scale" + at);
            }

            float[] v = TestData.randomVector(nk * n, rnd);
            float[] oT = TestData.randomVector(n * nq, rnd);
            float[] oE = oT.clone(), oA = oT.clone();
            scalar.attentionValues(expected, nq, v, nk, n, scaleE, oE);
            vector.attentionValues(expected, nq, v, nk, n, scaleE, oA);
            for (int d = 0; d < n; d++) {
                for (int i = 0; i < nq; i++) {
                    double abs = Math.abs(oT[d * nq + i] * scaleE[i]);
                    for (int j = 0; j < nk; j++) {
                        abs += Math.abs(expected[j * nq + i] * v[j * n + d]);
                    }
                    assertEquals(oE[d * nq + i], oA[d * nq + i], 2e-6 * abs, "values" + at);
                }
            }
        }
        short[] halves = new short[1000];
        for (int i = 0; i < halves.length; i++) {
            halves[i] = Float.floatToFloat16((float) rnd.nextGaussian() * 100);
        }
        for (int n : new int[] {1, 16, 255, 256}) {
            float[] expected = new float[n + 3];
            float[] actual = new float[n + 3];
            scalar.widenF16(halves, 5, expected, 2, n);
            vector.widenF16(halves, 5, actual, 2, n);
            assertEquals(java.util.Arrays.toString(expected), java.util.Arrays.toString(actual), "widenF16 n=" + n);
        }
    }

    /**
     * GeGLU: the vector kernel (float lanes, the Vector API's EXP) against the scalar reference (double), over the
     * range activations take (|x| up to 40, where the exponential over- or underflows) and at lengths that are and are
     * not whole vectors; elements outside the range untouched. Tolerance 4e-6 relative (a few float ulps).
     */
    @Test
    void gegluMatchesScalar() {
        Random rnd = new Random(11);
        for (int n : new int[] {1, 15, 16, 100, 2048, 2049}) {
            float[] gate = new float[n + 7];
            float[] up = new float[n + 7];
            for (int i = 0; i < gate.length; i++) {
                gate[i] = (float) (rnd.nextGaussian() * (i % 5 == 0 ? 12 : 2));
                up[i] = (float) rnd.nextGaussian();
            }
            gate[3] = 40f;
            gate[4] = -40f;
            gate[5] = 0f;
            float[] expected = gate.clone();
            float[] actual = gate.clone();
            scalar.geglu(expected, up, 3, n);
            vector.geglu(actual, up, 3, n);
            for (int i = 0; i < gate.length; i++) {
                double tol = 4e-6 * Math.abs(expected[i]) + 1e-30;
                assertEquals(expected[i], actual[i], tol, "geglu n=" + n + " i=" + i + " x=" + gate[i]);
                if (i < 3 || i >= 3 + n) {
                    assertEquals(gate[i], actual[i], 0, "geglu wrote outside its range, n=" + n + " i=" + i);
                }
            }
        }
    }

    @Test
    void rejectsWrongSizes() {
        WeightTensor w = TestData.randomTensor(TensorType.F32, 4, 8, new Random(1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> vector.matmul(w, new float[8], new float[8], 2));
        assertEquals("matmul F32.test [4 x 8] batch 2: x has 8 floats (needs 16), out has 8 (needs 8)", e.getMessage());
    }

    @Test
    void poolSurvivesAFailingChunk() {
        try (WorkerPool pool = new WorkerPool(2, 1000)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.run(8, c -> {
                if (c == 5) {
                    throw new IllegalStateException("chunk 5");
                }
            }));
            assertEquals("chunk 5", e.getMessage());
            int[] seen = new int[100];
            pool.run(100, c -> seen[c]++);
            for (int s : seen) {
                assertEquals(1, s);
            }
        }
    }

    /** Many short loops back to back: every chunk of every loop runs exactly once, none leaks into the next. */
    @Test
    void poolRunsEachChunkOnceAcrossManyLoops() {
        try (WorkerPool pool = new WorkerPool(2, 50_000)) {
            for (int loop = 0; loop < 3000; loop++) {
                int n = 1 + loop % 7;
                java.util.concurrent.atomic.AtomicIntegerArray seen = new java.util.concurrent.atomic.AtomicIntegerArray(n);
                pool.run(n, seen::incrementAndGet);
                for (int c = 0; c < n; c++) {
                    assertEquals(1, seen.get(c), "loop " + loop + " chunk " + c);
                }
            }
        }
    }

    /** The model's attention and row-wise work on the backend's threads: every index once; the scalar one runs here. */
    @Test
    void parallelForRunsEveryIndexOnce() {
        assertEquals(2, vector.parallelism());
        assertEquals(1, scalar.parallelism());
        for (Backend b : new Backend[] {vector, scalar}) {
            for (int n : new int[] {1, 4, 300}) {
                java.util.concurrent.atomic.AtomicIntegerArray seen = new java.util.concurrent.atomic.AtomicIntegerArray(n);
                b.parallelFor(n, seen::incrementAndGet);
                for (int i = 0; i < n; i++) {
                    assertEquals(1, seen.get(i), b.name() + " n " + n + " index " + i);
                }
            }
        }
    }

    @Test
    void selectHonoursTheName() {
        try (Backend b = Backends.select("auto", 2)) {
            assertInstanceOf(VectorBackend.class, b);
            assertEquals(2, ((VectorBackend) b).threads());
        }
        try (Backend b = Backends.select("vector", 3)) {
            assertEquals(3, b.parallelism());
        }
        try (Backend b = Backends.select("scalar", 2)) {
            assertEquals("scalar", b.name());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.select("tpu", 1));
        assertEquals("unknown CPU backend 'tpu' (auto, cpu, vector, scalar)", e.getMessage());
    }
}
