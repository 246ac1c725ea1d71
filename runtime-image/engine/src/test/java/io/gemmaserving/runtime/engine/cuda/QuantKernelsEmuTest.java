package io.gemmaserving.runtime.engine.cuda;

import io.gemmaserving.runtime.engine.backend.ScalarBackend;
import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Args;
import io.gemmaserving.runtime.engine.cuda.CudaEmulator.Dim;
import io.gemmaserving.runtime.engine.tensor.TensorType;
import io.gemmaserving.runtime.engine.tensor.TestData;
import io.gemmaserving.runtime.engine.tensor.Tensors;
import io.gemmaserving.runtime.engine.tensor.WeightTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.bytes;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.floats;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.ints;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.nans;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.tensor;
import static io.gemmaserving.runtime.engine.cuda.CudaEmulator.toFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * quant.cu on the CUDA emulation against the engine's Java reference, for every weight format the CUDA engine
 * uploads (random but valid blocks from {@link TestData}): {@code embed} and {@code dequant_bf16} against
 * {@link WeightTensor#dequantizeRow}, {@code matvec} and {@code matvec_bf16} against {@link ScalarBackend#matmul};
 * launched through the product's {@link Kernels}, so with its grid and block shapes and argument lists.
 */
@Tag("unit")
class QuantKernelsEmuTest {

    static final List<String> KERNELS = List.of("matvec", "matvec_bf16", "dequant_bf16", "embed");
    static final double U = 0x1p-24; // float32 unit roundoff

    private CudaEmulator emu;

    @BeforeEach
    void emulator() {
        emu = CudaEmulator.get();
        assumeTrue(emu != null, "CUDA emulation unavailable: " + CudaEmulator.unavailable());
    }

    static Stream<TensorType> types() {
        return DeviceMemoryPlan.SUPPORTED.stream();
    }

    /**
     * With scale 1 the rows come out exactly as {@link WeightTensor#dequantizeRow} writes them: both evaluate the
     * same products in the same order in float (g++ contracts nothing into FMA here; on the device NVRTC may,
     * which moves a Q4_K value by at most one rounding). With another scale, one more float multiplication on
     * both sides, so still exact. An id outside the vocabulary gives a NaN row.
     */
    @ParameterizedTest
    @MethodSource("types")
    void embedIsTheDequantizedRowTimesTheScale(TensorType type) {
        Random rnd = new Random(1 + type.ordinal());
        int vocab = 11, cols = TestData.cols(type);
        byte[] table = TestData.randomBytes(type, vocab, cols, rnd);
        WeightTensor w = Tensors.of("embd", type, vocab, cols, TestData.segment(table));
        int[] tokens = {3, 0, 10, 3, -1, vocab};
        for (float scale : new float[] {1f, (float) Math.sqrt(640)}) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = nans(a, tokens.length * cols);
                emu.kernels().embed(null, tensor(a, table, type, vocab, cols), ints(a, tokens).address(),
                        tokens.length, scale, out.address());
                float[] got = toFloats(out, tokens.length * cols);
                float[] row = new float[cols];
                for (int t = 0; t < tokens.length; t++) {
                    if (tokens[t] < 0 || tokens[t] >= vocab) {
                        for (int c = 0; c < cols; c++) {
                            assertTrue(Float.isNaN(got[t * cols + c]), "id " + tokens[t] + " must give NaN");
                        }
                        continue;
                    }
                    w.dequantizeRow(tokens[t], row, 0);
                    for (int c = 0; c < cols; c++) {
                        assertEquals(row[c] * scale, got[t * cols + c], 0f,
                                type + " token " + tokens[t] + " col " + c + " scale " + scale);
                    }
                }
            }
        }
    }

    /**
     * Rows row0 .. row0 + rows of the dequantized weight, rounded to bf16 (nearest, ties to even): exact, since the
     * dequantized values are exact (see above) and {@link ElementwiseKernelsEmuTest#bf16Bits} rounds independently.
     */
    @ParameterizedTest
    @MethodSource("types")
    void dequantBf16IsTheRoundedDequantizedRows(TensorType type) {
        Random rnd = new Random(2 + type.ordinal());
        int total = 9, row0 = 2, rows = 5, cols = TestData.cols(type);
        byte[] bytes = TestData.randomBytes(type, total, cols, rnd);
        WeightTensor w = Tensors.of("w", type, total, cols,
                TestData.segment(bytes));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(2L * rows * cols, 256);
            out.fill((byte) 0xff);
            emu.kernels().dequantBf16(null, tensor(a, bytes, type, total, cols), row0, rows, out.address());
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                w.dequantizeRow(row0 + r, row, 0);
                for (int c = 0; c < cols; c++) {
                    short got = out.get(ValueLayout.JAVA_SHORT, 2L * (r * cols + c));
                    assertEquals(ElementwiseKernelsEmuTest.bf16Bits(row[c]), got & 0xffff,
                            type + " row " + (row0 + r) + " col " + c + " (" + row[c] + ")");
                }
            }
        }
    }

    /**
     * {@code out[b][r] = W[r] . x[b]} against the scalar backend, for batches below, at and above the kernel's
     * chunk of 8 (grid.y > 1) and a row count that leaves the last block's warps partly idle. Both sides sum the
     * same exact products in float in different orders: the scalar reference one after another (at most
     * {@code cols} roundings), the kernel per lane ({@code cols / 32}) then a 5-level shuffle tree; so the results
     * differ by at most {@code (cols + cols / 32 + 8) u sum |w_i x_i|}, u = 2^-24. A wrong layout or a lost term
     * moves a result by a fraction of {@code sum |w_i x_i|} itself, far beyond that.
     */
    @ParameterizedTest
    @MethodSource("types")
    void matvecMatchesTheScalarBackend(TensorType type) {
        Random rnd = new Random(3 + type.ordinal());
        int rows = 13, cols = TestData.cols(type);
        byte[] bytes = TestData.randomBytes(type, rows, cols, rnd);
        WeightTensor w = Tensors.of("w", type, rows, cols,
                TestData.segment(bytes));
        for (int batch : new int[] {1, 3, 8, 11}) {
            float[] x = TestData.randomVector(batch * cols, rnd);
            float[] want = new float[batch * rows];
            new ScalarBackend().matmul(w, x, want, batch);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = nans(a, batch * rows);
                emu.kernels().matvec(null, tensor(a, bytes, type, rows, cols), floats(a, x).address(),
                        out.address(), batch);
                float[] got = toFloats(out, batch * rows);
                for (int b = 0; b < batch; b++) {
                    for (int r = 0; r < rows; r++) {
                        double tol = (cols + cols / 32.0 + 8) * U * TestData.absDot(w, r, x, b * cols);
                        assertEquals(want[b * rows + r], got[b * rows + r], tol,
                                type + " batch " + batch + " b " + b + " row " + r);
                    }
                }
            }
        }
    }

    /**
     * The BF16 matvec with 16-byte loads: the same bound as {@link #matvecMatchesTheScalarBackend}, the kernel's
     * lane sums here of 8-product groups ({@code cols / 32} roundings and 8 per group). Column counts: a whole
     * number of 32-lane sweeps, and one that leaves lanes idle on the last.
     */
    @Test
    void matvecBf16MatchesTheScalarBackend() {
        Random rnd = new Random(4);
        int rows = 9;
        for (int cols : new int[] {512, 296}) {
            byte[] bytes = TestData.randomBytes(TensorType.BF16, rows, cols, rnd);
            WeightTensor w = Tensors.of("w", TensorType.BF16, rows, cols, TestData.segment(bytes));
            for (int batch : new int[] {1, 8, 9}) {
                float[] x = TestData.randomVector(batch * cols, rnd);
                float[] want = new float[batch * rows];
                new ScalarBackend().matmul(w, x, want, batch);
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment out = nans(a, batch * rows);
                    emu.kernels().matvecBf16(null, tensor(a, bytes, TensorType.BF16, rows, cols),
                            floats(a, x).address(), out.address(), batch);
                    float[] got = toFloats(out, batch * rows);
                    for (int b = 0; b < batch; b++) {
                        for (int r = 0; r < rows; r++) {
                            double tol = (cols + cols / 32.0 + 16) * U * TestData.absDot(w, r, x, b * cols);
                            assertEquals(want[b * rows + r], got[b * rows + r], tol,
                                    "cols " + cols + " batch " + batch + " b " + b + " row " + r);
                        }
                    }
                }
            }
        }
    }

    /** f16_to_f32 on every one of the 65536 halves, against the JDK's conversion (NaNs: any NaN). */
    @Test
    void everyHalfConvertsExactly() {
        int cols = 1 << 16;
        byte[] table = new byte[2 * cols];
        for (int h = 0; h < cols; h++) {
            table[2 * h] = (byte) h;
            table[2 * h + 1] = (byte) (h >>> 8);
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = nans(a, cols);
            emu.launch("embed", Dim.of(1), Dim.of(256), new Args().ptr(bytes(a, table)).i32(TensorType.F16.ggmlId)
                    .i64(2L * cols).i32(1).i32(cols).ptr(ints(a, 0)).f32(1f).ptr(out));
            float[] got = toFloats(out, cols);
            for (int h = 0; h < cols; h++) {
                float want = Float.float16ToFloat((short) h);
                if (Float.isNaN(want)) {
                    assertTrue(Float.isNaN(got[h]), "half " + Integer.toHexString(h) + " is a NaN");
                } else {
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[h]),
                            "half " + Integer.toHexString(h));
                }
            }
        }
    }

    @Test
    void anUnknownTypeIdGivesNaNRatherThanNumbers() {
        int cols = 32;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(4L * cols, 256);
            emu.launch("embed", Dim.of(1), Dim.of(32), new Args().ptr(bytes(a, new byte[64]))
                    .i32(99).i64(64).i32(1).i32(cols).ptr(ints(a, 0)).f32(1f).ptr(out));
            for (float v : toFloats(out, cols)) {
                assertTrue(Float.isNaN(v), "99 is no GGML type id");
            }
        }
    }
}
